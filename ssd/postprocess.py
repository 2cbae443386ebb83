"""Class-agnostic NMS that every export format can run, TFLite included.

Why this exists: `tf.image.combined_non_max_suppression` (and the batched
`non_max_suppression_padded`) have no TFLite builtin, so a model that uses
them exports fine to a frozen graph / SavedModel but its `.tflite` needs the
Flex delegate, which the LiteRT wheel does not ship. TFLite does have
NON_MAX_SUPPRESSION_V4/V5 builtins, so this helper runs one single-image
`NonMaxSuppressionV5` per image (a Python loop over the static batch size,
which is 1 in every export) and pads to a fixed `max_detections`.

NMS is class-agnostic: each anchor keeps its best class. That is the right call
for a one-class hand detector and keeps the graph a single NMS op; a
multi-class model that needs per-class NMS should loop over classes here.

Outputs follow the Object Detection API's `postprocess` convention: 0-based
float class index (the exporter adds 1 to get label-map ids).
"""
from __future__ import annotations

import tensorflow as tf


def nms_single_image(boxes: tf.Tensor, scores: tf.Tensor, *, max_detections: int,
                     iou_threshold: float, score_threshold: float
                     ) -> dict[str, tf.Tensor]:
    """boxes [A, 4], scores [A, C] (per class, no background) -> padded detections.

    Returns detection_boxes [N, 4], detection_scores [N], detection_classes [N]
    (float, 0-based), num_detections [] (float); N = max_detections and rows past
    num_detections are zero.
    """
    best = tf.reduce_max(scores, axis=-1)
    best_class = tf.cast(tf.argmax(scores, axis=-1), tf.float32)
    boxes = tf.clip_by_value(boxes, 0.0, 1.0)
    idx, sel_scores, valid = tf.raw_ops.NonMaxSuppressionV5(
        boxes=boxes, scores=best, max_output_size=max_detections,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
        soft_nms_sigma=0.0, pad_to_max_output_size=True)
    keep = tf.cast(tf.range(max_detections) < valid, tf.float32)
    det_boxes = tf.gather(boxes, idx) * keep[:, None]
    det_classes = tf.gather(best_class, idx) * keep
    det_scores = sel_scores * keep
    return {
        "detection_boxes": det_boxes,
        "detection_scores": det_scores,
        "detection_classes": det_classes,
        "num_detections": tf.cast(valid, tf.float32),
    }


def batched_nms(boxes: tf.Tensor, scores: tf.Tensor, *, max_detections: int = 20,
                iou_threshold: float = 0.5, score_threshold: float = 1e-3
                ) -> dict[str, tf.Tensor]:
    """boxes [B, A, 4] normalised, scores [B, A, C] -> OD-API style detections [B, N, ...].

    Needs a static batch size (every export traces with batch 1); a dynamic
    batch falls back to `tf.map_fn`, which is fine for TF but not for TFLite.
    """
    kwargs = dict(max_detections=max_detections, iou_threshold=iou_threshold,
                  score_threshold=score_threshold)
    batch = boxes.shape[0]
    if batch is not None:
        per_image = [nms_single_image(boxes[i], scores[i], **kwargs) for i in range(batch)]
        return {k: tf.stack([d[k] for d in per_image]) for k in per_image[0]}
    spec = {
        "detection_boxes": tf.TensorSpec([max_detections, 4], tf.float32),
        "detection_scores": tf.TensorSpec([max_detections], tf.float32),
        "detection_classes": tf.TensorSpec([max_detections], tf.float32),
        "num_detections": tf.TensorSpec([], tf.float32),
    }
    return tf.map_fn(lambda bs: nms_single_image(bs[0], bs[1], **kwargs), (boxes, scores),
                     fn_output_signature=spec)
