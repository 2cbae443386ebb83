"""Check a loaded pipeline.config against config/rules.py, naming file:line:col.

`validate` walks every field SET in a config through `rules.VALUE_RULES`, then
`_checks` does what one field's rule cannot: the blocks the model needs, fields
that must agree with each other, and unset fields whose OD API default handtrack
cannot do (no initializer, an empty loss, feature maps without anchors), named
at the nearest block written in the file. An unset `use_moving_average`
(default true) is only warned about, so the classic config still loads.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from common.errors import UserError
from config import locate as _locate
from config.rules import HONOURED, REQUIRED, VALUE_RULES, comparable

log = logging.getLogger(__name__)


class ConfigError(UserError):
    """A config that handtrack cannot honour. `problems` lists every message found."""

    def __init__(self, problems: List[str]):
        self.problems = list(problems)
        text = problems[0]
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}: " \
                    + "; ".join(p for p in problems[1:4]) + ("; ..." if len(problems) > 4 else "") + ")"
        super().__init__(text)


def _show(field: FieldDescriptor, value: object) -> str:
    """A value as text format writes it (a rule's enum values are already names)."""
    value = comparable(field, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and field.type != field.TYPE_ENUM:
        return f'"{value}"'
    return f"{value:.7g}" if isinstance(value, float) else str(value)


class _Where:
    """Turns a field path (dotted, or a locate.PathKey) into `file:line:col: dotted.path`."""

    def __init__(self, source_text: Optional[str], path: Optional[str]):
        self.path = path or "<config>"
        self.locations = _locate.field_locations(source_text) if source_text is not None else {}

    def __call__(self, key: Union[str, _locate.PathKey]) -> str:
        if isinstance(key, str):
            key = tuple((name, 0) for name in key.split("."))
        pos = _locate.locate(self.locations, key)
        return f"{self.path}:{pos[0]}:{pos[1]}: {_locate.dotted(key)}" if pos else \
            f"{self.path}: {_locate.dotted(key)}"


def _walk(msg: Message, key: _locate.PathKey, where: _Where, problems: List[str], warnings: List[str]) -> None:
    for field, value in msg.ListFields():
        rule = VALUE_RULES.get(_locate.dotted(key + ((field.name, 0),)), HONOURED)
        if rule.ignored is not None:
            warnings.append(f"{where(key + ((field.name, 0),))} is ignored: {rule.ignored}")
            continue
        for index, item in enumerate(value if field.is_repeated else [value]):
            ikey = key + ((field.name, index),)
            if field.message_type is not None:
                _walk(item, ikey, where, problems, warnings)
            elif rule.allowed is not None and comparable(field, item) not in rule.allowed:
                problems.append(f"{where(ikey)}: {_show(field, item)} is not supported (supported: "
                                f"{', '.join(sorted(_show(field, v) for v in rule.allowed))})"
                                + (f"; {rule.why}" if rule.why else ""))
            elif rule.test is not None and not rule.test(item):
                problems.append(f"{where(ikey)}: must be {rule.expect} (got {_show(field, item)})")


def _has(msg: Message, path: str) -> bool:
    for name in path.split("."):
        if not msg.HasField(name):
            return False
        msg = getattr(msg, name)
    return True


def _checks(config: Message) -> Iterator[Tuple[Union[str, _locate.PathKey], str]]:
    """(field, complaint) for what one field's rule cannot say; the OD API fails on these too."""
    if not (config.HasField("model") and config.model.HasField("ssd")):
        yield "model.ssd", "missing: handtrack needs a `model { ssd { ... } }` block"
        return
    ssd = config.model.ssd
    for path in REQUIRED:
        if not _has(ssd, path):
            yield f"model.ssd.{path}", "missing (required by handtrack's SSD model)"
    am = ssd.matcher.argmax_matcher
    if not am.ignore_thresholds and am.unmatched_threshold > am.matched_threshold:
        yield ("model.ssd.matcher.argmax_matcher.unmatched_threshold",
               f"must be <= matched_threshold ({am.unmatched_threshold:g} > {am.matched_threshold:g})")
    ag, at = ssd.anchor_generator.ssd_anchor_generator, "model.ssd.anchor_generator.ssd_anchor_generator"
    if ag.min_scale > ag.max_scale:
        yield f"{at}.min_scale", f"must be <= max_scale ({ag.min_scale:g} > {ag.max_scale:g})"
    if ag.scales and len(ag.scales) != ag.num_layers:
        yield f"{at}.scales", f"needs one entry per layer (num_layers = {ag.num_layers}, got {len(ag.scales)})"
    if (ssd.anchor_generator.HasField("ssd_anchor_generator") and not ag.aspect_ratios
            and ag.interpolated_scale_aspect_ratio <= 0.0 and (ag.num_layers > 1 or not ag.reduce_boxes_in_lowest_layer)):
        yield (f"{at}.aspect_ratios", f"empty, and interpolated_scale_aspect_ratio is "
               f"{ag.interpolated_scale_aspect_ratio:g}: feature maps would get no anchors; list aspect_ratios "
               f"(the classic configs use 1.0, 2.0, 0.5, 3.0, 0.3333)")
    for at, hyper in (("model.ssd.feature_extractor.conv_hyperparams", ssd.feature_extractor.conv_hyperparams),
                      ("model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams",
                       ssd.box_predictor.convolutional_box_predictor.conv_hyperparams)):
        if not hyper.initializer.WhichOneof("initializer_oneof"):
            yield (f"{at}.initializer", "missing: the OD API refuses conv_hyperparams without an initializer; "
                   "add initializer { truncated_normal_initializer { stddev: 0.03 } } (the classic configs' value)")
    for kind, example in (("classification_loss", "weighted_sigmoid {}"), ("localization_loss", "weighted_smooth_l1 {}")):
        if ssd.loss.HasField(kind) and not getattr(ssd.loss, kind).WhichOneof(kind):
            yield f"model.ssd.loss.{kind}", f"empty: the OD API refuses an empty loss; set one, e.g. {example}"
    focal = ssd.loss.classification_loss
    if focal.HasField("weighted_sigmoid_focal") and not focal.weighted_sigmoid_focal.HasField("alpha"):
        yield ("model.ssd.loss.classification_loss.weighted_sigmoid_focal.alpha",
               "missing: set alpha explicitly (the OD API uses 0.25 and 0.75); "
               "handtrack has no focal loss without alpha weighting")

    tc = config.train_config
    if tc.HasField("fine_tune_checkpoint_type") and tc.HasField("from_detection_checkpoint") and \
            tc.fine_tune_checkpoint_type != ("detection" if tc.from_detection_checkpoint else "classification"):
        yield ("train_config.from_detection_checkpoint", f"contradicts fine_tune_checkpoint_type "
               f"\"{tc.fine_tune_checkpoint_type}\"; remove the legacy from_detection_checkpoint")
    opt = tc.optimizer.WhichOneof("optimizer")
    if opt:
        at = f"train_config.optimizer.{opt}.learning_rate"
        if not getattr(tc.optimizer, opt).HasField("learning_rate"):
            yield at, "missing: the optimizer needs a learning_rate schedule"
        cos = getattr(tc.optimizer, opt).learning_rate.cosine_decay_learning_rate
        if getattr(tc.optimizer, opt).learning_rate.HasField("cosine_decay_learning_rate"):
            if cos.warmup_steps > cos.total_steps:
                yield (f"{at}.cosine_decay_learning_rate.warmup_steps",
                       f"must be <= total_steps ({cos.warmup_steps} > {cos.total_steps})")
            if cos.learning_rate_base < cos.warmup_learning_rate:
                yield (f"{at}.cosine_decay_learning_rate.warmup_learning_rate", f"must be <= learning_rate_base "
                       f"({cos.warmup_learning_rate:g} > {cos.learning_rate_base:g})")
    reader = config.train_input_reader
    weights, inputs = (len(reader.sample_from_datasets_weights),
                       len(reader.tf_record_input_reader.input_path))
    if weights and inputs and weights != inputs:
        yield ("train_input_reader.sample_from_datasets_weights",
               f"{weights} weights for {inputs} input_path entries: give one weight per input_path")
    if len(config.eval_input_reader) > 1:
        yield ((("eval_input_reader", 1),),
               f"only one eval_input_reader is supported (got {len(config.eval_input_reader)})")


def validate(config: Message, source_text: Optional[str] = None, path: Optional[str] = None, *,
             log_warnings: bool = True) -> List[str]:
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
    problems += [f"{where(key)}: {text}" for key, text in _checks(config)]
    if config.train_config.HasField("optimizer") and not config.train_config.optimizer.HasField("use_moving_average"):
        warnings.append(f"{where('train_config.optimizer.use_moving_average')} is unset: the OD API's default "
                        f"(true) also keeps a moving average of the weights for evaluation and export; "
                        f"handtrack keeps none. Set use_moving_average: false to silence this")
    if problems:
        raise ConfigError(problems)
    for text in warnings if log_warnings else ():
        log.warning("%s", text)
    return warnings


def check_label_map(config: Message, names: List[str], label_map: str, config_path: Optional[object] = None) -> None:
    """ConfigError unless model.ssd.num_classes equals the label map's class count.

    A mismatch trains a classifier of the wrong width to exit 0 and only shows up
    at evaluation; `config_path` (the pipeline.config file) gives the file:line.
    """
    num = config.model.ssd.num_classes
    if num == len(names):
        return
    try:
        text = Path(config_path).read_text(encoding="utf-8") if config_path is not None else None
    except OSError:
        text = None
    where = _Where(text, str(config_path) if config_path is not None else None)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise ConfigError([f"{where('model.ssd.num_classes')}: {num}, but the label map {label_map} "
                       f"has {len(names)} class(es) ({shown}); make them agree"])
