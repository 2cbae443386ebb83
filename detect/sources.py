"""Open `--source` as a frame source: camera index, video file, stream URL or image folder.

The pipeline needs to know one thing beyond "give me the next frame": whether
the source is *live* (camera, network stream: frames keep coming whether we
keep up or not, so stale frames must be dropped to bound latency) or a *file*
(video file, image folder: every frame should be processed, and reading can
simply wait). `FrameSource.live` carries that.

Every frame comes out BGR uint8 at the requested capture size: cameras are
asked for it and resized if they ignore the request; files are resized.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from common.errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


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

    def __init__(self, width: int, height: int) -> None:
        self.size = (int(width), int(height))

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
        with _quiet_opencv():
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

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        if not ok or frame is None:
            return None
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return self._fit(frame)

    def close(self) -> None:
        self.cap.release()


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

    def read(self) -> np.ndarray | None:
        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                log.warning("skipping unreadable image %s", path)
                continue
            return self._fit(frame)
        return None


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
