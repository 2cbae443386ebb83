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


def current_umask() -> int:
    """The process umask (os.umask can only be read by setting it, so set it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def normal_file_mode() -> int:
    """0o666 less the umask: what `open()` would have given the file.

    mkstemp creates owner-only (0600) files; outputs are meant to be shared
    like any other file, so every finished temp file gets this mode.
    """
    return 0o666 & ~current_umask()


def temp_file_beside(final: Path, suffix: str = ".tmp") -> Path:
    """Create an empty temp file in `final`'s folder (made if missing) and return it.

    Beside the target so the later rename stays on one filesystem (atomic).
    `suffix` matters to writers that pick a format by extension (cv2.VideoWriter).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    os.close(fd)
    return Path(tmp)


def publish(tmp: Path, final: Path) -> None:
    """Give the finished temp file normal permissions and rename it to `final`."""
    os.chmod(tmp, normal_file_mode())
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path in the same folder; rename it to `path` only on success.

    The file ends with normal permissions (0666 less the umask), not mkstemp's 0600.
    """
    final = Path(path)
    tmp_path = temp_file_beside(final, suffix)
    try:
        yield tmp_path
        publish(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_path`)."""
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
        umask = current_umask()
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
