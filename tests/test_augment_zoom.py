"""The augmentations added for generalisation (issue 9): zoom-out pads, crop+pad,
grey, colour distortion, box jitter and black patches keep boxes on their pixels.

Built on tests/test_augment.py's painted rectangles: a pad that misplaces the
image in its canvas or rescales boxes wrongly moves a box off its pixels.
"""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.test_augment import H, RECTS, W, assert_boxes_follow_pixels, painted_example, run
from training import augment
from training.augment import SsdCropOperation, SsdCropPadOperation


@pytest.mark.parametrize("seed", range(2))
def test_random_pad_image_shrinks_the_image_inside_a_larger_canvas(seed):
    tf.random.set_seed(seed)
    image, boxes, classes, ignore = painted_example()
    # A grey pad colour that no rectangle uses, so painted pixels stay unique.
    op = augment.make_random_pad_image(pad_color=(128, 128, 128))
    out_image, out_boxes, out_classes, out_ignore = run(op, image, boxes, classes, ignore)
    h, w = out_image.shape[:2]
    assert H <= h <= 2 * H and W <= w <= 2 * W and (h, w) != (H, W)
    assert_boxes_follow_pixels(out_image, out_boxes, out_classes, out_ignore)
    # Every box got smaller relative to the canvas by exactly the size ratio.
    np.testing.assert_allclose((out_boxes[:, 2] - out_boxes[:, 0]) * h,
                               (boxes[:, 2] - boxes[:, 0]) * H, atol=1e-3)


def test_random_pad_image_default_colour_is_the_image_mean():
    tf.random.set_seed(3)
    image, boxes, classes, ignore = painted_example()
    out_image, *_ = run(augment.make_random_pad_image(min_image_size=(2 * H, 2 * W),
                                                      max_image_size=(2 * H, 2 * W)),
                        image, boxes, classes, ignore)
    mean = np.round(image.numpy().reshape(-1, 3).mean(axis=0))
    corners = [out_image[0, 0], out_image[0, -1], out_image[-1, 0], out_image[-1, -1]]
    # At least three corners are canvas (the image covers at most one).
    assert sum(np.array_equal(c, mean) for c in corners) >= 3, (corners, mean)


@pytest.mark.parametrize("seed", range(3))
def test_ssd_random_crop_pad_keeps_boxes_on_pixels_and_zooms_out(seed):
    tf.random.set_seed(seed)
    image, boxes, classes, ignore = painted_example()
    op = augment.make_ssd_random_crop_pad([SsdCropPadOperation(
        SsdCropOperation(0.1, overlap_thresh=0.1, random_coef=0.0),
        (1.0, 1.0), (2.0, 2.0), (128, 128, 128))])
    out_image, out_boxes, out_classes, out_ignore = run(op, image, boxes, classes, ignore)
    # The canvas is at least the ORIGINAL size (OD API: ratios of the input image).
    assert out_image.shape[0] >= H and out_image.shape[1] >= W
    assert len(out_classes) >= 1
    assert_boxes_follow_pixels(out_image, out_boxes, out_classes, out_ignore)


def test_ssd_random_crop_pad_from_proto_reads_ratios_and_colour():
    from google.protobuf import text_format

    from config import pipeline_pb2

    tc = text_format.Parse("""
      data_augmentation_options { ssd_random_crop_pad { operations {
        min_object_covered: 1.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
        max_area: 1.0 overlap_thresh: 1.0 random_coef: 1.0
        min_padded_size_ratio: [3.0, 3.0] max_padded_size_ratio: [3.0, 3.0]
        pad_color_r: 128 pad_color_g: 128 pad_color_b: 128 } } }""", pipeline_pb2.TrainConfig())
    op = augment.augmentation_from_proto(tc.data_augmentation_options)
    image, boxes, classes, ignore = painted_example()
    out_image, out_boxes, out_classes, out_ignore = run(op, image, boxes, classes, ignore)
    assert out_image.shape[:2] == (3 * H, 3 * W)   # random_coef 1: no crop, pad only
    assert_boxes_follow_pixels(out_image, out_boxes, out_classes, out_ignore)


def test_rgb_to_gray_always_and_never():
    image, boxes, classes, ignore = painted_example()
    grey, *_ = run(augment.random_rgb_to_gray(1.0), image, boxes, classes, ignore)
    assert np.all(grey[..., 0] == grey[..., 1]) and np.all(grey[..., 1] == grey[..., 2])
    same, *_ = run(augment.random_rgb_to_gray(0.0), image, boxes, classes, ignore)
    np.testing.assert_array_equal(same, image.numpy())


@pytest.mark.parametrize("ordering", [0, 1])
def test_distort_color_changes_colour_not_geometry(ordering):
    tf.random.set_seed(ordering)
    image, boxes, classes, ignore = painted_example(background=60)
    out_image, out_boxes, out_classes, out_ignore = run(
        augment.random_distort_color(ordering), image, boxes, classes, ignore)
    assert out_image.shape == image.shape
    assert not np.array_equal(out_image, image.numpy())
    np.testing.assert_array_equal(out_boxes, boxes)
    np.testing.assert_array_equal(out_classes, classes)


def test_jitter_boxes_moves_corners_within_ratio_of_box_size():
    tf.random.set_seed(0)
    image, boxes, classes, ignore = painted_example()
    _, out_boxes, out_classes, out_ignore = run(augment.random_jitter_boxes(0.05),
                                                image, boxes, classes, ignore)
    hw = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    assert np.all(np.abs(out_boxes - boxes) <= 0.05 * hw[:, [0, 1, 0, 1]] + 1e-6)
    assert not np.allclose(out_boxes, boxes)
    assert np.all(out_boxes[:, 2] >= out_boxes[:, 0]) and np.all(out_boxes >= 0)
    np.testing.assert_array_equal(out_ignore, ignore)


def test_black_patches_blacken_squares_and_keep_boxes():
    tf.random.set_seed(1)
    image = tf.constant(np.full((H, W, 3), 200, np.uint8))
    boxes = np.array([[0.1, 0.1, 0.5, 0.5]], np.float32)
    out_image, out_boxes, *_ = run(augment.random_black_patches(10, 1.0, 0.1), image, boxes,
                                   np.array([1], np.int32), np.array([False]))
    black = np.all(out_image == 0, axis=-1)
    side = int(0.1 * min(H, W))
    assert side * side <= black.sum() <= 10 * side * side
    assert set(np.unique(out_image)) <= {0, 200}
    np.testing.assert_array_equal(out_boxes, boxes)


def test_every_supported_step_builds_from_its_proto():
    from config import pipeline_pb2

    for name in augment.SUPPORTED:
        tc = pipeline_pb2.TrainConfig()
        getattr(tc.data_augmentation_options.add(), name).SetInParent()
        op = augment.augmentation_from_proto(tc.data_augmentation_options)
        image, boxes, classes, ignore = painted_example()
        out = run(op, image, boxes, classes, ignore)
        assert out[0].ndim == 3 and out[1].shape[1] == 4, name
