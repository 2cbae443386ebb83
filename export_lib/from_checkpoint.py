"""Build the SSD model from a pipeline config and restore a checkpoint, for export.py.

This is the only place that knows the training-side APIs, so when they change
only this file needs fixing:
  config.loader.load_pipeline(path)            -> parsed pipeline config
  ssd.builder.build_from_pipeline(config)      -> model (preprocess / __call__ / postprocess)
  training.checkpoints.restore_trained(model, path) -> restores weights (dir = latest)
  (`restore` is used instead if training.checkpoints grows one)
Everything else about exporting is generic (export_lib.exporter).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.errors import UserError


def load_model(pipeline_path: str | os.PathLike, checkpoint: str | os.PathLike
               ) -> tuple[Any, Any]:
    """(model, config) with the checkpoint's weights restored."""
    if not (Path(checkpoint).exists() or Path(f"{checkpoint}.index").exists()):
        raise UserError(f"--checkpoint: no such checkpoint or directory: {checkpoint}")
    try:
        from config.loader import load_pipeline
        from ssd.builder import build_from_pipeline
        from training import checkpoints
    except ImportError as exc:
        raise UserError(f"export needs the training code, which is missing here ({exc})") from None
    restore = getattr(checkpoints, "restore", None) or checkpoints.restore_trained
    config = load_pipeline(pipeline_path)
    model = build_from_pipeline(config)
    restore(model, checkpoint)
    return model, config


def pipeline_text(pipeline_path: str | os.PathLike) -> str:
    """The pipeline file's text, for the export's pipeline.config copy (also for a
    bare shipped-config name, which config.loader resolves)."""
    try:
        from config.loader import resolve_config_path
        return Path(resolve_config_path(pipeline_path)).read_text()
    except ImportError:
        return Path(pipeline_path).read_text()


def _first(obj: Any) -> Any:
    """First element of a repeated field (OD API: `repeated InputReader eval_input_reader`)."""
    if obj is None or isinstance(obj, (str, bytes, dict)) or hasattr(obj, "ListFields"):
        return obj
    if hasattr(obj, "__getitem__") and hasattr(obj, "__len__"):
        return obj[0] if len(obj) else None
    return obj


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        if obj is None:
            return None
        obj = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
    return obj


def input_size(model: Any, config: Any) -> tuple[int, int]:
    """(h, w): the model's own attribute if it has one, else the pipeline's
    fixed_shape_resizer (OD-API field names)."""
    for v in (getattr(model, "input_size", None), getattr(model, "image_size", None),
              _get(model, "config", "input_size")):
        if v is not None:
            h, w = (int(x) for x in (v if not isinstance(v, int) else (v, v)))
            return h, w
    r = _get(config, "model", "ssd", "image_resizer", "fixed_shape_resizer")
    h, w = _get(r, "height"), _get(r, "width")
    if h and w:
        return int(h), int(w)
    raise UserError("cannot tell the model's input size: pipeline config has no "
                    "model.ssd.image_resizer.fixed_shape_resizer height/width")


def label_map_path(config: Any) -> str | None:
    """train_input_reader.label_map_path (or eval's), as in OD-API configs."""
    for reader in ("train_input_reader", "eval_input_reader"):
        p = _get(_first(_get(config, reader)), "label_map_path")
        if p:
            return str(p)
    return None


def eval_records(config: Any) -> str | None:
    """eval_input_reader.tf_record_input_reader.input_path, comma-joined: default
    representative data for int8 calibration."""
    p = _get(_first(_get(config, "eval_input_reader")), "tf_record_input_reader", "input_path")
    if not p:
        return None
    return str(p) if isinstance(p, str) else ",".join(str(x) for x in p)
