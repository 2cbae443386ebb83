"""pad_narrower_images: a picture narrower than the model input gets black side bars, and
its boxes follow it into the padded picture (training) and back out (every reader)."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from ssd import padding

FOUR_THREE = (300, 400)   # height, width


@pytest.mark.parametrize("height, width, expected", [
    (300, 300, 400),      # square: padded to 4:3
    (640, 480, 853),      # portrait phone photo
    (480, 640, 640),      # 4:3 already: untouched
    (720, 1280, 1280),    # 16:9 is wider: squashed by the resize, never padded
])
def test_only_narrower_pictures_are_widened(height, width, expected):
    assert padding.padded_width(height, width, FOUR_THREE) == expected
    assert int(padding.padded_width(tf.constant(height), tf.constant(width), FOUR_THREE)) == expected


def test_bars_are_black_and_split_evenly():
    image = tf.fill([30, 31, 3], tf.constant(200, tf.uint8))
    padded, left, total = padding.pad_columns(image, FOUR_THREE)
    assert (int(left), int(total)) == (4, 40)
    pixels = padded.numpy()
    assert pixels.shape == (30, 40, 3)
    assert (pixels[:, :4] == 0).all() and (pixels[:, 35:] == 0).all()   # 4 left, 5 right
    assert (pixels[:, 4:35] == 200).all()


def test_boxes_round_trip_in_tf_and_numpy():
    boxes = np.array([[0.1, 0.0, 0.5, 0.25], [0.2, 0.6, 0.9, 1.0]], np.float32)
    inside = padding.boxes_into_padded(tf.constant(boxes), 300, 50, 400).numpy()
    np.testing.assert_allclose(inside[:, 1], [50 / 400, (0.6 * 300 + 50) / 400], rtol=1e-6)
    np.testing.assert_allclose(inside[:, [0, 2]], boxes[:, [0, 2]])
    back_tf = padding.boxes_out_of_padded(tf.constant(inside), 300, 50, 400).numpy()
    back_np = padding.boxes_out_of_padded(inside, 300, 50, 400)
    np.testing.assert_allclose(back_tf, boxes, atol=1e-6)
    np.testing.assert_allclose(back_np, boxes, atol=1e-6)


def test_a_box_on_a_bar_is_clipped_to_the_picture():
    on_bar = np.array([[0.1, 0.01, 0.4, 0.2]], np.float32)   # starts on the left bar
    back = padding.boxes_out_of_padded(on_bar, 300, 50, 400)
    assert back[0, 1] == 0.0 and back[0, 3] == pytest.approx((0.2 * 400 - 50) / 300)


def test_training_pads_a_square_picture_and_moves_its_box():
    """A white square painted at its box lands, after padding and the resize, where the
    padded box says, and the bars are black (-1 after normalisation)."""
    from training.inputs import TrainInputs

    image = np.zeros([60, 60, 3], np.uint8)
    image[15:45, 0:30] = 255                       # touches the left edge
    box = tf.constant([[0.25, 0.0, 0.75, 0.5]])
    seen = {}

    def keep_boxes(boxes, classes, ignore):
        seen["boxes"] = boxes
        return {}

    def prepare(pad):
        inputs = TrainInputs(sources=[], batch_size=1, input_size=(30, 40), target_assigner=keep_boxes,
                             pad_narrower_images=pad)
        features, _ = inputs._prepare({"image": tf.constant(image), "boxes": box,
                                       "classes": tf.constant([1]), "ignore": tf.constant([False])})
        return features["image"].numpy(), seen["boxes"].numpy()[0]

    stretched, stretched_box = prepare(False)
    np.testing.assert_allclose(stretched_box, [0.25, 0.0, 0.75, 0.5])
    padded, padded_box = prepare(True)
    np.testing.assert_allclose(padded_box, [0.25, 5 / 40, 0.75, 20 / 40], atol=1e-6)
    assert padded.shape == (30, 40, 3)
    assert np.allclose(padded[:, :4], -1.0) and np.allclose(padded[:, 36:], -1.0)
    white = padded[..., 0] > 0.5
    cols = np.where(white.any(axis=0))[0]
    rows = np.where(white.any(axis=1))[0]
    # The painted columns 0..30 of 60 (80 padded) become 5..20 of 40 (the box), rows 15..45 of 60 -> 7.5..22.5.
    assert (cols.min(), cols.max() + 1) == (5, 20)
    assert 7 <= rows.min() <= 8 and 22 <= rows.max() + 1 <= 23


def test_numpy_and_tf_pad_the_same_columns():
    image = np.random.default_rng(0).integers(0, 255, [30, 31, 3], dtype=np.uint8)
    padded_np, left_np, total_np = padding.pad_columns(image, FOUR_THREE)
    padded_tf, left_tf, total_tf = padding.pad_columns(tf.constant(image), FOUR_THREE)
    assert (left_np, total_np) == (int(left_tf), int(total_tf))
    np.testing.assert_array_equal(padded_np, padded_tf.numpy())
    wide = np.zeros([30, 50, 3], np.uint8)
    assert padding.pad_columns(wide, FOUR_THREE)[0] is wide
