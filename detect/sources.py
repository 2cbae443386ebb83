"""Open `--source` as a frame source: camera index, video file, stream URL or image folder.

The pipeline needs to know one thing beyond "give me the next frame": whether
the source is *live* (camera, network stream: frames keep coming whether we
keep up or not, so stale frames must be dropped to bound latency) or a *file*
(video file, image folder: every frame should be processed, and reading can
simply wait). `FrameSource.live` carries that.

Every frame comes out BGR uint8 at the requested capture size: cameras are
asked for it and resized if they ignore the request; files are resized.

Damage: a video file with unreadable frames in the middle is read past them
(counted in `unreadable`) and only given up after MAX_CONSECUTIVE_FAILURES in a
row; an image folder skips files it cannot decode, by name. `damage_note()`
says what was lost, for the run's summary. Streams open and read with bounded
timeouts, and a capture is never released while another thread is inside its
read() (that crashed the process when Ctrl-C met a stalled stream).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from common.errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MAX_CONSECUTIVE_FAILURES = 50     # unreadable frames in a row before a file is given up
STREAM_OPEN_TIMEOUT_MS = 10_000
STREAM_READ_TIMEOUT_MS = 5_000    # bounds how long a stop waits on a stalled stream


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs multi-line warnings when a camera/file fails to open; we report
    one clear error line instead."""
    try:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # builds without cv2.utils.logging
        level = None
    try:
        yield
    finally:
        if level is not None:
            cv2.utils.logging.setLogLevel(level)


class FrameSource:
    """Base: `read()` returns the next BGR frame or None at end of stream."""

    live: bool = False
    description: str = ""
    fps: float | None = None
    unreadable: int = 0          # frames/files that could not be decoded and were skipped

    def __init__(self, width: int, height: int) -> None:
        self.size = (int(width), int(height))

    def frame_name(self, index: int) -> str | None:
        """The file behind the `index`-th frame returned (image folders), else None."""
        return None

    def damage_note(self) -> str | None:
        """One line on what could not be read, or None when nothing was lost."""
        if not self.unreadable:
            return None
        return f"damaged input: {self.unreadable} unreadable frame(s) skipped in {self.description}"

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        w, h = self.size
        if frame.shape[1] != w or frame.shape[0] != h:
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA
                               if frame.shape[1] > w else cv2.INTER_LINEAR)
        return frame

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoCaptureSource(FrameSource):
    """cv2.VideoCapture on a camera index, a video file or a stream URL."""

    def __init__(self, spec: int | str, width: int, height: int, live: bool) -> None:
        super().__init__(width, height)
        self.live = live
        kind = "camera" if isinstance(spec, int) else ("stream" if live else "video file")
        self.description = f"{kind} {spec}"
        self._lock = threading.Lock()      # held for the whole of every read()
        self._closing = False
        self._returned = 0
        self._ended = False                # read to the end (not stopped early)
        with _quiet_opencv():
            if kind == "stream":
                self.cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_OPEN_TIMEOUT_MS,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_READ_TIMEOUT_MS])
            else:
                self.cap = cv2.VideoCapture(spec)
            ok = self.cap.isOpened()
            if ok and isinstance(spec, int):
                self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if not ok:
            self.cap.release()
            hint = {"camera": " (is a camera connected and free? try --source 1, or a file)",
                    "stream": " (check the URL and that the stream is up)",
                    "video file": " (unsupported or corrupt video?)"}[kind]
            raise UserError(f"--source: cannot open {kind} {spec}{hint}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = self.cap.get(cv2.CAP_PROP_FRAME_COUNT) if not live else 0
        self.frame_count = int(count) if count and count > 0 else None

    def read(self) -> np.ndarray | None:
        with self._lock:
            if self._closing:
                return None
            try:
                frame = self._read_locked()
            finally:
                if self._closing:      # close() was called while we were inside read()
                    self.cap.release()
            if frame is not None:
                self._returned += 1
            return frame

    def _read_locked(self) -> np.ndarray | None:
        failures = 0
        while True:
            ok, frame = self.cap.read()
            if ok and frame is not None:
                self.unreadable += failures   # bad frames with good ones after them
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                return self._fit(frame)
            # A stream that fails has ended or timed out. A file may only be damaged
            # here: read on past the bad frames (OpenCV resynchronises at the next
            # keyframe); neither the position nor the count tells a damaged stretch
            # from the end, so only a long run of failures ends the file.
            if self.live or self._closing:
                return None
            failures += 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                self._ended = True
                return None

    def damage_note(self) -> str | None:
        missing = (self.frame_count - self._returned - self.unreadable
                   if self.frame_count is not None and self._ended else 0)
        if not self.unreadable and missing <= 0:
            return None
        note = f"damaged input: {self.description}: {self.unreadable} unreadable frame(s) skipped"
        if missing > 0:
            note += (f"; the file lists {self.frame_count} frames, {self._returned} could be "
                     f"read")
        return note

    def close(self) -> None:
        """Release the capture, but never under a read() in progress on another
        thread: then the reader releases it as soon as its (bounded) read returns."""
        self._closing = True
        if self._lock.acquire(timeout=0.5):
            try:
                self.cap.release()
            finally:
                self._lock.release()


class ImageFolderSource(FrameSource):
    """Images in a folder, in sorted file-name order."""

    def __init__(self, folder: Path, width: int, height: int) -> None:
        super().__init__(width, height)
        self.files = sorted(p for p in folder.iterdir()
                            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self.files:
            raise UserError(f"--source: folder {folder} holds no images "
                            f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.description = f"image folder {folder} ({len(self.files)} images)"
        self._next = 0
        self._names: list[str] = []       # file of each frame returned, by frame index
        self.skipped_files: list[str] = []

    def read(self) -> np.ndarray | None:
        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                log.warning("skipping unreadable image %s", path)
                self.unreadable += 1
                self.skipped_files.append(path.name)
                continue
            self._names.append(path.name)
            return self._fit(frame)
        return None

    def frame_name(self, index: int) -> str | None:
        return self._names[index] if 0 <= index < len(self._names) else None

    def damage_note(self) -> str | None:
        note = super().damage_note()
        if note:
            shown = ", ".join(self.skipped_files[:5]) + (", ..." if len(self.skipped_files) > 5
                                                         else "")
            note += f" ({shown})"
        return note


def check_source(spec: str | int) -> None:
    """The cheap part of open_source (no capture opened): a missing file or folder
    fails before the model loads; the source itself is opened after it, so a live
    source's first frames are not seconds old by the time detection starts."""
    s = str(spec).strip()
    if s.isdigit() or "://" in s:
        return
    p = Path(s)
    if p.is_dir():
        return
    if not p.is_file():
        raise UserError(f"--source: no such video file or folder: {s}")
    if not os.access(p, os.R_OK):
        raise UserError(f"--source: cannot read {s} (permission denied)")


def open_source(spec: str | int, width: int = 320, height: int = 240) -> FrameSource:
    """Open `--source`: digits = camera index, '://' = stream URL, folder, or video file."""
    if width <= 0 or height <= 0:
        raise UserError(f"--width/--height must be positive, got {width}x{height}")
    s = str(spec).strip()
    if s.isdigit():
        return VideoCaptureSource(int(s), width, height, live=True)
    if "://" in s:
        return VideoCaptureSource(s, width, height, live=True)
    p = Path(s)
    if p.is_dir():
        return ImageFolderSource(p, width, height)
    if not p.is_file():
        raise UserError(f"--source: no such video file or folder: {s}")
    if not os.access(p, os.R_OK):
        raise UserError(f"--source: cannot read {s} (permission denied)")
    return VideoCaptureSource(str(p), width, height, live=False)
