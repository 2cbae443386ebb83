"""Read and write Object Detection API label maps (`label_map.pbtxt`).

The label map is the contract between data and model: class id k (1-based,
0 is background) in the TFRecords is the k-th name here. Training imports
`read_label_map` to size its classifier; `write_label_map` writes ids 1..N in
list order. A tiny parser instead of the OD API's protobuf keeps this module
free of heavy imports.

`ignore` is reserved for ignore regions (see data_prep/__init__.py): it is never
written, and `read_label_map` skips an item named `ignore` (maps made by other
tools may list it), so the returned names are always the real classes 1..N.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from common.atomic import atomic_write_text
from common.errors import UserError

IGNORE_CLASS = "ignore"
_TOKEN = re.compile(r"""\s*(?:(#[^\n]*)|([{}:])|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([^\s{}:#'"]+))""")


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


def _tokens(text: str, where: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UserError(f"{where}: cannot parse label map near {text[pos:pos + 30]!r}")
        pos = match.end()
        if match.group(1) is None:
            tokens.append(match.group(0).strip())
    return tokens


def _unquote(token: str) -> str:
    if token[:1] in "'\"":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _line_of_id(text: str, path: Path, idx: int, occurrence: int) -> str:
    """`path:line` of the n-th `id: idx` in the file (just `path` if not found)."""
    import re

    hits = [m for m in re.finditer(rf"\bid\s*:\s*{idx}\b", text)]
    if len(hits) >= occurrence:
        return f"{path}:{text.count(chr(10), 0, hits[occurrence - 1].start()) + 1}"
    return str(path)


def read_label_map(path: str | os.PathLike) -> list[str]:
    """Class names ordered by id; ids must be exactly 1..N (an `ignore` item is skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read label map: {exc}") from None
    tokens = _tokens(text, str(path))
    items: list[dict[str, str]] = []
    i = 0
    while i < len(tokens):
        if tokens[i] != "item" or tokens[i + 1:i + 2] != ["{"]:
            raise UserError(f"{path}: expected 'item {{', got {tokens[i]!r}")
        i += 2
        item: dict[str, str] = {}
        while i < len(tokens) and tokens[i] != "}":
            if i + 2 >= len(tokens) or tokens[i + 1] != ":":
                raise UserError(f"{path}: expected 'key: value' inside item, got {tokens[i]!r}")
            item[tokens[i]] = _unquote(tokens[i + 2])
            i += 3
        if i >= len(tokens):
            raise UserError(f"{path}: unclosed item {{")
        i += 1
        items.append(item)
    by_id: dict[int, str] = {}
    for item in items:
        if "id" not in item or "name" not in item:
            raise UserError(f"{path}: every item needs an id and a name, got {item}")
        try:
            idx = int(item["id"])
        except ValueError:
            raise UserError(f"{path}: id must be an integer, got {item['id']!r}") from None
        if item["name"] == IGNORE_CLASS:
            continue
        if idx in by_id:
            raise UserError(f"{_line_of_id(text, path, idx, 2)}: id {idx} appears twice "
                            f"({by_id[idx]!r} and {item['name']!r}); ids must be 1..N, one each")
        by_id[idx] = item["name"]
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise UserError(f"{path}: class ids must be 1..N without gaps, got {sorted(by_id)}")
    names = [by_id[k] for k in sorted(by_id)]
    _check_names(names, str(path))
    return names
