"""Paths written in a pipeline.config, made absolute and expanded.

The protobuf objects are fine to use directly (`cfg.model.ssd.num_classes`;
unset fields read as the OD API defaults). Paths are the exception: a relative
path means relative to the working directory (as in the OD API) and input paths
may be globs or sharded names, so these helpers resolve and expand them, with
a UserError naming the field when nothing matches.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import List

from common.errors import UserError
from config.pipeline_pb2 import InputReader


def resolve_path(path: str) -> Path:
    """Absolute path for a path written in a config.

    Relative paths are relative to the current working directory (as in the
    Object Detection API), not to the config file; `~` is expanded.
    """
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else Path.cwd() / p


def expand_patterns(patterns: List[str], field: str, unique: bool = False) -> List[str]:
    """Expand file patterns (globs allowed) into absolute file names, each pattern sorted.

    A pattern listed twice is read twice as often in training: repeating the
    input_path of a small dataset oversamples it. `unique=True` (evaluation)
    keeps each file once. UserError names `field` if a pattern matches nothing.
    """
    if not patterns:
        raise UserError(f"{field}: not set")
    files: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(resolve_path(pattern))))
        if not matches:
            raise UserError(f"{field}: no file matches {pattern!r} (relative to {Path.cwd()})")
        files.extend(m for m in matches if not (unique and m in files))
    return files


def input_files(reader: InputReader, field: str = "train_input_reader", unique: bool = False) -> List[str]:
    """`reader.tf_record_input_reader.input_path` expanded (see expand_patterns)."""
    return expand_patterns(list(reader.tf_record_input_reader.input_path),
                           f"{field}.tf_record_input_reader.input_path", unique)


def input_sources(reader: InputReader, field: str = "train_input_reader") -> List[List[str]]:
    """One expanded file list per `input_path`, the unit `sample_from_datasets_weights` weighs."""
    patterns = list(reader.tf_record_input_reader.input_path)
    if not patterns:
        raise UserError(f"{field}.tf_record_input_reader.input_path: not set")
    return [expand_patterns([p], f"{field}.tf_record_input_reader.input_path") for p in patterns]


def label_map_path(reader: InputReader, field: str = "train_input_reader") -> Path:
    """Absolute label map path of `reader`; UserError if unset."""
    if not reader.label_map_path:
        raise UserError(f"{field}.label_map_path: not set")
    return resolve_path(reader.label_map_path)
