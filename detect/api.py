"""Python API for games written in Python: iterate over (frame, tracked hands).

    import detect
    for frame, hands in detect.track_stream("0"):          # camera 0
        for h in hands:
            print(h.id, h.center, h.velocity, h.seen)

Same engine as the CLI: `detect.pipeline.run_pipeline` (capture thread, worker
threads sharing one Detector, in-order results, live sources drop the oldest
frame, files lose nothing), in a background thread; results reach the caller
through a bounded queue. Drop policy towards the caller matches the source:
for a live source the newest result wins (a slow game loop gets the latest
hands, never a growing backlog; `dropped_results` counts the rest); for a
file nothing is dropped and the pipeline waits for the caller. Shutdown:
leaving the loop (break, exception, or closing the generator) stops the
pipeline and joins its threads; errors in the pipeline re-raise in the caller.
"""
from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from detect.detections import SCORE_THRESHOLD
from detect.tracking import HandTracker, TrackedHand

_POLL = 0.05


class HandStream:
    """Iterator over (frame_bgr, hands); see `track_stream`. Use as a context manager
    or just iterate; `close()` stops the pipeline."""

    def __init__(self, source: Any, *, model: str | Path | None = None,
                 format: str | None = None, detector: Any = None,
                 track: bool = True, max_misses: int = 5, num_workers: int = 2,
                 queue_size: int | None = None, score_thresh: float = SCORE_THRESHOLD,
                 width: int = 320, height: int = 240, max_frames: int | None = None,
                 publishers: Sequence[Any] = (), buffer: int = 1) -> None:
        from detect.detector import DEFAULT_MODEL, Detector
        from detect.hand_outputs import TrackedOutputs
        from detect.sources import FrameSource, open_source

        self._source = source if isinstance(source, FrameSource) \
            else open_source(source, width, height)
        self.live = self._source.live
        self._own_detector = detector is None
        try:
            self.detector = detector if detector is not None else \
                Detector(model or DEFAULT_MODEL, format=format)
        except BaseException:
            self._source.close()
            raise
        self._results: collections.deque = collections.deque()
        self._buffer = max(1, buffer)
        self._cond = threading.Condition()
        self._done = False
        self._closing = False
        self._error: BaseException | None = None
        self.dropped_results = 0
        self.stats = None
        self._outputs = TrackedOutputs(None, tracker=HandTracker(max_misses=max_misses)
                                       if track else None, publishers=publishers,
                                       on_hands=self._on_hands)
        qs = queue_size if queue_size is not None else (1 if self.live else 5)
        self._thread = threading.Thread(
            target=self._run, name="hand-stream", daemon=False,
            kwargs=dict(num_workers=num_workers, queue_size=qs, score_thresh=score_thresh,
                        max_frames=max_frames))
        self._thread.start()

    def _run(self, **kwargs: Any) -> None:
        from detect.pipeline import run_pipeline

        try:
            self.stats = run_pipeline(self._source, self.detector, self._outputs,
                                      human=None, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _on_hands(self, index: int, timestamp: float, frame: np.ndarray,
                  hands: list[TrackedHand], message: dict) -> None:
        with self._cond:
            if self.live:
                if len(self._results) >= self._buffer:
                    self._results.popleft()
                    self.dropped_results += 1
            else:
                while len(self._results) >= self._buffer and not self._closing:
                    self._cond.wait(_POLL)
            self._results.append((frame, hands))
            self._cond.notify_all()

    def __iter__(self) -> Iterator[tuple[np.ndarray, list[TrackedHand]]]:
        try:
            while True:
                with self._cond:
                    while not self._results and not self._done:
                        self._cond.wait(_POLL)
                    if self._results:
                        item = self._results.popleft()
                        self._cond.notify_all()
                    else:
                        break
                yield item
        finally:
            self.close()
        if self._error is not None and not isinstance(self._error, KeyboardInterrupt):
            raise self._error

    def close(self) -> None:
        """Stop the pipeline, join its threads, release the source (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._outputs.stop()
        self._thread.join()
        self._outputs.close()
        self._source.close()
        if self._own_detector:
            self.detector.close()

    def __enter__(self) -> "HandStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track_stream(source: Any = "0", **kwargs: Any) -> HandStream:
    """Iterate over (frame_bgr, [TrackedHand, ...]) from a camera index, video file,
    stream URL, image folder or a `FrameSource`.

    Keyword arguments: model/format (or a ready `detector`), track (default
    True), max_misses, num_workers, queue_size (default 1 for live sources:
    newest frame wins), score_thresh, width/height, max_frames, publishers
    (detect.streaming publishers to also send every frame to).
    """
    return HandStream(source, **kwargs)
