"""`pad_narrower_images`: read a picture narrower than the model input with black side bars.

A 4:3 model (400x300) stretches a square close-up 1.33x across when it resizes it, and
every model trained that way lost close-up AP (experiments/bq_nop_soup_at_4x3). Padding
the picture to 4:3 first keeps the hand's shape. Wider pictures are left to the resize:
padding a 16:9 frame top and bottom would shrink its hands.

One geometry for every place that feeds the model: training (training/inputs.py),
checkpoint evaluation (evaluation/model_eval.py), the exported graphs (ssd/model.py) and
the Detector's own resize for TFLite and ONNX (detect/detector.py). Each pads the same
columns, and each maps the boxes back to the unpadded picture. The arithmetic works on
Python ints and numpy arrays as on TF tensors. TensorFlow is not imported here: the
Detector's TFLite path runs without it, and a TF tensor can only come from a caller that
has imported it already.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np


def _is_tf(*values: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and any(isinstance(v, tf.Tensor) for v in values)


def padded_width(height: Any, width: Any, input_size: tuple[int, int]) -> Any:
    """The width after padding: `width`, or height x the input's width:height when the
    picture is narrower than that. Int in, int out (Python, numpy or TF)."""
    in_h, in_w = input_size
    if _is_tf(height, width):
        import tensorflow as tf

        height, width = tf.cast(height, tf.int32), tf.cast(width, tf.int32)
        wanted = tf.cast(tf.round(tf.cast(height * in_w, tf.float32) / in_h), tf.int32)
        return tf.maximum(width, wanted)
    return max(int(width), int(round(int(height) * in_w / in_h)))


def left_bar(width: Any, total: Any) -> Any:
    """Width of the left bar: half the padding, the narrower half when it is odd."""
    return (total - width) // 2


def pad_columns(image: Any, input_size: tuple[int, int]) -> tuple[Any, Any, Any]:
    """[..., H, W, C] -> (padded image, left bar width, padded width): black bars on both
    sides. A TF tensor gives tensors; a numpy image gives a numpy image and ints."""
    if not _is_tf(image):
        height, width = image.shape[-3], image.shape[-2]
        total = padded_width(height, width, input_size)
        left = left_bar(width, total)
        if total == width:
            return image, 0, width
        paddings = [(0, 0)] * (image.ndim - 3) + [(0, 0), (left, total - width - left), (0, 0)]
        return np.pad(image, paddings), left, total
    import tensorflow as tf

    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    total = padded_width(height, width, input_size)
    left = left_bar(width, total)
    paddings = [[0, 0]] * (len(image.shape) - 3) + [[0, 0], [left, total - width - left], [0, 0]]
    return tf.pad(image, paddings), left, total


def boxes_into_padded(boxes: Any, width: Any, left: Any, total: Any) -> Any:
    """Normalised (ymin, xmin, ymax, xmax) boxes of the picture -> of the padded picture.
    TF tensors stay tensors (training); numpy arrays stay arrays (anchor coverage)."""
    if _is_tf(boxes):
        import tensorflow as tf

        width, left, total = (tf.cast(v, boxes.dtype) for v in (width, left, total))
        y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
        return tf.stack([y0, (x0 * width + left) / total, y1, (x1 * width + left) / total], axis=-1)
    boxes = np.array(boxes, copy=True)
    boxes[..., [1, 3]] = (boxes[..., [1, 3]] * width + left) / total
    return boxes


def boxes_out_of_padded(boxes: Any, width: Any, left: Any, total: Any) -> Any:
    """The inverse of boxes_into_padded, clipped to the picture (a box on a bar shrinks to
    the picture's edge). TF tensors stay tensors; numpy arrays stay arrays."""
    if _is_tf(boxes):
        import tensorflow as tf

        width, left, total = (tf.cast(v, boxes.dtype) for v in (width, left, total))
        y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
        x0 = tf.clip_by_value((x0 * total - left) / width, 0.0, 1.0)
        x1 = tf.clip_by_value((x1 * total - left) / width, 0.0, 1.0)
        return tf.stack([y0, x0, y1, x1], axis=-1)
    boxes = np.array(boxes, np.float32, copy=True)
    boxes[..., [1, 3]] = np.clip((boxes[..., [1, 3]] * total - left) / width, 0.0, 1.0)
    return boxes
