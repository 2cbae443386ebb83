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


def random_distort_color(color_ordering: int = 0) -> Op:
    """The OD API's random_distort_color: brightness 32/255, saturation and contrast
    0.5-1.5, hue 0.2, in one of two fixed orders."""
    def distort(x):
        if color_ordering == 0:
            x = tf.image.random_brightness(x, 32.0 / 255.0)
            x = tf.image.random_saturation(x, 0.5, 1.5)
            x = tf.image.random_hue(x, 0.2)
            return tf.image.random_contrast(x, 0.5, 1.5)
        x = tf.image.random_brightness(x, 32.0 / 255.0)
        x = tf.image.random_contrast(x, 0.5, 1.5)
        x = tf.image.random_saturation(x, 0.5, 1.5)
        return tf.image.random_hue(x, 0.2)
    return _photometric(distort)


def random_rgb_to_gray(probability: float = 0.1) -> Op:
    """Grey (still 3 channels) with `probability`: hands are found by shape, not tint."""
    def op(image, boxes, classes, ignore):
        gray = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
        image = tf.cond(tf.random.uniform([]) < probability, lambda: gray, lambda: image)
        return image, boxes, classes, ignore
    return op


def random_jitter_boxes(ratio: float = 0.05) -> Op:
    """Move each box corner by up to `ratio` of the box's height/width (OD API
    'default' mode), clipped to the image: tolerance to loose annotations."""
    def op(image, boxes, classes, ignore):
        ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
        hw = tf.stack([ymax - ymin, xmax - xmin, ymax - ymin, xmax - xmin], axis=1)
        noise = tf.random.uniform(tf.shape(boxes), -ratio, ratio)
        jittered = tf.clip_by_value(boxes + hw * noise, 0.0, 1.0)
        y0, x0, y1, x1 = tf.unstack(jittered, axis=1)
        fixed = tf.stack([tf.minimum(y0, y1), tf.minimum(x0, x1),
                          tf.maximum(y0, y1), tf.maximum(x0, x1)], axis=1)
        return image, fixed, classes, ignore
    return op


def random_black_patches(max_black_patches: int = 10, probability: float = 0.5,
                         size_to_image_ratio: float = 0.1) -> Op:
    """Up to `max_black_patches` black squares of side ratio*min(H, W), each with
    `probability`, anywhere (boxes unchanged): robustness to occlusion."""
    def op(image, boxes, classes, ignore):
        shape = tf.shape(image)
        h, w = shape[0], shape[1]
        side = tf.maximum(1, tf.cast(size_to_image_ratio * tf.cast(tf.minimum(h, w), tf.float32),
                                     tf.int32))
        keep = tf.ones([h, w], tf.bool)
        ys, xs = tf.range(h)[:, None], tf.range(w)[None, :]
        for _ in range(max_black_patches):
            y0 = tf.random.uniform([], 0, tf.maximum(1, h - side + 1), dtype=tf.int32)
            x0 = tf.random.uniform([], 0, tf.maximum(1, w - side + 1), dtype=tf.int32)
            inside = ((ys >= y0) & (ys < y0 + side)) & ((xs >= x0) & (xs < x0 + side))
            apply = tf.random.uniform([]) < probability
            keep = keep & ~(inside & apply)
        image = image * tf.cast(keep, image.dtype)[:, :, None]
        return image, boxes, classes, ignore
    return op


def _pad_to(image, boxes, target_h, target_w, pad_color):
    """Place `image` at a random offset in a target_h x target_w canvas of `pad_color`.

    Padded per channel in uint8 (no float copy of a canvas up to 9x the image).
    """
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    off_y = tf.random.uniform([], 0, target_h - h + 1, dtype=tf.int32)
    off_x = tf.random.uniform([], 0, target_w - w + 1, dtype=tf.int32)
    color = tf.cast(tf.clip_by_value(tf.round(tf.cast(pad_color, tf.float32)), 0.0, 255.0), tf.uint8)
    paddings = [[off_y, target_h - h - off_y], [off_x, target_w - w - off_x]]
    image = tf.stack([tf.pad(image[:, :, c], paddings, constant_values=color[c])
                      for c in range(3)], axis=2)
    size = tf.cast(tf.stack([target_h, target_w, target_h, target_w]), tf.float32)
    scale = tf.cast(tf.stack([h, w, h, w]), tf.float32) / size
    offset = tf.cast(tf.stack([off_y, off_x, off_y, off_x]), tf.float32) / size
    return image, boxes * scale + offset


def _random_size(low, high):
    return tf.cond(high > low, lambda: tf.random.uniform([], low, high + 1, dtype=tf.int32),
                   lambda: high)


def _pad_randomly(image, boxes, min_size, max_size, pad_color):
    """The OD API's random_pad_image: a canvas between min_size and max_size
    (never smaller than the image), `pad_color` or else the image's mean colour."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    min_h, min_w = tf.maximum(min_size[0], h), tf.maximum(min_size[1], w)
    max_h, max_w = tf.maximum(max_size[0], h), tf.maximum(max_size[1], w)
    if pad_color is None:
        pad_color = tf.reduce_mean(tf.cast(image, tf.float32), axis=[0, 1])
    return _pad_to(image, boxes, _random_size(min_h, max_h), _random_size(min_w, max_w), pad_color)


def make_random_pad_image(min_image_size=None, max_image_size=None, pad_color=None) -> Op:
    """Zoom out: the image shrinks inside a larger canvas (default up to 2x), so
    hands become small and far, as they are for a webcam across the room."""
    def op(image, boxes, classes, ignore):
        shape = tf.shape(image)
        size = tf.stack([shape[0], shape[1]])
        low = size if min_image_size is None else tf.constant(min_image_size, tf.int32)
        high = 2 * size if max_image_size is None else tf.constant(max_image_size, tf.int32)
        image, boxes = _pad_randomly(image, boxes, low, high, pad_color)
        return image, boxes, classes, ignore
    return op


@dataclass(frozen=True)
class SsdCropPadOperation:
    crop: SsdCropOperation
    min_padded_size_ratio: tuple[float, float] = (1.0, 1.0)
    max_padded_size_ratio: tuple[float, float] = (2.0, 2.0)
    pad_color: tuple[float, float, float] | None = None


# The OD API's default ssd_random_crop_pad operations.
DEFAULT_SSD_CROP_PADS = tuple(
    SsdCropPadOperation(SsdCropOperation(c, overlap_thresh=c, random_coef=0.15))
    for c in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0))


def make_ssd_random_crop_pad(operations=DEFAULT_SSD_CROP_PADS) -> Op:
    """The OD API's ssd_random_crop_pad: one operation picked uniformly; its crop
    (skipped with `random_coef`) is then padded to a canvas between min and max
    padded-size ratio times the ORIGINAL image size, so the result zooms out as
    often as in."""
    operations = tuple(operations) or DEFAULT_SSD_CROP_PADS

    def ssd_random_crop_pad(image, boxes, classes, ignore):
        shape = tf.shape(image)
        size = tf.cast(tf.stack([shape[0], shape[1]]), tf.float32)
        index = tf.random.uniform([], 0, len(operations), dtype=tf.int32)
        branches = []
        for op in operations:
            def branch(op=op):
                skip = tf.random.uniform([]) < op.crop.random_coef
                img, bxs, cls, ign = tf.cond(
                    skip, lambda: (image, boxes, classes, ignore),
                    lambda: _crop_once(image, boxes, classes, ignore, op.crop))
                low = tf.cast(size * tf.constant(op.min_padded_size_ratio), tf.int32)
                high = tf.cast(size * tf.constant(op.max_padded_size_ratio), tf.int32)
                img, bxs = _pad_randomly(img, tf.reshape(bxs, [-1, 4]), low, high, op.pad_color)
                return img, bxs, cls, ign
            branches.append(branch)
        image2, boxes2, classes2, ignore2 = tf.switch_case(index, branches)
        image2.set_shape([None, None, 3])
        return image2, tf.reshape(boxes2, [-1, 4]), classes2, ignore2

    return ssd_random_crop_pad


def compose(ops: list[Op]) -> Op:
    def apply(image, boxes, classes, ignore):
        for op in ops:
            image, boxes, classes, ignore = op(image, boxes, classes, ignore)
        return image, boxes, classes, ignore
    return apply


SUPPORTED = ("random_horizontal_flip", "ssd_random_crop", "ssd_random_crop_pad",
             "random_pad_image", "random_adjust_brightness", "random_adjust_contrast",
             "random_adjust_saturation", "random_adjust_hue", "random_distort_color",
             "random_rgb_to_gray", "random_jitter_boxes", "random_black_patches")


def _pair(p, height_field: str, width_field: str):
    """(h, w) in pixels when both fields are set, else None (the op's default)."""
    if p.HasField(height_field) and p.HasField(width_field):
        return (int(getattr(p, height_field)), int(getattr(p, width_field)))
    return None


def _color(values: list[float], field: str):
    from common.errors import UserError

    if not values:
        return None
    if len(values) != 3:
        raise UserError(f"train_config.data_augmentation_options.{field}: needs 3 values (RGB)")
    return tuple(values)


def _crop_pad_operation(o) -> SsdCropPadOperation:
    from common.errors import UserError

    for name in ("min_padded_size_ratio", "max_padded_size_ratio"):
        if len(getattr(o, name)) not in (0, 2):
            raise UserError(f"train_config.data_augmentation_options.ssd_random_crop_pad."
                            f"operations.{name}: needs 2 values (height, width ratio)")
    colors = [o.HasField(f) for f in ("pad_color_r", "pad_color_g", "pad_color_b")]
    return SsdCropPadOperation(
        SsdCropOperation(o.min_object_covered, o.min_aspect_ratio, o.max_aspect_ratio,
                         o.min_area, o.max_area, o.overlap_thresh, True, o.random_coef),
        tuple(o.min_padded_size_ratio) or (1.0, 1.0),
        tuple(o.max_padded_size_ratio) or (2.0, 2.0),
        (o.pad_color_r, o.pad_color_g, o.pad_color_b) if all(colors) else None)


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
        elif kind == "random_distort_color":
            ops.append(random_distort_color(p.color_ordering))
        elif kind == "random_rgb_to_gray":
            ops.append(random_rgb_to_gray(p.probability))
        elif kind == "random_jitter_boxes":
            ops.append(random_jitter_boxes(p.ratio))
        elif kind == "random_black_patches":
            ops.append(random_black_patches(p.max_black_patches, p.probability,
                                            p.size_to_image_ratio))
        elif kind == "random_pad_image":
            ops.append(make_random_pad_image(
                _pair(p, "min_image_height", "min_image_width"),
                _pair(p, "max_image_height", "max_image_width"),
                _color(list(p.pad_color), f"{kind}.pad_color")))
        elif kind == "ssd_random_crop_pad":
            ops.append(make_ssd_random_crop_pad([_crop_pad_operation(o) for o in p.operations]))
        else:
            raise UserError(f"train_config.data_augmentation_options: {kind} is not supported "
                            f"(supported: {', '.join(SUPPORTED)})")
    return compose(ops) if ops else None
