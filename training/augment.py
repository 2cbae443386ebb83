"""Training-time augmentation with the Object Detection API's semantics.

Images are uint8 [H,W,3]; boxes are normalised (ymin, xmin, ymax, xmax).
Each op returns (image, boxes, classes, ignore) so boxes that a crop removes
drop out of every per-box tensor together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import tensorflow as tf
from official.vision.utils.object_detection import preprocessor


@dataclass(frozen=True)
class SsdCropOperation:
    min_object_covered: float
    min_aspect_ratio: float = 0.5
    max_aspect_ratio: float = 2.0
    min_area: float = 0.1
    max_area: float = 1.0
    overlap_thresh: float = 0.0
    clip_boxes: bool = True
    random_coef: float = 0.15


# The OD API's default ssd_random_crop operations (used when the config lists none).
DEFAULT_SSD_CROPS = (
    SsdCropOperation(0.0, overlap_thresh=0.0, random_coef=0.15),
    SsdCropOperation(0.1, overlap_thresh=0.1, random_coef=0.15),
    SsdCropOperation(0.3, overlap_thresh=0.3, random_coef=0.15),
    SsdCropOperation(0.5, overlap_thresh=0.5, random_coef=0.15),
    SsdCropOperation(0.7, overlap_thresh=0.7, random_coef=0.15),
    SsdCropOperation(0.9, overlap_thresh=0.9, random_coef=0.15),
    SsdCropOperation(1.0, overlap_thresh=1.0, random_coef=0.15),
)

Op = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tuple]


def random_horizontal_flip(image, boxes, classes, ignore):
    image, boxes = preprocessor.random_horizontal_flip(image, boxes)
    return image, boxes, classes, ignore


def _crop_once(image, boxes, classes, ignore, op: SsdCropOperation):
    shape = tf.shape(image)
    begin, size, window = tf.image.sample_distorted_bounding_box(
        shape, bounding_boxes=tf.reshape(boxes, [1, -1, 4]),
        min_object_covered=op.min_object_covered,
        aspect_ratio_range=(op.min_aspect_ratio, op.max_aspect_ratio),
        area_range=(op.min_area, op.max_area), max_attempts=100,
        use_image_if_no_bounding_boxes=True)
    window = tf.reshape(window, [4])
    cropped = tf.slice(image, begin, size)
    wy0, wx0, wy1, wx1 = tf.unstack(window)
    # Keep boxes whose overlap with the window (as a fraction of the box) passes the threshold.
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
    inter = (tf.maximum(0.0, tf.minimum(ymax, wy1) - tf.maximum(ymin, wy0)) *
             tf.maximum(0.0, tf.minimum(xmax, wx1) - tf.maximum(xmin, wx0)))
    area = tf.maximum((ymax - ymin) * (xmax - xmin), 1e-8)
    keep = tf.logical_and(inter / area >= op.overlap_thresh, inter > 0)
    h, w = wy1 - wy0, wx1 - wx0
    new = tf.stack([(ymin - wy0) / h, (xmin - wx0) / w, (ymax - wy0) / h, (xmax - wx0) / w], axis=1)
    if op.clip_boxes:
        new = tf.clip_by_value(new, 0.0, 1.0)
    return (cropped, tf.boolean_mask(new, keep), tf.boolean_mask(classes, keep),
            tf.boolean_mask(ignore, keep))


def make_ssd_random_crop(operations=DEFAULT_SSD_CROPS) -> Op:
    """Pick one crop operation uniformly; each skips itself with its `random_coef`."""
    operations = tuple(operations) or DEFAULT_SSD_CROPS

    def ssd_random_crop(image, boxes, classes, ignore):
        index = tf.random.uniform([], 0, len(operations), dtype=tf.int32)
        branches = []
        for op in operations:
            def branch(op=op):
                skip = tf.random.uniform([]) < op.random_coef
                return tf.cond(skip, lambda: (image, boxes, classes, ignore),
                               lambda: _crop_once(image, boxes, classes, ignore, op))
            branches.append(branch)
        image2, boxes2, classes2, ignore2 = tf.switch_case(index, branches)
        image2.set_shape([None, None, 3])
        return image2, tf.reshape(boxes2, [-1, 4]), classes2, ignore2

    return ssd_random_crop


def _photometric(fn) -> Op:
    def op(image, boxes, classes, ignore):
        out = fn(tf.cast(image, tf.float32) / 255.0)
        return tf.cast(tf.clip_by_value(out, 0.0, 1.0) * 255.0 + 0.5, tf.uint8), boxes, classes, ignore
    return op


def random_adjust_brightness(max_delta: float = 0.2) -> Op:
    return _photometric(lambda x: tf.image.random_brightness(x, max_delta))


def random_adjust_contrast(min_delta: float = 0.8, max_delta: float = 1.25) -> Op:
    return _photometric(lambda x: tf.image.random_contrast(x, min_delta, max_delta))


def random_adjust_saturation(min_delta: float = 0.8, max_delta: float = 1.25) -> Op:
    return _photometric(lambda x: tf.image.random_saturation(x, min_delta, max_delta))


def random_adjust_hue(max_delta: float = 0.02) -> Op:
    return _photometric(lambda x: tf.image.random_hue(x, max_delta))


def compose(ops: list[Op]) -> Op:
    def apply(image, boxes, classes, ignore):
        for op in ops:
            image, boxes, classes, ignore = op(image, boxes, classes, ignore)
        return image, boxes, classes, ignore
    return apply


def augmentation_from_proto(steps) -> Op | None:
    """train_config.data_augmentation_options -> one composed op (None when empty)."""
    from common.errors import UserError

    ops: list[Op] = []
    for step in steps:
        kind = step.WhichOneof("preprocessing_step")
        p = getattr(step, kind) if kind else None
        if kind == "random_horizontal_flip":
            ops.append(random_horizontal_flip)
        elif kind == "ssd_random_crop":
            ops.append(make_ssd_random_crop([
                SsdCropOperation(o.min_object_covered, o.min_aspect_ratio, o.max_aspect_ratio,
                                 o.min_area, o.max_area, o.overlap_thresh, True, o.random_coef)
                for o in p.operations]))
        elif kind == "random_adjust_brightness":
            ops.append(random_adjust_brightness(p.max_delta))
        elif kind == "random_adjust_contrast":
            ops.append(random_adjust_contrast(p.min_delta, p.max_delta))
        elif kind == "random_adjust_saturation":
            ops.append(random_adjust_saturation(p.min_delta, p.max_delta))
        elif kind == "random_adjust_hue":
            ops.append(random_adjust_hue(p.max_delta))
        else:
            raise UserError(f"train_config.data_augmentation_options: {kind} is not supported "
                            "(supported: random_horizontal_flip, ssd_random_crop, "
                            "random_adjust_brightness/contrast/saturation/hue)")
    return compose(ops) if ops else None
