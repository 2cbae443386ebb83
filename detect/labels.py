"""Read and write `label_map.pbtxt` (Object Detection API text format).

The data-prep stage owns the canonical implementation (`data_prep.label_map`);
this module delegates to it when it is importable and otherwise falls back to a
tiny parser of the same format, so `detect/` and `export_lib/` work (and their
tests pass) on their own. Ids are 1-based and contiguous: names[i] has id i+1.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from common.atomic import atomic_write_text
from common.errors import UserError

_ITEM_RE = re.compile(r"item\s*\{(.*?)\}", re.S)
_ID_RE = re.compile(r"\bid\s*:\s*(\d+)")
_NAME_RE = re.compile(r"\bname\s*:\s*['\"]([^'\"]*)['\"]")


def read_label_map(path: str | os.PathLike) -> list[str]:
    """Names in id order (ids 1..N). Raises UserError naming the file when malformed."""
    try:
        from data_prep.label_map import read_label_map as _read  # type: ignore
    except ImportError:
        _read = None
    if _read is not None:
        return list(_read(path))
    p = Path(path)
    if not p.is_file():
        raise UserError(f"label map not found: {p}")
    by_id: dict[int, str] = {}
    for body in _ITEM_RE.findall(p.read_text()):
        m_id, m_name = _ID_RE.search(body), _NAME_RE.search(body)
        if not m_id or not m_name:
            raise UserError(f"{p}: every item needs an id and a name")
        by_id[int(m_id.group(1))] = m_name.group(1)
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise UserError(f"{p}: ids must be 1..N without gaps, got {sorted(by_id)}")
    return [by_id[i] for i in range(1, len(by_id) + 1)]


def write_label_map(path: str | os.PathLike, names: list[str]) -> None:
    """Write names as ids 1..N, atomically."""
    try:
        from data_prep.label_map import write_label_map as _write  # type: ignore
    except ImportError:
        _write = None
    if _write is not None:
        _write(path, list(names))
        return
    items = "".join(f"item {{\n  id: {i}\n  name: '{n}'\n}}\n" for i, n in enumerate(names, 1))
    atomic_write_text(path, items)
