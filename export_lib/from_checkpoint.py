"""Build the SSD model from a pipeline config and restore a training checkpoint, for export.py.

Keeps export.py a thin flag parser and export_lib.exporter generic: this is the
one module of export_lib that knows the training side.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.errors import UserError


def load_model(pipeline_path: str | os.PathLike, checkpoint: str | os.PathLike) -> tuple[Any, Any]:
    """(model, config) with the checkpoint's weights restored."""
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained

    config = load_pipeline(pipeline_path)
    model = build_from_pipeline(config)
    restore_trained(model, checkpoint)
    return model, config


def pipeline_text(pipeline_path: str | os.PathLike) -> str:
    """The pipeline file's text for the export's pipeline.config copy (bare names resolved)."""
    from config.loader import resolve_config_path

    return Path(resolve_config_path(pipeline_path)).read_text()


def label_map_path(config: Any) -> Path:
    from config import paths

    return paths.label_map_path(config.train_input_reader, "train_input_reader")


def calibration_files(config: Any, patterns: list[str] | None) -> list[str]:
    """--representative-data patterns, else the training records (never the eval set)."""
    from config import paths

    if patterns:
        return paths.expand_patterns(patterns, "--representative-data", unique=True)
    if not config.train_input_reader.tf_record_input_reader.input_path:
        raise UserError("int8 export needs calibration images: pass --representative-data")
    return paths.input_files(config.train_input_reader, "train_input_reader", unique=True)
