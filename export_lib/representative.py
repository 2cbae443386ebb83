"""Representative images for int8 calibration, read from OD-API TFRecords.

Full-integer quantisation needs real activation ranges, so the exporter feeds
the converter a sample of training images. Records are read round-robin across
all files, so a calibration set drawn from several datasets (say egocentric and
webcam records) covers each of them instead of only the first file's images.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from common.errors import UserError


def images_from_tfrecords(files: Sequence[str], limit: int = 100) -> Iterator[np.ndarray]:
    """Yield up to `limit` RGB uint8 [H, W, 3] images decoded from `image/encoded`."""
    import tensorflow as tf

    feature = {"image/encoded": tf.io.FixedLenFeature([], tf.string)}
    records = tf.data.Dataset.from_tensor_slices(list(files)).interleave(
        tf.data.TFRecordDataset, cycle_length=max(1, len(files)), block_length=1)
    count = 0
    for record in records.take(limit):
        try:
            ex = tf.io.parse_single_example(record, feature)
            img = tf.io.decode_image(ex["image/encoded"], channels=3, expand_animations=False)
        except tf.errors.OpError as exc:
            raise UserError(f"--representative-data: bad record in {list(files)[:3]} "
                            f"(needs a JPEG/PNG in 'image/encoded'): {exc.message}") from None
        yield img.numpy()
        count += 1
    if count == 0:
        raise UserError(f"--representative-data: {list(files)[:3]} hold no records")
