"""Build the SSD model from a pipeline config and restore a checkpoint, for export.py.

This is the only place that knows the training-side APIs, so when they change
only this file needs fixing:
  config.loader.load_pipeline(path)            -> parsed pipeline config
  ssd.builder.build_from_pipeline(config)      -> model (preprocess / __call__ / postprocess)
  training.checkpoints.restore(model, path)    -> restores weights (dir = latest)
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
    if not Path(pipeline_path).is_file():
        raise UserError(f"--pipeline: no such file: {pipeline_path}")
    if not (Path(checkpoint).exists() or Path(f"{checkpoint}.index").exists()):
        raise UserError(f"--checkpoint: no such checkpoint or directory: {checkpoint}")
    try:
        from config.loader import load_pipeline
        from ssd.builder import build_from_pipeline
        from training.checkpoints import restore
    except ImportError as exc:
        raise UserError(f"export needs the training code, which is missing here ({exc})") from None
    config = load_pipeline(pipeline_path)
    model = build_from_pipeline(config)
    restore(model, checkpoint)
    return model, config


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        if obj is None:
            return None
        obj = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
    return obj


def input_size(model: Any, config: Any) -> tuple[int, int]:
    """(h, w): the model's own attribute if it has one, else the pipeline's
    fixed_shape_resizer (OD-API field names)."""
    for attr in ("input_size", "image_size"):
        v = getattr(model, attr, None)
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
        r = _get(config, reader)
        if isinstance(r, (list, tuple)):
            r = r[0] if r else None
        p = _get(r, "label_map_path")
        if p:
            return str(p)
    return None


def eval_records(config: Any) -> str | None:
    """eval_input_reader.tf_record_input_reader.input_path, comma-joined: default
    representative data for int8 calibration."""
    r = _get(config, "eval_input_reader")
    if isinstance(r, (list, tuple)):
        r = r[0] if r else None
    p = _get(r, "tf_record_input_reader", "input_path")
    if not p:
        return None
    return ",".join(p) if isinstance(p, (list, tuple)) else str(p)
