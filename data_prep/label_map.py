"""Read and write Object Detection API label maps (`label_map.pbtxt`).

The label map is the contract between data and model: class id k (1-based,
0 is background) in the TFRecords is the k-th name here. Training imports
`read_label_map` to size its classifier; `write_label_map` writes ids 1..N in
list order. Label maps are parsed with protobuf's text_format against the OD
API's `StringIntLabelMap`, defined in config/pipeline.proto, by the same code
that parses pipeline.config: one tokenizer, the same `file:line:col` errors.

`ignore` is reserved for ignore regions (see data_prep/__init__.py): it is never
written, and `read_label_map` skips an item named `ignore` (maps made by other
tools may list it), so the returned names are always the real classes 1..N.
"""
from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import text_format

from common.atomic import atomic_write_text
from common.errors import UserError
from config import locate
from config.loader import parse_text
from config.pipeline_pb2 import StringIntLabelMap

IGNORE_CLASS = "ignore"


def label_map_text(names: list[str]) -> str:
    """The pbtxt text for `names` (ids 1..N in order)."""
    _check_names(names, "label map")
    items = []
    for idx, name in enumerate(names, start=1):
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        items.append(f"item {{\n  id: {idx}\n  name: '{escaped}'\n}}\n")
    return "\n".join(items)


def write_label_map(path: str | os.PathLike, names: list[str]) -> None:
    """Write `names` as a label map with ids 1..N, atomically."""
    atomic_write_text(path, label_map_text(list(names)))


def _check_names(names: list[str], where: str) -> None:
    if not names:
        raise UserError(f"{where}: no classes")
    for name in names:
        if not name or name == IGNORE_CLASS:
            raise UserError(f"{where}: invalid class name {name!r} ('{IGNORE_CLASS}' is "
                            f"reserved for ignore regions)")
    if len(set(names)) != len(names):
        raise UserError(f"{where}: duplicate class names in {names}")


def read_label_map(path: str | os.PathLike) -> list[str]:
    """Class names ordered by id; ids must be exactly 1..N (an `ignore` item is skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read label map: {exc}") from None
    label_map = parse_text(text, StringIntLabelMap(), str(path))
    by_id: dict[int, str] = {}
    for index, item in enumerate(label_map.item):
        if not (item.HasField("id") and item.HasField("name")):
            raise UserError(f"{path}: every item needs an id and a name, got "
                            f"item {{ {text_format.MessageToString(item, as_one_line=True)} }}")
        if item.name == IGNORE_CLASS:
            continue
        if item.id in by_id:
            line, _ = locate.field_locations(text).get((("item", index), ("id", 0)), (0, 0))
            where = f"{path}:{line}" if line else str(path)
            raise UserError(f"{where}: id {item.id} appears twice ({by_id[item.id]!r} and "
                            f"{item.name!r}); ids must be 1..N, one each")
        by_id[item.id] = item.name
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise UserError(f"{path}: class ids must be 1..N without gaps, got {sorted(by_id)}")
    names = [by_id[k] for k in sorted(by_id)]
    _check_names(names, str(path))
    return names
