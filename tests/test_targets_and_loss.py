"""Target assignment (including ignore boxes) and the SSD loss on hand-made boxes."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from ssd.specs import HardExampleMinerSpec, LossSpec, SsdConfig
from ssd.losses import ssd_loss
from ssd.targets import SsdTargetAssigner

# Four anchors (ymin, xmin, ymax, xmax): two on the left half, two on the right.
ANCHORS = np.array([
    [0.0, 0.0, 0.5, 0.5],
    [0.5, 0.0, 1.0, 0.5],
    [0.0, 0.5, 0.5, 1.0],
    [0.5, 0.5, 1.0, 1.0],
], np.float32)


def assigner(num_classes=2):
    return SsdTargetAssigner(SsdConfig(num_classes=num_classes), ANCHORS)


def test_matched_anchor_gets_class_and_box_targets():
    t = assigner()(tf.constant([[0.0, 0.0, 0.5, 0.5]]), tf.constant([2]))
    np.testing.assert_array_equal(t["cls_targets"].numpy()[0], [0, 0, 1])
    np.testing.assert_array_equal(t["cls_targets"].numpy()[1:], [[1, 0, 0]] * 3)  # background
    np.testing.assert_array_equal(t["reg_weights"].numpy(), [1, 0, 0, 0])
    np.testing.assert_array_equal(t["cls_weights"].numpy(), [1, 1, 1, 1])
    np.testing.assert_allclose(t["reg_targets"].numpy()[0], [0, 0, 0, 0], atol=1e-5)  # exact fit
    np.testing.assert_array_equal(t["negatives"].numpy(), [False, True, True, True])


def test_offset_box_is_encoded_relative_to_anchor():
    # Box shifted down by 0.05 (10% of the anchor height): ty = 10 * 0.05 / 0.5 = 1.
    t = assigner()(tf.constant([[0.05, 0.0, 0.55, 0.5]]), tf.constant([1]))
    np.testing.assert_allclose(t["reg_targets"].numpy()[0], [1.0, 0.0, 0.0, 0.0], atol=1e-5)


def test_ignore_box_is_neither_positive_nor_negative():
    boxes = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    t = assigner()(boxes, tf.constant([1, 1]), tf.constant([False, True]))
    np.testing.assert_array_equal(t["reg_weights"].numpy(), [1, 0, 0, 0])
    np.testing.assert_array_equal(t["cls_weights"].numpy(), [1, 1, 1, 0])
    np.testing.assert_array_equal(t["negatives"].numpy(), [False, True, True, False])


def test_no_boxes_makes_everything_background():
    t = assigner()(tf.zeros([0, 4]), tf.zeros([0], tf.int32))
    assert t["reg_weights"].numpy().sum() == 0
    assert t["negatives"].numpy().all()


def _batch(targets):
    return {k: tf.stack([v]) for k, v in targets.items()}


def test_loss_is_zero_for_perfect_confident_predictions_and_grows_with_error():
    t = _batch(assigner(1)(tf.constant([[0.0, 0.0, 0.5, 0.5]]), tf.constant([1])))
    good_logits = tf.constant([[[-20.0, 20.0], [20.0, -20.0], [20.0, -20.0], [20.0, -20.0]]])
    outputs = {"class_logits": good_logits, "box_encodings": tf.zeros([1, 4, 4])}
    spec = LossSpec(hard_example_miner=HardExampleMinerSpec(num_hard_examples=10, iou_threshold=0.99))
    decoded = tf.constant(ANCHORS[None])
    good = ssd_loss(outputs, t, decoded, spec)
    assert float(good["classification_loss"]) < 1e-6
    assert float(good["localization_loss"]) < 1e-6
    assert float(good["num_matches"]) == 1.0
    bad = ssd_loss({"class_logits": -good_logits, "box_encodings": tf.ones([1, 4, 4])}, t, decoded, spec)
    assert float(bad["classification_loss"]) > 10
    # Smooth L1 over 4 coords with |diff| = 1: 4 * 0.5 = 2, normalised by 1 match.
    assert float(bad["localization_loss"]) == pytest.approx(2.0)


def test_hard_example_miner_caps_negatives_per_positive():
    t = _batch(assigner(1)(tf.constant([[0.0, 0.0, 0.5, 0.5]]), tf.constant([1])))
    # All anchors predict "hand" strongly: every negative has a large loss.
    logits = tf.constant([[[-5.0, 5.0]] * 4])
    outputs = {"class_logits": logits, "box_encodings": tf.zeros([1, 4, 4])}
    decoded = tf.constant(ANCHORS[None])
    one_neg = ssd_loss(outputs, t, decoded, LossSpec(hard_example_miner=HardExampleMinerSpec(
        num_hard_examples=10, iou_threshold=0.99, max_negatives_per_positive=1)))
    all_neg = ssd_loss(outputs, t, decoded, LossSpec(hard_example_miner=None))
    per_negative = float(tf.nn.sigmoid_cross_entropy_with_logits(1.0, -5.0) +
                         tf.nn.sigmoid_cross_entropy_with_logits(0.0, 5.0))
    per_positive = float(2 * tf.nn.sigmoid_cross_entropy_with_logits(1.0, 5.0))  # correct but not certain
    assert float(one_neg["classification_loss"]) == pytest.approx(per_positive + per_negative, rel=1e-4)
    assert float(all_neg["classification_loss"]) == pytest.approx(per_positive + 3 * per_negative, rel=1e-4)
