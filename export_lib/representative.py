"""Representative images for int8 calibration, read from OD-API TFRecords.

Full-integer quantisation needs real activation ranges, so the exporter feeds
the converter a sample of training/eval images. They live in TFRecords of
`tf.train.Example`s with the JPEG under `image/encoded` (the Object Detection
API layout); only that feature is parsed, everything else is ignored.
"""
from __future__ import annotations

import glob as _glob
from typing import Iterator

import numpy as np

from common.errors import UserError


def tfrecord_files(pattern: str) -> list[str]:
    """Sorted files matching a glob (comma-separated globs allowed); UserError if none."""
    files: list[str] = []
    for part in pattern.split(","):
        files.extend(sorted(_glob.glob(part.strip())))
    if not files:
        raise UserError(f"--representative-data: no files match {pattern!r}")
    return files


def images_from_tfrecords(pattern: str, limit: int = 100) -> Iterator[np.ndarray]:
    """Yield up to `limit` RGB uint8 [H, W, 3] images decoded from `image/encoded`."""
    import tensorflow as tf

    files = tfrecord_files(pattern)
    feature = {"image/encoded": tf.io.FixedLenFeature([], tf.string)}
    count = 0
    for record in tf.data.TFRecordDataset(files):
        if count >= limit:
            return
        try:
            ex = tf.io.parse_single_example(record, feature)
            img = tf.io.decode_image(ex["image/encoded"], channels=3, expand_animations=False)
        except tf.errors.OpError as exc:
            raise UserError(f"--representative-data: bad record in {pattern!r} "
                            f"(needs a JPEG/PNG in 'image/encoded'): {exc.message}") from None
        yield img.numpy()
        count += 1
    if count == 0:
        raise UserError(f"--representative-data: {pattern!r} holds no records")
