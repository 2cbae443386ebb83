"""Stable hand ids and smoothed boxes across frames, on top of per-frame `Detections`.

Why norfair (the maintained fork `norfair-enough`, same `norfair` package and
API): it is a tracker made for "any detector": IoU matching of boxes, a
Kalman filter per track (constant-velocity model on both box corners), tracks
that survive a few missed frames, and per-track age/hit bookkeeping; the
upstream `norfair` 2.3 pins numpy < 2, which our pinned numpy 2.4 excludes.
A home-made filter is not needed: an update costs well under a millisecond
for a few hands (bench/track_bench.py measures jitter, lag and id switches).

`HandTracker.update(dets)` is called once per processed frame, in frame order
(the pipeline's main thread), and returns every live track: hands seen in
this frame (`seen=True`) and hands kept alive by the filter's prediction
through a short miss (`seen=False`, at most `max_misses` frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from detect.detections import Detections


@dataclass(frozen=True)
class TrackedHand:
    """One hand in one frame. Pixel units; velocity in pixels per processed frame.

    id: stable across frames (-1 when tracking is off); box: smoothed (x1, y1,
    x2, y2); center: box centre; velocity: centre velocity (vx, vy); score: raw
    detector score of the last matched detection; age: frames since the track
    started; seen: matched to a detection in this frame (False = predicted).
    """

    id: int
    box: tuple[float, float, float, float]
    center: tuple[float, float]
    velocity: tuple[float, float]
    score: float
    age: int
    seen: bool
    label: int = 1
    name: str | None = None

    def to_json(self) -> dict:
        """The per-hand message schema (README, "Streaming to a game")."""
        d = {"id": self.id, "box": [round(v, 2) for v in self.box],
             "center": [round(v, 2) for v in self.center],
             "velocity": [round(v, 3) for v in self.velocity],
             "score": round(self.score, 4), "age": self.age, "seen": self.seen,
             "class": self.label}
        if self.name is not None:
            d["name"] = self.name
        return d


def hands_from_detections(dets: Detections) -> list[TrackedHand]:
    """Untracked hands (`--track off`): raw boxes, id -1, zero velocity, seen."""
    out = []
    for i in range(len(dets)):
        x1, y1, x2, y2 = (float(v) for v in dets.boxes[i])
        out.append(TrackedHand(-1, (x1, y1, x2, y2), ((x1 + x2) / 2, (y1 + y2) / 2), (0.0, 0.0),
                               float(dets.scores[i]), 0, True, int(dets.classes[i]),
                               dets.names[i] if dets.names is not None else None))
    return out


class HandTracker:
    """norfair Tracker for hand boxes: ids, Kalman smoothing, short-miss survival.

    max_misses: frames a track is kept (predicted) without a matching detection.
    min_iou: a detection joins a track only if its box overlaps the track's
      predicted box by at least this IoU.
    smooth: False disables the Kalman filter (norfair's NoFilterFactory): ids and
      misses still work, boxes are the raw detections (the bench's baseline).
    kalman_r / kalman_q: measurement / process noise of norfair's
      OptimizedKalmanFilterFactory; larger R (or smaller Q) = smoother but laggier.
    """

    def __init__(self, *, max_misses: int = 5, min_iou: float = 0.1, smooth: bool = True,
                 kalman_r: float = 4.0, kalman_q: float = 0.1) -> None:
        from norfair import Tracker
        from norfair.filter import NoFilterFactory, OptimizedKalmanFilterFactory

        if max_misses < 1:
            raise ValueError("max_misses must be >= 1")
        factory = OptimizedKalmanFilterFactory(R=kalman_r, Q=kalman_q) if smooth \
            else NoFilterFactory()
        # hit_counter_max bounds how far a track's hit counter can climb; each miss
        # costs one and the track is dropped once it falls below zero, so a
        # long-seen hand is predicted for exactly max_misses frames (tested).
        self._tracker = Tracker(distance_function="iou", distance_threshold=1.0 - min_iou,
                                hit_counter_max=max_misses, initialization_delay=0,
                                filter_factory=factory, pointwise_hit_counter_max=max_misses)
        self._frame = 0
        self._first_seen: dict[int, int] = {}

    def update(self, dets: Detections) -> list[TrackedHand]:
        """Feed one frame's detections (already score-filtered); return all live tracks."""
        from norfair import Detection

        frame = self._frame
        self._frame += 1
        detections = []
        for i in range(len(dets)):
            x1, y1, x2, y2 = (float(v) for v in dets.boxes[i])
            detections.append(Detection(
                np.array([[x1, y1], [x2, y2]], np.float64),
                scores=np.array([dets.scores[i]] * 2, np.float64),
                label=int(dets.classes[i]),
                data={"frame": frame, "score": float(dets.scores[i]),
                      "name": dets.names[i] if dets.names is not None else None}))
        hands = []
        for obj in self._tracker.update(detections):
            if obj.id is None:
                continue
            est = obj.estimate
            x1, y1 = float(min(est[0, 0], est[1, 0])), float(min(est[0, 1], est[1, 1]))
            x2, y2 = float(max(est[0, 0], est[1, 0])), float(max(est[0, 1], est[1, 1]))
            vel = obj.estimate_velocity.mean(axis=0)
            last = obj.last_detection.data
            first = self._first_seen.setdefault(obj.id, frame)
            hands.append(TrackedHand(int(obj.id), (x1, y1, x2, y2), ((x1 + x2) / 2, (y1 + y2) / 2),
                                     (float(vel[0]), float(vel[1])), last["score"],
                                     frame - first, last["frame"] == frame,
                                     int(obj.label) if obj.label is not None else 1,
                                     last["name"]))
        live = {h.id for h in hands}
        self._first_seen = {k: v for k, v in self._first_seen.items() if k in live}
        hands.sort(key=lambda h: h.id)
        return hands


def frame_message(index: int, timestamp: float, size: tuple[int, int],
                  hands: Sequence[TrackedHand]) -> dict:
    """One frame as the JSON message every publisher sends (README documents it)."""
    return {"type": "hands", "frame": index, "timestamp": round(timestamp, 4),
            "width": size[0], "height": size[1], "hands": [h.to_json() for h in hands]}
