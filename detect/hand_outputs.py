"""The output stage for game input: track, then publish, then the usual Outputs.

`TrackedOutputs` has the `Outputs` interface the pipeline drives (emit /
poll_quit / close), so the threaded and single-threaded engines need no
change: results reach it in frame order on the main thread, which is exactly
what a tracker needs (it must see frames in order, once each). Per frame:
tracker.update(dets) -> message -> every publisher (non-blocking) -> callback
-> the wrapped Outputs (window, video, JSON lines with "hands").
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from detect.detections import Detections
from detect.outputs import Outputs
from detect.streaming import Publisher, close_all
from detect.tracking import HandTracker, TrackedHand, frame_message, hands_from_detections

OnHands = Callable[[int, float, np.ndarray, list[TrackedHand], dict], None]


class TrackedOutputs:
    """Tracker + publishers in front of an `Outputs`.

    tracker None = untracked hands (raw boxes, id -1). on_hands(index,
    timestamp, frame, hands, message) is called after publishing (the Python API
    and the benchmarks use it). stop() makes the pipeline stop at the next frame.
    """

    def __init__(self, inner: Outputs | None, *, tracker: HandTracker | None,
                 publishers: Sequence[Publisher] = (), size: tuple[int, int] = (320, 240),
                 on_hands: OnHands | None = None) -> None:
        self.inner = inner if inner is not None else Outputs()
        self.tracker = tracker
        self.publishers = list(publishers)
        self.size = size
        self.on_hands = on_hands
        self._stop = threading.Event()

    def emit(self, index: int, timestamp: float, frame: np.ndarray, dets: Detections,
             fps: float) -> None:
        hands = self.tracker.update(dets) if self.tracker is not None \
            else hands_from_detections(dets)
        size = (frame.shape[1], frame.shape[0]) if frame is not None else self.size
        message = frame_message(index, timestamp, size, hands)
        for p in self.publishers:
            p.publish(message)
        if self.on_hands is not None:
            self.on_hands(index, timestamp, frame, hands, message)
        self.inner.emit(index, timestamp, frame, dets, fps, hands=hands)

    def stop(self) -> None:
        self._stop.set()

    def poll_quit(self) -> bool:
        return self.inner.poll_quit() or self._stop.is_set()

    def close(self, keep: bool = True) -> None:
        close_all(self.publishers)
        self.inner.close(keep=keep)

    def summary(self) -> str:
        """'osc: sent 120, dropped 0; ...' for the end-of-run line."""
        return "; ".join(f"{p.name}: sent {p.sent}, dropped {p.dropped}" for p in self.publishers)
