"""What handtrack honours in a pipeline.config, beyond what the schema says.

config/pipeline.proto is the allow-list: it holds only the OD API fields that
handtrack honours or harmlessly ignores, so a field it does not implement fails
to parse with its file:line:col (`NOT_IMPLEMENTED` names the OD API fields we
know, so config.loader says "does not implement" rather than "unknown field").
`validate()` then walks every field that is SET in a loaded config against one
table, `VALUE_RULES`:

* a value outside a rule's `only(...)` set is rejected
  (e.g. `feature_extractor.type: "faster_rcnn_resnet50"`, `sync_replicas: true`,
  `score_converter: SOFTMAX`), naming the field and its file:line;
* a field marked `ignored(...)` is accepted with one logged warning: handtrack
  does not read it, and it has no effect on the trained model or the metrics
  (queue sizes, reader parallelism, deprecated `anchorwise_output`, ...);
* then a few value checks (`_check_values`) that the OD API builders would also
  have refused (num_classes < 1, unmatched > matched threshold...).

A field left unset takes the OD API's default, and the model code reads that
default from the proto (pipeline.proto keeps the OD API's defaults). Where the
OD API's default is not what handtrack could do, `_check_effective_values`
checks the effective value instead: an unset conv_hyperparams.initializer
(the OD API refuses it), an empty classification/localization loss, aspect
ratios that leave a feature map without anchors. Those fail with the file:line
of the nearest written block. `optimizer.use_moving_average` (default true,
not implemented) is only warned about, so the classic config still loads.

The schema mirrors what ssd/builder.py, training/augment.py, training/optimizers.py,
training/inputs.py and evaluation/model_eval.py read. To support a new field:
implement it in the model/training code, add it to pipeline.proto with the OD
API's number and default (and regenerate), add a rule here if only some values
work, and a test. Rule paths use field names only; repeated fields are not indexed
("train_config.data_augmentation_options.ssd_random_crop.operations.min_area").
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

from common.errors import UserError
from config import locate as _locate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """A restriction on one field path that the schema alone cannot say.

    allowed: the honoured values (enum values by name, bools as True/False); for
        repeated fields, each element.
    ignored: if set, the field is accepted but not read; this text says why it
        makes no difference, and is logged as a warning.
    why: appended to the error when a value is outside `allowed`.
    """

    allowed: Optional[FrozenSet[object]] = None
    ignored: Optional[str] = None
    why: str = ""


def only(*values: object, why: str = "") -> Rule:
    return Rule(allowed=frozenset(values), why=why)


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


def _add(prefix: str, rules: Dict[str, Rule]) -> None:
    for suffix, rule in rules.items():
        VALUE_RULES[f"{prefix}.{suffix}"] = rule


# --- model.ssd --------------------------------------------------------------

# ssd/feature_extractor.py ConvHyperparams: L2 weight, truncated-normal stddev,
# batch-norm decay/epsilon; the SSD extra layers are conv -> batch norm (if a
# `batch_norm` block is given; with or without centre and scale) -> activation.
# Unset, `activation` is RELU and `batch_norm.scale` false, as in the OD API.
_HYPERPARAMS = {
    "op": only("CONV"),
    "activation": only("NONE", "RELU", "RELU_6"),
    "initializer.truncated_normal_initializer.mean": only(0.0),
    "batch_norm.train": only(True, why="to freeze batch norm set model.ssd.freeze_batchnorm: true"),
    "regularize_depthwise": only(False),
}
_add("model.ssd.feature_extractor.conv_hyperparams", _HYPERPARAMS)
# The predictor's convolutions have no activation and no normalizer (the OD
# API's box and class heads pass activation_fn=None, normalizer_fn=None), so,
# with num_layers_before_predictor 0, its activation and batch_norm change
# nothing, whatever their values: accepted as written.
_add("model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams",
     {k: r for k, r in _HYPERPARAMS.items() if k not in ("activation", "batch_norm.train")})

_ANCHORWISE = ignored("deprecated in the OD API; losses are always computed per anchor")
_add("model.ssd", {
    "image_resizer.fixed_shape_resizer.resize_method": only("BILINEAR"),
    "image_resizer.fixed_shape_resizer.convert_to_grayscale": only(False),
    "feature_extractor.type": only(
        "ssd_mobilenet_v1", why="handtrack implements only the SSD MobileNet v1 feature extractor"),
    "feature_extractor.pad_to_multiple": only(1),
    "feature_extractor.use_explicit_padding": only(False),
    "feature_extractor.use_depthwise": only(False),
    "feature_extractor.override_base_feature_extractor_hyperparams": ignored(
        "handtrack applies conv_hyperparams to the whole MobileNet v1, whose own defaults are "
        "the same (L2 4e-5, batch-norm decay 0.9997, epsilon 0.001); initialisers only matter "
        "for layers not restored from a checkpoint"),
    "matcher.argmax_matcher.ignore_thresholds": only(False),
    "matcher.argmax_matcher.use_matmul_gather": ignored(
        "a TPU implementation detail of the gather; the matches are the same"),
    "anchor_generator.ssd_anchor_generator.num_layers": only(
        6, why="the ssd_mobilenet_v1 feature extractor always yields 6 feature maps"),
    "box_predictor.convolutional_box_predictor.min_depth": only(0),
    "box_predictor.convolutional_box_predictor.max_depth": only(0),
    "box_predictor.convolutional_box_predictor.num_layers_before_predictor": only(0),
    "box_predictor.convolutional_box_predictor.box_code_size": only(
        4, why="the faster_rcnn_box_coder encodes 4 numbers per box"),
    "box_predictor.convolutional_box_predictor.apply_sigmoid_to_scores": only(False),
    "box_predictor.convolutional_box_predictor.use_depthwise": only(False),
    "post_processing.batch_non_max_suppression.use_static_shapes": ignored(
        "a TPU implementation detail of NMS; the detections are the same"),
    "post_processing.batch_non_max_suppression.use_class_agnostic_nms": only(False),
    "post_processing.batch_non_max_suppression.max_classes_per_detection": only(1),
    "post_processing.batch_non_max_suppression.soft_nms_sigma": only(0.0),
    "post_processing.score_converter": only(
        "IDENTITY", "SIGMOID", why="the class head is trained with sigmoid losses"),
    "post_processing.logit_scale": only(1.0),
    "loss.classification_loss.weighted_sigmoid.anchorwise_output": _ANCHORWISE,
    "loss.classification_loss.weighted_sigmoid_focal.anchorwise_output": _ANCHORWISE,
    "loss.localization_loss.weighted_smooth_l1.anchorwise_output": _ANCHORWISE,
    "encode_background_as_zeros": only(
        False, why="handtrack's class head always has a background column"),
    "inplace_batchnorm_update": ignored(
        "a TF1 graph-mode detail; Keras batch norm updates its statistics itself"),
    "negative_class_weight": only(1.0),
    "normalize_loc_loss_by_codesize": only(False),
    "add_background_class": only(True),
    "explicit_background_class": only(False),
    "use_confidences_as_targets": only(False),
    "implicit_example_weight": only(1.0),
})

# --- train_config -------------------------------------------------------------

_TF1_ONLY = ignored("only used by TF1 queue-based / distributed training; no effect here")
_MAX_BOXES = only(100, why="training/inputs.py keeps up to 100 boxes per image")
_add("train_config", {
    "optimizer.use_moving_average": only(
        False, why="handtrack keeps no moving averages of the weights"),
    "optimizer.moving_average_decay": ignored(
        "moving averages are not kept, so their decay has no effect"),
    "fine_tune_checkpoint_type": only("classification", "detection"),
    "load_all_detection_checkpoint_vars": only(False),
    "max_number_of_boxes": _MAX_BOXES,
    "sync_replicas": only(False, why="handtrack trains on one machine"),
    "keep_checkpoint_every_n_hours": ignored("checkpoint retention does not change the model"),
    "startup_delay_steps": _TF1_ONLY,
    "replicas_to_aggregate": _TF1_ONLY,
    "batch_queue_capacity": _TF1_ONLY,
    "num_batch_queue_threads": _TF1_ONLY,
    "prefetch_queue_capacity": _TF1_ONLY,
    "unpad_groundtruth_tensors": ignored("a padding detail; the losses are the same"),
    "retain_original_images": ignored("only affects TensorBoard images"),
    "add_regularization_loss": only(True),
    "bias_grad_multiplier": only(0.0),
    "merge_multiple_label_boxes": only(False),
    "use_multiclass_scores": only(False),
    "data_augmentation_options.random_distort_color.color_ordering": only(0, 1),
})

# --- input readers ------------------------------------------------------------

_PIPELINE_TUNING = ignored("input-pipeline parallelism/buffering; tf.data tunes it, results are the same")
_INPUT_READER = {
    "max_number_of_boxes": _MAX_BOXES,
    "name": ignored("a display name only"),
    **{name: _PIPELINE_TUNING for name in (
        "num_readers", "queue_capacity", "min_after_dequeue", "prefetch_size",
        "num_parallel_map_calls", "num_parallel_batches", "num_prefetch_batches",
        "read_block_length", "shuffle_buffer_size", "filenames_shuffle_buffer_size")},
    "include_source_id": ignored("source ids are always kept"),
    "mask_type": ignored("instance masks are never loaded"),
    "sample_1_of_n_examples": only(1),
    "use_display_name": only(False),
    "num_additional_channels": only(0),
    "num_keypoints": only(0),
    "load_instance_masks": only(False),
    "load_multiclass_scores": only(False),
    "input_type": only("TF_EXAMPLE"),
}
# Training honours its reader's shuffling and interleaving (training/inputs.py).
_add("train_input_reader", {
    **{k: r for k, r in _INPUT_READER.items() if k not in (
        "shuffle_buffer_size", "filenames_shuffle_buffer_size", "num_readers",
        "read_block_length")},
    "num_epochs": only(0, why="training repeats the records until train_config.num_steps"),
})
_add("eval_input_reader", {
    **_INPUT_READER,
    "shuffle": only(False, why="evaluation reads the records in order"),
    "num_epochs": only(1, why="evaluation reads every record once"),
    "sample_from_datasets_weights": ignored("evaluation reads every record once"),
})

# --- eval_config ----------------------------------------------------------------

_EVAL_DISPLAY = ignored("evaluation scheduling/visualisation only; the metrics are the same")
_add("eval_config", {
    "metrics_set": only("coco_detection_metrics"),
    "use_moving_averages": only(False, why="handtrack keeps no moving averages of the weights"),
    "include_metrics_per_category": only(False),
    "ignore_groundtruth": only(False),
    **{name: _EVAL_DISPLAY for name in (
        "batch_size", "num_visualizations", "eval_interval_secs", "max_evals", "save_graph",
        "eval_master", "visualization_export_dir", "min_score_threshold",
        "max_num_boxes_to_visualize", "skip_scores", "skip_labels",
        "visualize_groundtruth_boxes", "groundtruth_box_visualization_color",
        "keep_image_id_for_visualization_export", "retain_original_images")},
})


# --- the walk -------------------------------------------------------------------

class ConfigError(UserError):
    """A config that handtrack cannot honour. `problems` lists every message found."""

    def __init__(self, problems: List[str]):
        self.problems = list(problems)
        text = problems[0]
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}: " \
                    + "; ".join(p for p in problems[1:4]) + ("; ..." if len(problems) > 4 else "") + ")"
        super().__init__(text)


def format_value(field: _descriptor.FieldDescriptor, value: object) -> str:
    if field.type == field.TYPE_ENUM:
        ev = field.enum_type.values_by_number.get(value)
        return ev.name if ev else str(value)
    if field.type == field.TYPE_BOOL:
        return "true" if value else "false"
    if field.type in (field.TYPE_STRING, field.TYPE_BYTES):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def _comparable(field: _descriptor.FieldDescriptor, value: object) -> object:
    if field.type == field.TYPE_ENUM:
        ev = field.enum_type.values_by_number.get(value)
        return ev.name if ev else value
    if isinstance(value, float):
        return float(f"{value:.7g}")  # float32 -> the decimal written in the file
    return value


def _format_allowed(field: _descriptor.FieldDescriptor, allowed: Iterable[object]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, str) and field.type != field.TYPE_ENUM:
            return f'"{v}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    return ", ".join(sorted(fmt(v) for v in allowed))


def _is_repeated(field: _descriptor.FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag() if callable(flag) else flag)
    return field.label == field.LABEL_REPEATED


class _Where:
    """Turns a field path into `file:line:col: dotted.path` for messages."""

    def __init__(self, source_text: Optional[str], path: Optional[str]):
        self.path = path or "<config>"
        self.locations = _locate.field_locations(source_text) if source_text is not None else {}

    def __call__(self, key: _locate.PathKey) -> str:
        pos = _locate.locate(self.locations, key)
        where = f"{self.path}:{pos[0]}:{pos[1]}" if pos else self.path
        return f"{where}: {_locate.dotted(key)}"


_HONOURED = Rule()


def _walk(msg: _message.Message, key: _locate.PathKey, where: _Where,
          problems: List[str], warnings: List[str]) -> None:
    for field, value in msg.ListFields():
        fkey = key + ((field.name, 0),)
        dotted = _locate.dotted(fkey)
        rule = VALUE_RULES.get(dotted, _HONOURED)
        items = list(value) if _is_repeated(field) else [value]
        if rule.ignored is not None:
            warnings.append(f"{where(fkey)} is ignored: {rule.ignored}")
            continue
        for index, item in enumerate(items):
            ikey = key + ((field.name, index),)
            if field.type == field.TYPE_MESSAGE:
                _walk(item, ikey, where, problems, warnings)
            elif rule.allowed is not None and _comparable(field, item) not in rule.allowed:
                problems.append(
                    f"{where(ikey)}: {format_value(field, item)} is not supported "
                    f"(supported: {_format_allowed(field, rule.allowed)})"
                    + (f"; {rule.why}" if rule.why else ""))


def _k(dotted: str) -> _locate.PathKey:
    return tuple((name, 0) for name in dotted.split("."))


def _check_values(config: _message.Message, where: _Where) -> List[str]:
    """Value checks the OD API builders would also fail on. Returns messages."""
    out: List[str] = []

    def bad(dotted: str, text: str) -> None:
        out.append(f"{where(_k(dotted))}: {text}")

    if not config.HasField("model") or not config.model.HasField("ssd"):
        bad("model.ssd", "missing: handtrack needs a `model { ssd { ... } }` block")
        return out
    ssd = config.model.ssd
    if ssd.num_classes < 1:
        bad("model.ssd.num_classes", f"must be >= 1 (got {ssd.num_classes})")
    required = {
        "image_resizer.fixed_shape_resizer": ssd.image_resizer.HasField("fixed_shape_resizer"),
        "feature_extractor.type": ssd.feature_extractor.HasField("type"),
        "box_coder.faster_rcnn_box_coder": ssd.box_coder.HasField("faster_rcnn_box_coder"),
        "matcher.argmax_matcher": ssd.matcher.HasField("argmax_matcher"),
        "similarity_calculator.iou_similarity": ssd.similarity_calculator.HasField("iou_similarity"),
        "anchor_generator.ssd_anchor_generator": ssd.anchor_generator.HasField("ssd_anchor_generator"),
        "box_predictor.convolutional_box_predictor":
            ssd.box_predictor.HasField("convolutional_box_predictor"),
        "post_processing": ssd.HasField("post_processing"),
        "loss.classification_loss": ssd.loss.HasField("classification_loss"),
        "loss.localization_loss": ssd.loss.HasField("localization_loss"),
    }
    for name, present in required.items():
        if not present:
            bad(f"model.ssd.{name}", "missing (required by handtrack's SSD model)")
    resizer = ssd.image_resizer.fixed_shape_resizer
    for side in ("height", "width"):
        if getattr(resizer, side) < 1:
            bad(f"model.ssd.image_resizer.fixed_shape_resizer.{side}",
                f"must be >= 1 (got {getattr(resizer, side)})")
    fe = ssd.feature_extractor
    if fe.depth_multiplier <= 0:
        bad("model.ssd.feature_extractor.depth_multiplier", f"must be > 0 (got {fe.depth_multiplier:g})")
    if fe.min_depth < 0:
        bad("model.ssd.feature_extractor.min_depth", f"must be >= 0 (got {fe.min_depth})")
    am = ssd.matcher.argmax_matcher
    if not am.ignore_thresholds and am.unmatched_threshold > am.matched_threshold:
        bad("model.ssd.matcher.argmax_matcher.unmatched_threshold",
            f"must be <= matched_threshold ({am.unmatched_threshold:g} > {am.matched_threshold:g})")
    ag = ssd.anchor_generator.ssd_anchor_generator
    if ag.min_scale > ag.max_scale:
        bad("model.ssd.anchor_generator.ssd_anchor_generator.min_scale",
            f"must be <= max_scale ({ag.min_scale:g} > {ag.max_scale:g})")
    if ag.scales and len(ag.scales) != ag.num_layers:
        bad("model.ssd.anchor_generator.ssd_anchor_generator.scales",
            f"needs one entry per layer (num_layers = {ag.num_layers}, got {len(ag.scales)})")
    nms = ssd.post_processing.batch_non_max_suppression
    if not 0.0 <= nms.iou_threshold <= 1.0:
        bad("model.ssd.post_processing.batch_non_max_suppression.iou_threshold",
            f"must be in [0, 1] (got {nms.iou_threshold:g})")
    if nms.max_detections_per_class < 1 or nms.max_total_detections < 1:
        bad("model.ssd.post_processing.batch_non_max_suppression", "max detections must be >= 1")
    focal = ssd.loss.classification_loss
    if focal.HasField("weighted_sigmoid_focal") and not focal.weighted_sigmoid_focal.HasField("alpha"):
        bad("model.ssd.loss.classification_loss.weighted_sigmoid_focal.alpha",
            "missing: set alpha explicitly (the OD API uses 0.25 and 0.75); "
            "handtrack has no focal loss without alpha weighting")
    cbp = ssd.box_predictor.convolutional_box_predictor
    if not 0.0 < cbp.dropout_keep_probability <= 1.0:
        bad("model.ssd.box_predictor.convolutional_box_predictor.dropout_keep_probability",
            f"must be in (0, 1] (got {cbp.dropout_keep_probability:g})")

    tc = config.train_config
    if tc.HasField("batch_size") and tc.batch_size < 1:
        bad("train_config.batch_size", "must be >= 1")
    if tc.HasField("fine_tune_checkpoint_type") and tc.HasField("from_detection_checkpoint"):
        legacy = "detection" if tc.from_detection_checkpoint else "classification"
        if tc.fine_tune_checkpoint_type != legacy:
            bad("train_config.from_detection_checkpoint",
                f"contradicts fine_tune_checkpoint_type \"{tc.fine_tune_checkpoint_type}\"; "
                f"remove the legacy from_detection_checkpoint")
    opt_name = tc.optimizer.WhichOneof("optimizer")
    if opt_name:
        lr = getattr(tc.optimizer, opt_name).learning_rate
        prefix = f"train_config.optimizer.{opt_name}.learning_rate"
        if tc.optimizer.HasField(opt_name) and not getattr(tc.optimizer, opt_name).HasField("learning_rate"):
            bad(prefix, "missing: the optimizer needs a learning_rate schedule")
        cos = lr.cosine_decay_learning_rate
        if lr.HasField("cosine_decay_learning_rate"):
            if cos.warmup_steps > cos.total_steps:
                bad(f"{prefix}.cosine_decay_learning_rate.warmup_steps",
                    f"must be <= total_steps ({cos.warmup_steps} > {cos.total_steps})")
            if cos.learning_rate_base < cos.warmup_learning_rate:
                bad(f"{prefix}.cosine_decay_learning_rate.warmup_learning_rate",
                    f"must be <= learning_rate_base ({cos.warmup_learning_rate:g} > "
                    f"{cos.learning_rate_base:g})")
        exp = lr.exponential_decay_learning_rate
        if lr.HasField("exponential_decay_learning_rate") and exp.decay_steps < 1:
            bad(f"{prefix}.exponential_decay_learning_rate.decay_steps", "must be >= 1")
        out.extend(_check_rates(lr, _k(prefix), where))

    if len(config.eval_input_reader) > 1:
        out.append(f"{where((('eval_input_reader', 1),))}: only one eval_input_reader is supported "
                   f"(got {len(config.eval_input_reader)})")
    return out


# The rate a schedule starts from (or holds): must be > 0, or nothing is learned.
_MAIN_RATES = {"learning_rate", "initial_learning_rate", "learning_rate_base"}


def _check_rates(msg: _message.Message, key: _locate.PathKey, where: _Where) -> List[str]:
    """Every learning rate set in a schedule must be a finite number, >= 0 (the main
    rate > 0): a negative rate climbs the loss and NaN poisons the weights at the
    first step, which would otherwise surface only as "loss is nan"."""
    out: List[str] = []
    for field, value in msg.ListFields():
        items = list(value) if _is_repeated(field) else [value]
        for index, item in enumerate(items):
            fkey = key + ((field.name, index),)
            if isinstance(item, _message.Message):
                out.extend(_check_rates(item, fkey, where))
            elif "learning_rate" in field.name and isinstance(item, float):
                if not math.isfinite(item):
                    out.append(f"{where(fkey)}: must be a finite number (got {item:g})")
                elif item < 0 or (item == 0 and field.name in _MAIN_RATES):
                    out.append(f"{where(fkey)}: must be {'> 0' if field.name in _MAIN_RATES else '>= 0'}"
                               f" (got {item:g})")
    return out


def _check_effective_values(config: _message.Message, where: _Where,
                            problems: List[str], warnings: List[str]) -> None:
    """Values that hold when a field is left unset, where the OD API's default is
    not something handtrack does: fail (or, for moving averages, warn) as for a
    field set to it. Messages point at the nearest block written in the file."""
    if not config.HasField("model") or not config.model.HasField("ssd"):
        return
    ssd = config.model.ssd
    hyper_paths = ("model.ssd.feature_extractor.conv_hyperparams",
                   "model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams")
    for dotted, hyper in zip(hyper_paths, (ssd.feature_extractor.conv_hyperparams,
                                           ssd.box_predictor.convolutional_box_predictor.conv_hyperparams)):
        if not hyper.initializer.WhichOneof("initializer_oneof"):
            problems.append(
                f"{where(_k(dotted + '.initializer'))}: missing: the OD API refuses conv_hyperparams "
                f"without an initializer; add initializer {{ truncated_normal_initializer {{ "
                f"stddev: 0.03 }} }} (the classic configs' value)")
    loss = ssd.loss
    for kind, example in (("classification_loss", "weighted_sigmoid {}"),
                          ("localization_loss", "weighted_smooth_l1 {}")):
        block = getattr(loss, kind)
        if loss.HasField(kind) and not block.WhichOneof(kind):
            problems.append(f"{where(_k('model.ssd.loss.' + kind))}: empty: the OD API refuses "
                            f"an empty loss; set one, e.g. {example}")
    ag = ssd.anchor_generator.ssd_anchor_generator
    if (ssd.anchor_generator.HasField("ssd_anchor_generator") and not ag.aspect_ratios
            and ag.interpolated_scale_aspect_ratio <= 0.0
            and (ag.num_layers > 1 or not ag.reduce_boxes_in_lowest_layer)):
        problems.append(
            f"{where(_k('model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios'))}: "
            f"empty, and interpolated_scale_aspect_ratio is {ag.interpolated_scale_aspect_ratio:g}: "
            f"feature maps would get no anchors; list aspect_ratios (the classic configs use "
            f"1.0, 2.0, 0.5, 3.0, 0.3333)")
    opt = config.train_config.optimizer
    if config.train_config.HasField("optimizer") and not opt.HasField("use_moving_average"):
        warnings.append(
            f"{where(_k('train_config.optimizer.use_moving_average'))} is unset: the OD API's "
            f"default (true) also keeps a moving average of the weights for evaluation and "
            f"export; handtrack keeps none. Set use_moving_average: false to silence this")


def validate(config: _message.Message, source_text: Optional[str] = None,
             path: Optional[str] = None, *, log_warnings: bool = True) -> List[str]:
    """Check that handtrack honours everything set in `config`.

    `source_text` is the text `config` was parsed from (for line numbers) and
    `path` the file name to show. Raises ConfigError (a UserError) naming the
    first offending field as `path:line:col: dotted.field: ...`. Returns the
    warnings for accepted-but-ignored fields, after logging each one
    (unless log_warnings is False).
    """
    where = _Where(source_text, path)
    problems: List[str] = []
    warnings: List[str] = []
    _walk(config, (), where, problems, warnings)
    problems.extend(_check_values(config, where))
    _check_effective_values(config, where, problems, warnings)
    if problems:
        raise ConfigError(problems)
    if log_warnings:
        for text in warnings:
            log.warning("%s", text)
    return warnings


def check_label_map(config: _message.Message, names: List[str], label_map: str,
                    config_path: Optional[object] = None) -> None:
    """ConfigError unless model.ssd.num_classes equals the label map's class count.

    A mismatch trains a classifier of the wrong width to exit 0 and only shows up
    at evaluation; `config_path` (the pipeline.config file) gives the file:line.
    """
    num = config.model.ssd.num_classes
    if num == len(names):
        return
    text = None
    if config_path is not None:
        try:
            with open(config_path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = None
    where = _Where(text, str(config_path) if config_path is not None else None)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise ConfigError([f"{where(_k('model.ssd.num_classes'))}: {num}, but the label map "
                       f"{label_map} has {len(names)} class(es) ({shown}); make them agree"])


def supported_paths() -> Tuple[str, ...]:
    """Every honoured (not merely ignored) field path of the schema, sorted."""
    from config.pipeline_pb2 import TrainEvalPipelineConfig

    found: List[str] = []

    def visit(desc: _descriptor.Descriptor, prefix: str) -> None:
        for field in desc.fields:
            path = f"{prefix}.{field.name}" if prefix else field.name
            if VALUE_RULES.get(path, _HONOURED).ignored is None:
                found.append(path)
                if field.message_type is not None:
                    visit(field.message_type, path)

    visit(TrainEvalPipelineConfig.DESCRIPTOR, "")
    return tuple(sorted(found))
