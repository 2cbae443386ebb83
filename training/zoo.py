"""Fetch model-zoo checkpoints named by URL in `fine_tune_checkpoint`.

`fine_tune_checkpoint` may be a local path (the offline way) or the zoo's own
address, e.g.
http://download.tensorflow.org/models/object_detection/ssd_mobilenet_v1_coco_2018_01_28.tar.gz.
Archives are downloaded once (resumable, with progress) into the cache
folder, then unpacked there safely; later runs reuse the unpacked copy. The
downloader checks that the archive reads to its end before it takes the final
name, and a cached archive that still fails to unpack is deleted (a rerun
downloads it again) rather than failing every later run the same way.

Offline machines, tests and experiments keep the config's URL and either
pass `train.py --fine-tune-checkpoint PATH` or pre-populate the cache: the
folder `cache_entry(url)` names, i.e.
`$HANDTRACK_CACHE/checkpoints/<archive name without .tar.gz>/` (default
cache `~/.cache/handtrack`), holding the checkpoint (or one folder down, as
the archives unpack), or a symlink to a folder that does. `fetch` uses an
existing entry as is and never touches the network for it. For example:

    mkdir -p ~/.cache/handtrack/checkpoints
    ln -s "$PWD/../shared/weights/ssd_mobilenet_v1_0.75_depth_coco" \
        ~/.cache/handtrack/checkpoints/ssd_mobilenet_v1_0.75_depth_300x300_coco14_sync_2018_07_03
"""
from __future__ import annotations

import logging
import os
import tarfile
import zlib
from pathlib import Path

from common.atomic import atomic_dir
from common.download import download
from common.errors import UserError

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def cache_dir() -> Path:
    return Path(os.environ.get("HANDTRACK_CACHE", "~/.cache/handtrack")).expanduser() / "checkpoints"


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def cache_entry(url: str, cache: Path | None = None) -> Path:
    """The folder `fetch(url)` unpacks into and reuses: pre-populate it to work offline."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    suffix = next((s for s in ARCHIVE_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise UserError(f"fine_tune_checkpoint: {url} is not a .tar.gz/.tgz/.tar archive URL")
    return (cache or cache_dir()) / name[: -len(suffix)]


def fetch(url: str, cache: Path | None = None) -> Path:
    """Download and unpack a zoo archive; return the folder it was unpacked into."""
    target = cache_entry(url, cache)
    if target.is_dir():
        return target
    name = url.rstrip("/").rsplit("/", 1)[-1]
    try:
        archive = download(url, target.parent / name)
    except UserError as exc:
        raise UserError(f"{exc}. Offline? Pass --fine-tune-checkpoint PATH, or put the "
                        f"checkpoint (or a link to its folder) at {target}") from None
    try:
        with atomic_dir(target) as tmp, tarfile.open(archive) as tar:
            # filter="data" refuses absolute paths, `..`, links out of the folder, devices.
            tar.extractall(tmp, filter="data")
    except tarfile.FilterError as exc:
        raise UserError(f"fine_tune_checkpoint: {archive}: cannot unpack ({exc})") from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        archive.unlink(missing_ok=True)
        raise UserError(f"fine_tune_checkpoint: {archive}: corrupt archive, deleted it; rerun "
                        f"to download it again ({exc})") from None
    except OSError as exc:
        raise UserError(f"fine_tune_checkpoint: {archive}: cannot unpack ({exc})") from exc
    log.info("unpacked %s into %s", name, target)
    return target
