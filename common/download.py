"""Resumable, verified HTTP downloads for datasets and model-zoo checkpoints.

Big files (the 1.3 GB EgoHands zip, zoo tarballs) over flaky links must not
restart from zero after every hiccup, and a truncated or wrong file must never
be mistaken for a finished one. So bytes go to `<dest>.part`, a rerun resumes it
with an HTTP Range request, the size is checked against the server's
Content-Length (and `expected_size`), the optional SHA-256 against `sha256`, the
content against its kind (a `.zip` must open and list its central directory, a
`.tar.gz`/`.tgz`/`.tar` must read to its end: a server's HTML error page sent
with HTTP 200, or a body cut short with no Content-Length, fails here), and
only then is the file renamed to `dest` in one atomic step. A cached `dest`
that fails the same checks is deleted and downloaded again.

Failures a user can act on (no network, HTTP error, size or checksum mismatch)
raise `DownloadError`, a `UserError`, whose message names the URL or file.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

from common.errors import UserError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 30.0


class DownloadError(UserError):
    """The download could not be completed or verified (the message says why)."""


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body"))


def check_archive(path: Path, name: str | None = None) -> None:
    """Raise DownloadError unless `path` is a complete archive of the kind its name says.

    `name` (default: path's name) picks the kind: .zip, .tar.gz/.tgz/.tar; other
    names are not checked. A zip must open and list its central directory (which
    sits at the end, so a cut-short body fails); a tar must read every member to
    the end of the compressed stream.
    """
    import tarfile
    import zipfile

    name = (name or path.name).lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile():
                        stream = tar.extractfile(member)
                        while stream is not None and stream.read(CHUNK):
                            pass
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
        what = "an HTML page, not an archive" if _looks_like_html(path) else \
            f"not a complete archive ({exc})"
        raise DownloadError(f"{path}: {what}") from None


def _verify(path: Path, url: str, expected_size: int | None, sha256: str | None,
            kind: str | None = None) -> None:
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(
            f"{path}: size {size} bytes, expected {expected_size} bytes (from {url}); "
            f"delete it and rerun")
    if sha256:
        actual = _sha256_of(path)
        if actual.lower() != sha256.lower():
            raise DownloadError(
                f"{path}: SHA-256 {actual} does not match the expected {sha256.lower()} "
                f"(from {url})")
    if kind is not None:
        try:
            check_archive(path, kind)
        except DownloadError as exc:
            raise DownloadError(f"{exc} (from {url}; the URL may point at a web page, or the "
                                f"server cut the transfer short)") from None


def _total_from_headers(status: int, headers, start: int) -> int | None:
    """Full size of the remote file, from Content-Range (206) or Content-Length (200)."""
    if status == 206:
        match = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", headers.get("Content-Range", ""))
        if match and match.group(3) != "*":
            return int(match.group(3))
        length = headers.get("Content-Length")
        return start + int(length) if length is not None else None
    length = headers.get("Content-Length")
    return int(length) if length is not None else None


def download(url: str, dest: str | os.PathLike, expected_size: int | None = None,
             sha256: str | None = None, progress: bool = True) -> Path:
    """Download `url` to `dest`, resuming `<dest>.part`, and return `dest`.

    An existing `dest` is verified (size/checksum when given) and reused. The
    server's Content-Length must agree with `expected_size` when both are known.
    A checksum mismatch deletes the `.part` file (its bytes are wrong, resuming
    it would only reproduce the mismatch); an interrupted transfer keeps it so
    the next call resumes.
    """
    dest = Path(dest)
    kind = dest.name
    if dest.exists():
        try:
            _verify(dest, url, expected_size, sha256, kind)
            log.info("%s already downloaded", dest)
            return dest
        except DownloadError as exc:
            log.warning("cached download is bad, deleting it and downloading again: %s", exc)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0

    request = urllib.request.Request(url, headers={"User-Agent": "handtrack-downloader"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:
            # Range starts at/after the end: complete if the server's size says so.
            match = re.match(r"bytes\s+\*/(\d+)", exc.headers.get("Content-Range", ""))
            remote = int(match.group(1)) if match else expected_size
            if remote is not None and start == remote:
                log.info("%s is already complete", part)
                return _finish(part, dest, url, expected_size, sha256, kind)
            part.unlink()
            raise DownloadError(f"{part}: server refused to resume ({url}: HTTP 416); "
                                f"the partial file was removed, rerun to start over") from exc
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, socket.timeout) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url}: {reason}") from exc

    with response:
        status = response.status
        if start and status != 206:
            log.info("server ignored the Range request; restarting %s from zero", dest.name)
            start = 0
        total = _total_from_headers(status, response.headers, start)
        if total is not None and expected_size is not None and total != expected_size:
            raise DownloadError(
                f"{url}: server reports {total} bytes, expected {expected_size}; "
                f"the remote file changed or the URL is wrong")
        if start:
            log.info("resuming %s at %d bytes", dest.name, start)
        got = _stream(response, part, start, total, dest.name, progress)

    if total is not None and got < total:
        raise DownloadError(
            f"download of {url} stopped at {got} of {total} bytes; rerun to resume "
            f"(partial file {part})")
    if total is not None and got > total:
        part.unlink()
        raise DownloadError(f"{url}: received {got} bytes but the server announced {total}")
    return _finish(part, dest, url, expected_size, sha256, kind)


def _stream(response, part: Path, start: int, total: int | None, name: str,
            progress: bool) -> int:
    """Append (or write from zero) the response body to `part`; return its size."""
    from tqdm import tqdm

    got = start
    with open(part, "ab" if start else "wb") as f, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"download {name}", disable=not progress, leave=False) as bar:
        while True:
            try:
                block = response.read(CHUNK)
            except (OSError, socket.timeout) as exc:
                log.warning("connection lost after %d bytes: %s", got, exc)
                break
            if not block:
                break
            f.write(block)
            got += len(block)
            bar.update(len(block))
    return got


def _finish(part: Path, dest: Path, url: str, expected_size: int | None,
            sha256: str | None, kind: str | None = None) -> Path:
    """Verify the finished `.part` and rename it; a bad one is deleted (resuming it
    could only reproduce the same bytes) and the error says a rerun starts over."""
    try:
        _verify(part, url, expected_size, sha256, kind)
    except DownloadError as exc:
        part.unlink()
        raise DownloadError(f"{exc}; the bad file was deleted, rerun to download again") from None
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes)", dest, dest.stat().st_size)
    return dest
