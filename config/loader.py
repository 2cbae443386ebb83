"""Load, check, override and save pipeline.config files.

    from config.loader import load_pipeline
    cfg = load_pipeline("ssd.config")          # pipeline_configs/ssd.config
    cfg.model.ssd.num_classes                  # plain protobuf access

Paths inside a config (`fine_tune_checkpoint`, `label_map_path`,
`tf_record_input_reader.input_path`) are NOT rewritten: a relative path means
relative to the working directory of the process that uses it, as in the OD API
(the shipped configs assume the repository root); config.paths resolves them.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, TypeVar, Union

from google.protobuf import text_format
from google.protobuf.message import Message

from common.atomic import atomic_write_text
from common.errors import UserError
from config import locate as _locate
from config import rules as _rules
from config import validation as _validation
from config.pipeline_pb2 import TrainConfig, TrainEvalPipelineConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "pipeline_configs"
CONFIG_SUFFIX = ".config"

PathLike = Union[str, "os.PathLike[str]"]
M = TypeVar("M", bound=Message)


def display_path(path: PathLike) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p.resolve()) if p.is_absolute() or ".." in p.parts else str(p)


def resolve_config_path(path_or_name: PathLike) -> Path:
    """Find a config file.

    A path that exists is used as given. A bare file name (no directory part)
    that does not exist in the working directory is looked up in the repo's
    pipeline_configs/, with ".config" appended if it has no suffix
    ("ssd" -> pipeline_configs/ssd.config). Raises UserError if nothing matches.
    """
    raw = os.fspath(path_or_name)
    if not raw.strip():
        raise UserError("pipeline config: empty path")
    given = Path(raw).expanduser()
    if given.is_file():
        return given
    if given.exists():
        raise UserError(f"pipeline config {raw}: not a file")
    bare = "/" not in raw and os.sep not in raw
    for name in ([raw] if raw.endswith(CONFIG_SUFFIX) else [raw, raw + CONFIG_SUFFIX]) if bare else []:
        if (CONFIG_DIR / name).is_file():
            return CONFIG_DIR / name
    shipped = sorted(p.name for p in CONFIG_DIR.glob(f"*{CONFIG_SUFFIX}")) if CONFIG_DIR.is_dir() else []
    hint = f"; shipped configs in {display_path(CONFIG_DIR)}/: {', '.join(shipped)}" if bare and shipped else ""
    raise UserError(f"pipeline config {raw}: file not found{hint}")


_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "([^"]+)"')
_PREFIX = re.compile(r"^(?:\d+:\d+ : )?(?:'[^\n]*?': )?")  # text_format's position and quoted line


def _parse_error_message(exc: text_format.ParseError, text: str, shown: str) -> str:
    line, col = exc.GetLine(), exc.GetColumn()
    where, msg = (f"{shown}:{line}:{col}" if line else shown), _PREFIX.sub("", str(exc))
    if msg == 'Expected "}".' and _unclosed(text):
        return f"{where}: unclosed {{ (the file ends inside a block)"
    m = _UNKNOWN_FIELD.search(msg)
    if not m:
        return f"{where}: {msg}"
    type_name, name = m.groups()
    short = type_name.rsplit(".", 1)[-1]
    # The offending name is written at (line, col); its parent path names the block.
    parent = next((_locate.dotted(key[:-1]) for key, pos in _locate.field_locations(text).items()
                   if pos == (line, col) and len(key) > 1 and key[-1][0] == name), "") if line else ""
    if name in _rules.NOT_IMPLEMENTED.get(short, ()):
        return (f"{where}: {parent + '.' if parent else ''}{name} is set, but handtrack does not implement it; "
                f"remove it (config/pipeline.proto holds the supported fields)")
    try:
        known = [f.name for f in TrainEvalPipelineConfig.DESCRIPTOR.file.pool.FindMessageTypeByName(type_name).fields]
    except KeyError:
        known = []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else \
        f"; known fields: {', '.join(known)}" if known and len(known) <= 8 else ""
    return f'{where}: unknown field "{name}" in {parent or "the top level"} ({short}){hint}'


def _unclosed(text: str) -> bool:
    """More `{` than `}` outside strings and comments: the file ends inside a block
    (text_format only says 'Expected "}"' at the last token)."""
    symbols = [t.text for t in _locate.tokenize(text) if t.kind == "symbol"]
    return symbols.count("{") > symbols.count("}")


def parse_text(text: str, message: M, shown: str) -> M:
    """Parse text-format protobuf into `message` (a message of config/pipeline.proto:
    a pipeline.config, a label map). Syntax errors and unknown fields raise UserError
    as `shown:line:col: ...`, with a "did you mean" for a misspelt field name."""
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise UserError(_parse_error_message(exc, text, shown)) from None
    return message


def parse_pipeline(text: str, path: Optional[PathLike] = None) -> TrainEvalPipelineConfig:
    """Parse pipeline.config text. Syntax errors and unknown fields raise
    UserError as `file:line:col: ...`. No validation (see `validate`)."""
    return parse_text(text, TrainEvalPipelineConfig(), display_path(path) if path is not None else "<config>")


def fine_tune_checkpoint_type(train_config: TrainConfig) -> str:
    """"classification", "detection", or "" when there is no fine_tune_checkpoint.

    Honours the legacy `from_detection_checkpoint` when the type is unset, as the
    OD API does (load_pipeline fills the type in through `normalise`; this also
    covers configs built in code).
    """
    if not train_config.fine_tune_checkpoint:
        return ""
    return train_config.fine_tune_checkpoint_type or \
        ("detection" if train_config.from_detection_checkpoint else "classification")


def normalise(config: TrainEvalPipelineConfig) -> TrainEvalPipelineConfig:
    """Fill in what the OD API derives at load time (the checkpoint type); in place, returns config."""
    if config.train_config.fine_tune_checkpoint and not config.train_config.fine_tune_checkpoint_type:
        config.train_config.fine_tune_checkpoint_type = fine_tune_checkpoint_type(config.train_config)
    return config


def validate(config: TrainEvalPipelineConfig, source_text: Optional[str] = None,
             path: Optional[PathLike] = None) -> List[str]:
    """Reject fields handtrack does not honour (config/rules.py); raises UserError naming
    `file:line:col` and the field, returns the warnings logged for ignored fields."""
    return _validation.validate(config, source_text, display_path(path) if path is not None else None)


def loads_pipeline(text: str, path: Optional[PathLike] = None) -> TrainEvalPipelineConfig:
    """parse_pipeline + validate + normalise on text already in memory."""
    config = parse_pipeline(text, path)
    validate(config, text, path)
    return normalise(config)


def load_pipeline(path_or_name: PathLike) -> TrainEvalPipelineConfig:
    """Read, parse, validate and normalise a pipeline.config.

    `path_or_name` is a path, or a bare name of a shipped config
    ("ssd.config" or "ssd"; see resolve_config_path). Every problem a user
    can fix (missing file, syntax error, unknown field, field or value
    handtrack does not honour) raises UserError naming the file and line.
    """
    path = resolve_config_path(path_or_name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{display_path(path)}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UserError(f"{display_path(path)}: cannot read: {exc.strerror or exc}") from None
    config = loads_pipeline(text, path)
    log.debug("loaded pipeline config %s", display_path(path))
    return config


def save_pipeline(config: TrainEvalPipelineConfig, path: PathLike, *, header: Optional[str] = None) -> Path:
    """Write `config` as text format (floats in their shortest form) to `path` atomically,
    after `header` (optional) as `#` comment lines; returns the path."""
    text = "".join(f"# {line}".rstrip() + "\n" for line in (header or "").splitlines())
    atomic_write_text(Path(path), text + text_format.MessageToString(config))
    return Path(path)


def _positive_int(flag: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"--{flag}: must be a positive integer (got {value!r})")
    return value


def _nonempty_str(flag: str, value: object) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise UserError(f"--{flag}: must be a non-empty path (got {value!r})")
    return os.fspath(value)


def _paths(flag: str, value: Union[PathLike, Sequence[PathLike]]) -> List[str]:
    items = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    if not items:
        raise UserError(f"--{flag}: needs at least one path")
    return [_nonempty_str(flag, v) for v in items]


# Each schedule's peak rate, and the rates the OD API scales with it.
_PEAK_RATE = {"constant_learning_rate": ("learning_rate", ()),
              "exponential_decay_learning_rate": ("initial_learning_rate", ("burnin_learning_rate", "min_learning_rate")),
              "cosine_decay_learning_rate": ("learning_rate_base", ("warmup_learning_rate",))}


def _schedule(tc: TrainConfig) -> Tuple[Optional[str], Optional[Message]]:
    """(kind, message) of the optimizer's learning-rate schedule; (None, None) if there is none."""
    opt = tc.optimizer.WhichOneof("optimizer")
    kind = getattr(tc.optimizer, opt).learning_rate.WhichOneof("learning_rate") if opt else None
    return kind, getattr(getattr(tc.optimizer, opt).learning_rate, kind) if kind else None


def apply_overrides(
    config: TrainEvalPipelineConfig,
    *,
    num_steps: Optional[int] = None,
    batch_size: Optional[int] = None,
    num_classes: Optional[int] = None,
    learning_rate: Optional[float] = None,
    fine_tune_checkpoint: Optional[PathLike] = None,
    fine_tune_checkpoint_type: Optional[str] = None,
    train_input_path: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    eval_input_path: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    label_map_path: Optional[PathLike] = None,
) -> TrainEvalPipelineConfig:
    """Return a copy of `config` with command-line overrides applied.

    None leaves a field alone. Bad values raise UserError naming the flag
    (`--num_steps: ...`); flags are expected to share these names.

    * num_steps: train_config.num_steps. A cosine schedule whose total_steps
      equalled the old num_steps follows the new one (its warmup_steps scaled
      by the same factor), so a shorter run still decays fully.
    * learning_rate: the peak rate of whichever schedule is configured
      (constant learning_rate, exponential initial_learning_rate, cosine
      learning_rate_base; the cosine warmup_learning_rate and exponential
      burnin/min rates are scaled by the same factor, as the OD API does).
    * train_input_path / eval_input_path: replace the input_path list (a path
      or a list; globs allowed). label_map_path: both readers.
    """
    out = TrainEvalPipelineConfig()
    out.CopyFrom(config)
    tc = out.train_config
    kind, schedule = _schedule(tc)
    if num_steps is not None:
        new = num_steps if num_steps == 0 and not isinstance(num_steps, bool) else \
            _positive_int("num_steps", num_steps)  # 0: train until stopped, as in the OD API
        if kind == "cosine_decay_learning_rate" and tc.num_steps and new and schedule.total_steps == tc.num_steps:
            schedule.warmup_steps = min(new, round(schedule.warmup_steps * new / tc.num_steps))
            schedule.total_steps = new
            log.info("cosine schedule follows --num_steps: total_steps %d, warmup_steps %d",
                     schedule.total_steps, schedule.warmup_steps)
        tc.num_steps = new
    if batch_size is not None:
        tc.batch_size = _positive_int("batch_size", batch_size)
    if num_classes is not None:
        out.model.ssd.num_classes = _positive_int("num_classes", num_classes)
    if learning_rate is not None:
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
            raise UserError(f"--learning_rate: must be a positive number (got {learning_rate!r})")
        if kind not in _PEAK_RATE:
            raise UserError("--learning_rate: the config has no train_config.optimizer learning_rate to override")
        peak, scaled = _PEAK_RATE[kind]
        ratio = learning_rate / getattr(schedule, peak) if getattr(schedule, peak) else 1.0
        setattr(schedule, peak, learning_rate)
        for name in scaled:  # an unset burn-in or minimum rate is 0 and stays unset
            if getattr(schedule, name):
                setattr(schedule, name, getattr(schedule, name) * ratio)
    if fine_tune_checkpoint is not None:
        tc.fine_tune_checkpoint = _nonempty_str("fine_tune_checkpoint", fine_tune_checkpoint)
    if fine_tune_checkpoint_type is not None:
        allowed = _rules.VALUE_RULES["train_config.fine_tune_checkpoint_type"].allowed or ()
        if fine_tune_checkpoint_type not in allowed:
            raise UserError(f"--fine_tune_checkpoint_type: must be one of {', '.join(sorted(allowed))} "
                            f"(got {fine_tune_checkpoint_type!r})")
        tc.fine_tune_checkpoint_type = fine_tune_checkpoint_type
        tc.ClearField("from_detection_checkpoint")
    if train_input_path is not None:
        out.train_input_reader.tf_record_input_reader.input_path[:] = _paths("train_input_path", train_input_path)
    if (eval_input_path is not None or label_map_path is not None) and not out.eval_input_reader:
        out.eval_input_reader.add()
    if eval_input_path is not None:
        out.eval_input_reader[0].tf_record_input_reader.input_path[:] = _paths("eval_input_path", eval_input_path)
    if label_map_path is not None:
        value = _nonempty_str("label_map_path", label_map_path)
        for reader in (out.train_input_reader, *out.eval_input_reader):
            reader.label_map_path = value
    _validation.validate(out, None, "overrides", log_warnings=False)
    return normalise(out)
