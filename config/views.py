"""Plain-Python helpers over a loaded TrainEvalPipelineConfig.

The protobuf objects are fine to use directly (`cfg.model.ssd.num_classes`;
unset fields read as the OD API defaults). These helpers cover the few places
where the raw fields need interpretation.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import List

from common.errors import UserError
from config.pipeline_pb2 import InputReader, TrainConfig


def resolve_path(path: str) -> Path:
    """Absolute path for a path written in a config.

    Relative paths are relative to the current working directory (as in the
    Object Detection API), not to the config file; `~` is expanded.
    """
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else Path.cwd() / p


def input_files(reader: InputReader, field: str = "train_input_reader") -> List[str]:
    """Expand `reader.tf_record_input_reader.input_path` (globs allowed) into
    sorted absolute file names. UserError names `field` if a pattern matches
    nothing or no input_path is set."""
    patterns = list(reader.tf_record_input_reader.input_path)
    if not patterns:
        raise UserError(f"{field}.tf_record_input_reader.input_path: not set")
    files: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(resolve_path(pattern))))
        if not matches:
            raise UserError(f"{field}.tf_record_input_reader.input_path: no file matches {pattern!r} "
                            f"(relative to {Path.cwd()})")
        files.extend(m for m in matches if m not in files)
    return files


def fine_tune_checkpoint_type(train_config: TrainConfig) -> str:
    """"classification", "detection", or "" when there is no fine_tune_checkpoint.

    Honours the legacy `from_detection_checkpoint` when the type is unset
    (load_pipeline already fills the type in; this also covers configs built
    in code).
    """
    if not train_config.fine_tune_checkpoint:
        return ""
    if train_config.fine_tune_checkpoint_type:
        return train_config.fine_tune_checkpoint_type
    return "detection" if train_config.from_detection_checkpoint else "classification"


def label_map_path(reader: InputReader, field: str = "train_input_reader") -> Path:
    """Absolute label map path of `reader`; UserError if unset."""
    if not reader.label_map_path:
        raise UserError(f"{field}.label_map_path: not set")
    return resolve_path(reader.label_map_path)
