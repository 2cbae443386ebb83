"""The one table of what handtrack honours in a pipeline.config, beyond the schema.

config/pipeline.proto is the allow-list: a field handtrack neither honours nor
harmlessly ignores is not in it, so text_format refuses it with file:line:col;
for the OD API fields in `NOT_IMPLEMENTED` config.loader says "does not
implement" rather than "unknown field". What the schema cannot say is
`VALUE_RULES`, keyed by dotted field path (repeated fields not indexed), which
config.validation applies to every field SET in a config:

* `only(...)`: the values handtrack honours (a `fixed` name: only the proto's
  default); any other value is rejected, naming the field and its file:line;
* `bounded(...)`: the range the OD API builders also insist on (num_classes >= 1,
  finite learning rates...);
* `ignored(...)`: accepted with one logged warning, because handtrack never reads
  it and it changes neither the model nor the metrics (queue sizes...).

The table lives apart from the checks because it is what changes: to support a
new field, implement it (ssd/builder.py, training/ and evaluation/ read the
schema), add it to pipeline.proto with the OD API's number and default (`bash
config/regenerate.sh`), add a rule here if only some values work, and a test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Iterator, Optional, Tuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from config.pipeline_pb2 import LearningRate, Optimizer, TrainEvalPipelineConfig


@dataclass(frozen=True)
class Rule:
    """What a set field may hold: `allowed` values (enum values by name; each element
    of a repeated field), a range (`test`, worded as `expect`), or `ignored` with the
    reason it makes no difference. `why` is appended to a value-not-allowed error."""

    allowed: Optional[FrozenSet[object]] = None
    test: Optional[Callable[[float], bool]] = None
    expect: str = ""
    ignored: Optional[str] = None
    why: str = ""


def only(*values: object, why: str = "") -> Rule:
    return Rule(allowed=frozenset(values), why=why)


def bounded(test: Callable[[float], bool], expect: str) -> Rule:
    return Rule(test=test, expect=expect)


def ignored(reason: str) -> Rule:
    return Rule(ignored=reason)


# OD API fields handtrack knows but does not implement, by message. They are not
# in the schema, so text_format refuses them; config.loader turns that refusal
# into "... is set, but handtrack does not implement it" with the field's line.
NOT_IMPLEMENTED: Dict[str, FrozenSet[str]] = {k: frozenset(v.split()) for k, v in {
    "TrainEvalPipelineConfig": "graph_rewriter",
    "SsdFeatureExtractor": "fpn",
    "Hyperparams": "group_norm",
    "Regularizer": "l1_regularizer",
    "Initializer": "variance_scaling_initializer random_normal_initializer",
    "ImageResizer": "keep_aspect_ratio_resizer",
    "BoxCoder": "mean_stddev_box_coder",
    "Matcher": "bipartite_matcher",
    "RegionSimilarityCalculator": "neg_sq_dist_similarity ioa_similarity thresholded_iou_similarity",
    "AnchorGenerator": "multiscale_anchor_generator",
    "SsdAnchorGenerator": "height_stride width_stride height_offset width_offset",
    "BoxPredictor": "weight_shared_convolutional_box_predictor",
    "Loss": "random_example_sampler",
    "LocalizationLoss": "weighted_l2 weighted_iou",
    "ClassificationLoss": "weighted_softmax bootstrapped_sigmoid weighted_logits_softmax",
    "TrainConfig": "freeze_variables update_trainable_variables",
    "LearningRate": "manual_step_learning_rate",
    "PreprocessingStep": "normalize_image random_pixel_value_scale random_image_scale "
                         "random_crop_image random_crop_pad_image random_crop_to_aspect_ratio "
                         "ssd_random_crop_fixed_aspect_ratio random_vertical_flip random_rotation90",
    "RandomHorizontalFlip": "keypoint_flip_permutation",
    "EvalConfig": "export_path eval_instance_masks recall_lower_bound recall_upper_bound",
}.items()}

VALUE_RULES: Dict[str, Rule] = {}


def _field(path: str) -> FieldDescriptor:
    desc: Optional[Descriptor] = TrainEvalPipelineConfig.DESCRIPTOR
    for name in path.split("."):
        field = desc.fields_by_name[name]
        desc = field.message_type
    return field


def comparable(field: FieldDescriptor, value: object) -> object:
    """`value` as a rule lists it: an enum by name, a float32 as the decimal written in the file."""
    if field.type == field.TYPE_ENUM:
        ev = field.enum_type.values_by_number.get(value)
        return ev.name if ev else value
    return float(f"{value:.7g}") if isinstance(value, float) else value


def _add(prefix: str, rules: Dict[str, Rule], fixed: str = "") -> None:
    """`rules` under `prefix`; every name in `fixed` honours only its proto default."""
    for name in fixed.split():
        field = _field(f"{prefix}.{name}")
        rules = {**rules, name: only(comparable(field, field.default_value))}
    VALUE_RULES.update({f"{prefix}.{name}": rule for name, rule in rules.items()})


AT_LEAST_1 = bounded(lambda v: v >= 1, ">= 1")

# --- model.ssd --------------------------------------------------------------
# ssd/feature_extractor.py: conv -> batch norm (if a `batch_norm` block is given)
# -> activation. The predictor's convolutions have no activation and no normalizer
# (as in the OD API's heads), so its activation and batch_norm change nothing.
_HYPER_FIXED = "op initializer.truncated_normal_initializer.mean regularize_depthwise"
_add("model.ssd.feature_extractor.conv_hyperparams", {
    "activation": only("NONE", "RELU", "RELU_6"),
    "batch_norm.train": only(True, why="to freeze batch norm set model.ssd.freeze_batchnorm: true"),
}, fixed=_HYPER_FIXED)
_add("model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams", {}, fixed=_HYPER_FIXED)
_ANCHORWISE = ignored("deprecated in the OD API; losses are always computed per anchor")
_add("model.ssd", {
    "num_classes": AT_LEAST_1,
    "encode_background_as_zeros": only(False, why="handtrack's class head always has a background column"),
    "inplace_batchnorm_update": ignored("a TF1 graph-mode detail; Keras batch norm updates its statistics itself"),
    "loss.classification_loss.weighted_sigmoid.anchorwise_output": _ANCHORWISE,
    "loss.classification_loss.weighted_sigmoid_focal.anchorwise_output": _ANCHORWISE,
    "loss.localization_loss.weighted_smooth_l1.anchorwise_output": _ANCHORWISE,
    "anchor_generator.ssd_anchor_generator.num_layers": only(
        6, why="the ssd_mobilenet_v1 feature extractor always yields 6 feature maps"),
    "matcher.argmax_matcher.use_matmul_gather": ignored("a TPU implementation detail of the gather; the matches are the same"),
}, fixed="negative_class_weight normalize_loc_loss_by_codesize add_background_class explicit_background_class "
         "use_confidences_as_targets implicit_example_weight matcher.argmax_matcher.ignore_thresholds")
_add("model.ssd.image_resizer.fixed_shape_resizer", {"height": AT_LEAST_1, "width": AT_LEAST_1},
     fixed="resize_method convert_to_grayscale")
_add("model.ssd.feature_extractor", {
    "type": only("ssd_mobilenet_v1", why="handtrack implements only the SSD MobileNet v1 feature extractor"),
    "depth_multiplier": bounded(lambda v: v > 0, "> 0"),
    "min_depth": bounded(lambda v: v >= 0, ">= 0"),
    "override_base_feature_extractor_hyperparams": ignored(
        "handtrack applies conv_hyperparams to the whole MobileNet v1, whose own defaults are "
        "the same (L2 4e-5, batch-norm decay 0.9997, epsilon 0.001); initialisers only matter "
        "for layers not restored from a checkpoint"),
}, fixed="pad_to_multiple use_explicit_padding use_depthwise")
_add("model.ssd.box_predictor.convolutional_box_predictor", {
    "box_code_size": only(4, why="the faster_rcnn_box_coder encodes 4 numbers per box"),
    "dropout_keep_probability": bounded(lambda v: 0 < v <= 1, "in (0, 1]"),
}, fixed="min_depth max_depth num_layers_before_predictor apply_sigmoid_to_scores use_depthwise")
_add("model.ssd.post_processing", {
    "score_converter": only("IDENTITY", "SIGMOID", why="the class head is trained with sigmoid losses"),
    "batch_non_max_suppression.use_static_shapes": ignored("a TPU implementation detail of NMS; the detections are the same"),
    "batch_non_max_suppression.iou_threshold": bounded(lambda v: 0 <= v <= 1, "in [0, 1]"),
    "batch_non_max_suppression.max_detections_per_class": AT_LEAST_1,
    "batch_non_max_suppression.max_total_detections": AT_LEAST_1,
}, fixed="logit_scale batch_non_max_suppression.use_class_agnostic_nms "
         "batch_non_max_suppression.max_classes_per_detection batch_non_max_suppression.soft_nms_sigma")

# --- train_config -------------------------------------------------------------
_MAX_BOXES = only(100, why="training/inputs.py keeps up to 100 boxes per image")
_NO_AVERAGES = "handtrack keeps no moving averages of the weights"
_add("train_config", {
    "batch_size": AT_LEAST_1,
    "optimizer.use_moving_average": only(False, why=_NO_AVERAGES),
    "optimizer.moving_average_decay": ignored("moving averages are not kept, so their decay has no effect"),
    "fine_tune_checkpoint_type": only("classification", "detection"),
    "max_number_of_boxes": _MAX_BOXES,
    "sync_replicas": only(False, why="handtrack trains on one machine"),
    "keep_checkpoint_every_n_hours": ignored("checkpoint retention does not change the model"),
    **dict.fromkeys("startup_delay_steps replicas_to_aggregate batch_queue_capacity num_batch_queue_threads "
                    "prefetch_queue_capacity".split(),
                    ignored("only used by TF1 queue-based / distributed training; no effect here")),
    "unpad_groundtruth_tensors": ignored("a padding detail; the losses are the same"),
    "retain_original_images": ignored("only affects TensorBoard images"),
    "data_augmentation_options.random_distort_color.color_ordering": only(0, 1),
}, fixed="load_all_detection_checkpoint_vars add_regularization_loss bias_grad_multiplier "
         "merge_multiple_label_boxes use_multiclass_scores")
# Every learning rate finite and >= 0, the one a schedule starts from > 0: a negative
# rate climbs the loss and NaN poisons the weights at the first step, which would
# otherwise surface only as "loss is nan".
_MAIN_RATES = ("learning_rate", "initial_learning_rate", "learning_rate_base")
for _opt in Optimizer.DESCRIPTOR.oneofs_by_name["optimizer"].fields:
    for _kind in LearningRate.DESCRIPTOR.fields:
        _add(f"train_config.optimizer.{_opt.name}.learning_rate.{_kind.name}", {
            f.name: bounded(lambda v: math.isfinite(v) and v > 0, "a finite number > 0") if f.name in _MAIN_RATES
            else bounded(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
            for f in _kind.message_type.fields if "learning_rate" in f.name})
    VALUE_RULES[f"train_config.optimizer.{_opt.name}.learning_rate.exponential_decay_learning_rate"
                f".decay_steps"] = AT_LEAST_1

# --- input readers and eval_config ------------------------------------------------
# Training honours its reader's shuffling and interleaving (training/inputs.py).
_READER_FIXED = ("sample_1_of_n_examples use_display_name num_additional_channels num_keypoints "
                 "load_instance_masks load_multiclass_scores input_type")
_TRAIN_TUNING = "num_parallel_map_calls num_parallel_batches num_prefetch_batches prefetch_size " \
                "queue_capacity min_after_dequeue"
_READER = {
    "max_number_of_boxes": _MAX_BOXES,
    "name": ignored("a display name only"),
    "include_source_id": ignored("source ids are always kept"),
    "mask_type": ignored("instance masks are never loaded"),
}
_TUNING = ignored("input-pipeline parallelism/buffering; tf.data tunes it, results are the same")
_add("train_input_reader", {
    **_READER, **dict.fromkeys(_TRAIN_TUNING.split(), _TUNING),
    "num_epochs": only(0, why="training repeats the records until train_config.num_steps"),
}, fixed=_READER_FIXED)
_add("eval_input_reader", {
    **_READER, **dict.fromkeys(f"{_TRAIN_TUNING} num_readers read_block_length shuffle_buffer_size "
                               f"filenames_shuffle_buffer_size".split(), _TUNING),
    "shuffle": only(False, why="evaluation reads the records in order"),
    "num_epochs": only(1, why="evaluation reads every record once"),
    "sample_from_datasets_weights": ignored("evaluation reads every record once"),
}, fixed=_READER_FIXED)
_add("eval_config", {
    "metrics_set": only("coco_detection_metrics"),
    "use_moving_averages": only(False, why=_NO_AVERAGES),
    **dict.fromkeys(
        "batch_size num_visualizations eval_interval_secs max_evals save_graph eval_master "
        "visualization_export_dir min_score_threshold max_num_boxes_to_visualize skip_scores skip_labels "
        "visualize_groundtruth_boxes groundtruth_box_visualization_color "
        "keep_image_id_for_visualization_export retain_original_images".split(),
        ignored("evaluation scheduling/visualisation only; the metrics are the same")),
}, fixed="include_metrics_per_category ignore_groundtruth")

# Blocks handtrack's SSD model cannot be built without (below model.ssd).
REQUIRED = tuple("num_classes image_resizer.fixed_shape_resizer feature_extractor.type box_coder.faster_rcnn_box_coder "
                 "matcher.argmax_matcher similarity_calculator.iou_similarity anchor_generator.ssd_anchor_generator "
                 "box_predictor.convolutional_box_predictor post_processing loss.classification_loss "
                 "loss.localization_loss".split())

HONOURED = Rule()  # a field without a row: honoured with any value


def supported_paths() -> Tuple[str, ...]:
    """Every honoured (not merely ignored) field path of the schema, sorted."""
    def visit(desc: Descriptor, prefix: str) -> Iterator[str]:
        for field in desc.fields:
            if VALUE_RULES.get(prefix + field.name, HONOURED).ignored is None:
                yield prefix + field.name
                if field.message_type is not None:
                    yield from visit(field.message_type, f"{prefix}{field.name}.")
    return tuple(sorted(visit(TrainEvalPipelineConfig.DESCRIPTOR, "")))
