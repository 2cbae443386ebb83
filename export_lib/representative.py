"""Representative images for int8 calibration, read from OD-API TFRecords.

Full-integer quantisation needs real activation ranges, so the exporter feeds
the converter a sample of training images. The sample is drawn uniformly from
ALL records of ALL files (reservoir sampling, deterministic for a seed): records
are often written sorted by file name, so the first records of each file are a
few consecutive frames of one video, whose ranges say little about the rest of
the set (issue 8, defect 3).
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence, TypeVar

import numpy as np

from common.errors import UserError

T = TypeVar("T")


def reservoir_sample(items: Iterable[T], k: int, seed: int = 0) -> list[tuple[int, T]]:
    """A uniform sample of `k` items (all of them if fewer) from a stream read once.

    Returns (position, item) pairs in a seeded random order, so any prefix of the
    result (the exporter compares formats on the first few) is itself uniform.
    One pass and O(k) memory: a calibration set of 100 needs no second read of
    gigabytes of records, and no count of them up front.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, T]] = []
    for position, item in enumerate(items):
        if position < k:
            chosen.append((position, item))
        else:
            slot = int(rng.integers(0, position + 1))
            if slot < k:
                chosen[slot] = (position, item)
    return [chosen[i] for i in rng.permutation(len(chosen))]


def images_from_tfrecords(files: Sequence[str], limit: int = 100,
                          seed: int = 0) -> Iterator[np.ndarray]:
    """Yield up to `limit` RGB uint8 [H, W, 3] images decoded from `image/encoded`,
    sampled uniformly from every record of every file (same seed, same images)."""
    import tensorflow as tf

    from training.inputs import ExampleDecoder

    shown = list(files)[:3]
    try:
        records = reservoir_sample(
            (r.numpy() for r in tf.data.TFRecordDataset(list(files))), limit, seed)
    except tf.errors.OpError as exc:
        raise UserError(f"--representative-data: cannot read {shown}: {exc.message}") from None
    if not records:
        raise UserError(f"--representative-data: {shown} hold no records")
    for _, record in records:
        try:
            img = ExampleDecoder.image(record)
        except tf.errors.OpError as exc:
            raise UserError(f"--representative-data: bad record in {shown} "
                            f"(needs a JPEG/PNG in 'image/encoded'): {exc.message}") from None
        yield img.numpy()
