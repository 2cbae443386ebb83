"""Per-image SSD targets with tf-models-official's object_detection target assigner.

Runs inside the tf.data pipeline (one image at a time, unpadded boxes), so the
training step receives fixed-size per-anchor targets.

Ignore boxes ("difficult" in the records) get weight 0: anchors matched to them
get classification and regression weight 0, so they count neither as positives
nor as negatives (and the hard example miner never picks them).
"""
from __future__ import annotations

import tensorflow as tf
from official.vision.ops import iou_similarity
from official.vision.utils.object_detection import (argmax_matcher, box_list,
                                                     faster_rcnn_box_coder, target_assigner)

from ssd.specs import SsdConfig


class SsdTargetAssigner:
    def __init__(self, config: SsdConfig, anchors_corners):
        m = config.matcher
        self.num_classes = config.num_classes
        self.anchors = tf.constant(anchors_corners, tf.float32)
        matcher = argmax_matcher.ArgMaxMatcher(
            matched_threshold=m.matched_threshold,
            unmatched_threshold=m.unmatched_threshold,
            negatives_lower_than_unmatched=m.negatives_lower_than_unmatched,
            force_match_for_each_row=m.force_match_for_each_row)
        self.assigner = target_assigner.TargetAssigner(
            iou_similarity.IouSimilarity(), matcher,
            faster_rcnn_box_coder.FasterRcnnBoxCoder(config.box_coder.as_list()),
            unmatched_cls_target=tf.one_hot(0, config.num_classes + 1))

    def __call__(self, boxes: tf.Tensor, classes: tf.Tensor,
                 ignore: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """boxes [N,4] normalised (ymin,xmin,ymax,xmax); classes [N] 1-based; ignore [N] bool."""
        boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
        classes = tf.reshape(tf.cast(classes, tf.int32), [-1])
        weights = tf.ones_like(classes, tf.float32)
        if ignore is not None:
            weights = tf.where(tf.reshape(tf.cast(ignore, tf.bool), [-1]), 0.0, weights)
        # One-hot over [background, class 1..K]; unmatched anchors are background.
        labels = tf.one_hot(classes, self.num_classes + 1)
        cls_targets, cls_weights, reg_targets, reg_weights, match = self.assigner.assign(
            box_list.BoxList(self.anchors), box_list.BoxList(boxes),
            groundtruth_labels=labels, groundtruth_weights=weights)
        # Hard example mining chooses negatives among anchors matched to nothing.
        negatives = tf.logical_and(match.unmatched_column_indicator(), cls_weights > 0)
        return {
            "cls_targets": cls_targets,
            "cls_weights": cls_weights,
            "reg_targets": reg_targets,
            "reg_weights": reg_weights,
            "negatives": negatives,
        }
