"""The SSD detector: preprocess -> feature maps -> box predictors -> decode + NMS.

The three stages are separate methods (not one `call`) because training needs
the raw predictions, evaluation and export need decoded detections, and the
exporter wraps `preprocess` around a uint8 image input.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras
from official.vision.utils.object_detection import box_list, faster_rcnn_box_coder

from ssd import anchors as anchor_lib
from ssd import padding
from ssd.box_predictor import ConvolutionalBoxPredictor
from ssd.specs import SsdConfig
from ssd.feature_extractor import SsdMobileNetV1FeatureExtractor
from ssd.postprocess import batched_nms


def _feature_map_sizes(extractor: tf_keras.Model, input_size: tuple[int, int]) -> list[tuple[int, int]]:
    probe = tf.zeros([1, input_size[0], input_size[1], 3])
    return [tuple(int(d) for d in f.shape[1:3]) for f in extractor(probe, training=False)]


class SSDDetector(tf_keras.Model):
    def __init__(self, config: SsdConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.feature_extractor = SsdMobileNetV1FeatureExtractor(
            config.input_size, config.depth_multiplier, config.min_depth, config.feature_hyper)
        self.box_predictor = ConvolutionalBoxPredictor(
            config.num_classes, anchor_lib.num_anchors_per_location(config.anchors),
            kernel_size=config.predictor_kernel_size, box_code_size=config.box_code_size,
            class_prediction_bias_init=config.class_prediction_bias_init,
            use_dropout=config.use_dropout,
            dropout_keep_probability=config.dropout_keep_probability,
            hyper=config.predictor_hyper)
        self.feature_map_sizes = _feature_map_sizes(self.feature_extractor, config.input_size)
        self.anchors_center_size = anchor_lib.generate_anchors(
            config.anchors, self.feature_map_sizes, config.input_size)
        self.anchors_corners = anchor_lib.center_size_to_corners(self.anchors_center_size)
        self.box_coder = faster_rcnn_box_coder.FasterRcnnBoxCoder(config.box_coder.as_list())
        if config.freeze_batchnorm:
            freeze_batch_norm(self)
        # Build all variables now so checkpoints can be restored before the first step.
        self(tf.zeros([1, config.input_size[0], config.input_size[1], 3]), training=False)

    @property
    def num_anchors(self) -> int:
        return int(self.anchors_corners.shape[0])

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """uint8/float RGB [B,H,W,3] in 0..255 -> float32 model input in [-1, 1].

        Bilinear resize to the fixed input size without keeping aspect ratio,
        like the OD API's fixed_shape_resizer.
        """
        return preprocess_images(images, self.config.input_size)

    def call(self, images: tf.Tensor, training=None) -> dict[str, tf.Tensor]:
        features = self.feature_extractor(images, training=training)
        box_encodings, class_logits = self.box_predictor(features, training=training)
        return {"box_encodings": box_encodings, "class_logits": class_logits}

    def decode_boxes(self, box_encodings: tf.Tensor) -> tf.Tensor:
        """[B, A, 4] encodings -> [B, A, 4] normalised (ymin, xmin, ymax, xmax)."""
        batch = tf.shape(box_encodings)[0]
        anchors = box_list.BoxList(tf.tile(tf.constant(self.anchors_corners), [batch, 1]))
        flat = tf.reshape(box_encodings, [-1, self.config.box_code_size])
        decoded = self.box_coder.decode(flat, anchors).get()
        return tf.reshape(decoded, [batch, -1, 4])

    def scores(self, class_logits: tf.Tensor) -> tf.Tensor:
        """Per-class scores without the background column."""
        if self.config.post_processing.score_converter == "SIGMOID":
            probs = tf.sigmoid(class_logits)
        else:
            probs = class_logits
        return probs[:, :, 1:]

    def postprocess(self, outputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Decoded, NMS'd detections (classes 0-based, OD API convention).

        Single-class models use one NonMaxSuppressionV5 per image (a TFLite
        builtin, and a static loop that the int8 calibrator can trace); several
        classes use combined per-class NMS, as the OD API's batch_multiclass_nms.
        """
        pp = self.config.post_processing
        boxes = tf.clip_by_value(self.decode_boxes(outputs["box_encodings"]), 0.0, 1.0)
        scores = self.scores(outputs["class_logits"])
        max_total = pp.max_total_detections
        if self.config.num_classes == 1:
            return batched_nms(boxes, scores, max_detections=min(pp.max_detections_per_class, max_total),
                               iou_threshold=pp.iou_threshold, score_threshold=pp.score_threshold)
        nmsed = tf.image.combined_non_max_suppression(
            boxes[:, :, None, :], scores, max_output_size_per_class=pp.max_detections_per_class,
            max_total_size=max_total, iou_threshold=pp.iou_threshold,
            score_threshold=pp.score_threshold, pad_per_class=False, clip_boxes=True)
        return {
            "detection_boxes": nmsed.nmsed_boxes,
            "detection_scores": nmsed.nmsed_scores,
            "detection_classes": nmsed.nmsed_classes,
            "num_detections": tf.cast(nmsed.valid_detections, tf.float32),
        }

    def detect(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Whole pictures [B,H,W,3] -> detections with boxes normalised to those pictures
        (with `pad_narrower_images`, padded first and their boxes taken back out of the bars)."""
        if not self.config.pad_narrower_images:
            return self.postprocess(self(self.preprocess(images), training=False))
        width = tf.shape(images)[2]
        padded, left, total = padding.pad_columns(images, self.config.input_size)
        out = self.postprocess(self(self.preprocess(padded), training=False))
        return dict(out, detection_boxes=padding.boxes_out_of_padded(
            out["detection_boxes"], width, left, total))

    def slim_variable_map(self) -> dict[str, tf.Variable]:
        """Every variable under its Object Detection API checkpoint name."""
        names = {f"FeatureExtractor/{k}": v
                 for k, v in self.feature_extractor.slim_variable_map().items()}
        names.update(self.box_predictor.slim_variable_map())
        return names


def preprocess_images(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """The one definition of model input normalisation, shared by training and inference."""
    images = tf.image.resize(tf.cast(images, tf.float32), size, method="bilinear")
    return images * (2.0 / 255.0) - 1.0


def freeze_batch_norm(model: tf_keras.Model) -> None:
    """Normalise with the moving statistics always, while gamma and beta keep training.

    This is the OD API's `FreezableBatchNorm` (freeze_batchnorm: true): small
    CPU batches give noisy batch statistics, and the COCO checkpoint's
    statistics stand for folded weights, so the statistics stay fixed. Setting
    `trainable = False` would also freeze gamma and beta, and the SSD extra
    layers' convolutions have no bias, so from a classification checkpoint they
    would have no trainable offset at all. Overriding the layer's training-mode
    lookup keeps the variables trainable and the statistics frozen.
    """
    for layer in model.submodules:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer._get_training_value = _inference_mode


def _inference_mode(training=None) -> bool:
    return False
