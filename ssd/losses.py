"""SSD loss: weighted sigmoid (or focal) classification + smooth-L1 localisation,
hard example mining, normalised by the number of matched anchors.

Follows the Object Detection API's SSD meta-architecture: per-anchor losses are
summed over classes/coordinates, the miner keeps all positives plus the
highest-loss negatives (after NMS on their predicted boxes, capped at
`max_negatives_per_positive` per positive), and the sum is divided by the
number of positive anchors in the batch.
"""
from __future__ import annotations

import tensorflow as tf

from ssd.specs import HardExampleMinerSpec, LossSpec


def sigmoid_classification_loss(logits, targets, weights):
    """[B,A,C+1] -> [B,A]: sigmoid cross-entropy summed over all class columns."""
    per_class = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(per_class, axis=-1) * weights


def sigmoid_focal_classification_loss(logits, targets, weights, gamma: float, alpha: float):
    per_class = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    probs = tf.sigmoid(logits)
    p_t = targets * probs + (1 - targets) * (1 - probs)
    modulating = tf.pow(1.0 - p_t, gamma)
    alpha_t = targets * alpha + (1 - targets) * (1 - alpha)
    return tf.reduce_sum(alpha_t * modulating * per_class, axis=-1) * weights


def smooth_l1_localization_loss(predictions, targets, weights, delta: float):
    """[B,A,4] -> [B,A]: Huber loss summed over the box code."""
    diff = tf.abs(predictions - targets)
    huber = tf.where(diff < delta, 0.5 * tf.square(diff), delta * (diff - 0.5 * delta))
    return tf.reduce_sum(huber, axis=-1) * weights


def mine_hard_examples(cls_losses, loc_losses, decoded_boxes, positives, negatives,
                       spec: HardExampleMinerSpec, cls_weight: float, loc_weight: float):
    """Per image, a [A] 0/1 mask of the anchors whose losses count."""
    if spec.loss_type == "CLASSIFICATION":
        ranking = cls_losses
    elif spec.loss_type == "LOCALIZATION":
        ranking = loc_losses
    else:
        ranking = cls_weight * cls_losses + loc_weight * loc_losses
    masks = []
    for i in range(ranking.shape[0]):   # batch size is static under drop_remainder
        num_candidates = spec.num_hard_examples if spec.num_hard_examples > 0 else tf.shape(ranking[i])[0]
        selected = tf.image.non_max_suppression(decoded_boxes[i], ranking[i],
                                                num_candidates, spec.iou_threshold)
        sel_pos = tf.gather(positives[i], selected)
        sel_neg = tf.gather(negatives[i], selected)
        num_pos = tf.reduce_sum(tf.cast(sel_pos, tf.int32))
        if spec.max_negatives_per_positive > 0:
            max_neg = tf.maximum(spec.max_negatives_per_positive * num_pos, spec.min_negatives_per_image)
        else:
            max_neg = tf.shape(selected)[0]
        # Negatives come in descending-loss order; keep the first `max_neg` of them.
        neg_rank = tf.cumsum(tf.cast(sel_neg, tf.int32))
        keep = tf.logical_or(sel_pos, tf.logical_and(sel_neg, neg_rank <= max_neg))
        kept = tf.boolean_mask(selected, keep)
        masks.append(tf.scatter_nd(kept[:, None], tf.ones_like(kept, tf.float32),
                                   tf.shape(ranking[i])[:1]))
    return tf.stack(masks)


def ssd_loss(outputs: dict, targets: dict, decoded_boxes, spec: LossSpec) -> dict[str, tf.Tensor]:
    logits = outputs["class_logits"]
    if spec.classification == "weighted_sigmoid_focal":
        cls_losses = sigmoid_focal_classification_loss(
            logits, targets["cls_targets"], targets["cls_weights"], spec.focal_gamma, spec.focal_alpha)
    else:
        cls_losses = sigmoid_classification_loss(logits, targets["cls_targets"], targets["cls_weights"])
    loc_losses = smooth_l1_localization_loss(
        outputs["box_encodings"], targets["reg_targets"], targets["reg_weights"], spec.smooth_l1_delta)

    positives = targets["reg_weights"] > 0
    num_matches = tf.reduce_sum(targets["reg_weights"])
    if spec.hard_example_miner is not None:
        mask = mine_hard_examples(
            tf.stop_gradient(cls_losses), tf.stop_gradient(loc_losses),
            tf.stop_gradient(decoded_boxes), positives, targets["negatives"],
            spec.hard_example_miner, spec.classification_weight, spec.localization_weight)
        cls_loss = tf.reduce_sum(cls_losses * mask)
        loc_loss = tf.reduce_sum(loc_losses * mask)
    else:
        cls_loss = tf.reduce_sum(cls_losses)
        loc_loss = tf.reduce_sum(loc_losses)
    normalizer = tf.maximum(num_matches, 1.0) if spec.normalize_loss_by_num_matches else 1.0
    cls_loss = spec.classification_weight * cls_loss / normalizer
    loc_loss = spec.localization_weight * loc_loss / normalizer
    return {
        "classification_loss": cls_loss,
        "localization_loss": loc_loss,
        "num_matches": num_matches,
    }
