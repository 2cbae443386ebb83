"""Write files so that a crash never leaves a half-written file under the final name.

Rerunnable steps decide "already done" by a file's presence, so the final name
must only ever appear complete: write to a sibling temp file, then rename.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path in the same folder; rename it to `path` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def remove_stale_dirs(final: Path) -> list[Path]:
    """Delete temp folders that a killed `atomic_dir(final)` left beside `final`.

    A killed export or unpack leaves `<name>.tmp-XXXX` (often tens of MB, which
    kept a full disk full); no finished result ever lives under that name.
    """
    stale = [p for pattern in (f"{final.name}.tmp-*", f"{final.name}.old-*")
             for p in final.parent.glob(pattern) if p.is_dir()]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path`; on success it becomes `path` in one rename.

    A folder that appears only complete (an export, an unpacked archive) can be
    trusted by its presence. With `replace`, an existing `path` is swapped out
    and removed after the new one is in place. Entries get the umask's normal
    permissions (mkdtemp makes owner-only folders; these are meant to be shared).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not replace:
        raise FileExistsError(final)
    remove_stale_dirs(final)
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{final.name}.old-", dir=final.parent))
            os.replace(final, old / "x")
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
