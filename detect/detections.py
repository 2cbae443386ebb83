"""The one detection result type every format, CLI and test passes around.

Exported models speak the Object Detection API's padded, normalised
(ymin, xmin, ymax, xmax) tensors; everything downstream (drawing, JSON, the
benchmarks, format comparisons) wants the hands actually found, in pixels of
the frame. Converting once, here, with validated shapes and dtypes, means a
mix-up (a forgotten `num_detections` cut, swapped axes, 0-based classes) fails
loudly at the boundary instead of drawing boxes in the wrong place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# The score a detection needs to count as a hand, unless the user says otherwise: the
# detector's, the API's and the CLI's default, and where evaluation counts found hands
# and false detections, so that metrics.json describes what a default run shows.
SCORE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Detections:
    """Detections in one frame.

    boxes: float32 [N, 4] pixel (x1, y1, x2, y2); scores: float32 [N];
    classes: int32 [N], 1-based label-map ids; names: optional per-detection
    class names (len N).
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        b, s, c = self.boxes, self.scores, self.classes
        for label, arr, dtype in (("boxes", b, np.float32), ("scores", s, np.float32),
                                  ("classes", c, np.int32)):
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                raise ValueError(f"Detections.{label} must be a {np.dtype(dtype).name} "
                                 f"ndarray, got {getattr(arr, 'dtype', type(arr))}")
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"Detections.boxes must be [N, 4], got {list(b.shape)}")
        n = b.shape[0]
        if s.shape != (n,) or c.shape != (n,):
            raise ValueError(f"Detections: scores {list(s.shape)} and classes "
                             f"{list(c.shape)} must both be [{n}]")
        if n and c.min() < 1:
            raise ValueError("Detections.classes are 1-based label-map ids; got a value < 1")
        if self.names is not None and len(self.names) != n:
            raise ValueError(f"Detections.names must have {n} entries, got {len(self.names)}")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def from_normalized(cls, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                        num: float | int, width: int, height: int,
                        label_names: Sequence[str] | None = None) -> "Detections":
        """From OD-API outputs for one image (no batch axis): boxes [N, 4] normalised
        (ymin, xmin, ymax, xmax), float classes 1-based, keep the first `num` rows."""
        k = int(round(float(num)))
        b = np.asarray(boxes, np.float32).reshape(-1, 4)[:k]
        b = np.clip(b, 0.0, 1.0)
        xyxy = np.stack([b[:, 1] * width, b[:, 0] * height,
                         b[:, 3] * width, b[:, 2] * height], axis=1).astype(np.float32)
        cls_ids = np.rint(np.asarray(classes, np.float32).reshape(-1)[:k]).astype(np.int32)
        names = None
        if label_names is not None:
            names = tuple(label_names[i - 1] if 0 < i <= len(label_names) else str(i)
                          for i in cls_ids)
        return cls(xyxy.reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1)[:k].copy(),
                   cls_ids, names)

    def filter(self, score_thresh: float) -> "Detections":
        """Only the detections with score >= score_thresh."""
        return self.take(self.scores >= score_thresh)

    def take(self, keep: np.ndarray) -> "Detections":
        """The detections a boolean mask or an index array selects, in that order."""
        keep = np.asarray(keep)
        if keep.dtype != bool:
            keep = keep.astype(np.int64).reshape(-1)
        names = None if self.names is None else tuple(np.asarray(self.names, object)[keep])
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep], names)

    @classmethod
    def concatenate(cls, parts: Sequence["Detections"]) -> "Detections":
        """All detections of `parts` in one object (names kept only if every part has them)."""
        names = None if any(p.names is None for p in parts) else sum((p.names for p in parts), ())
        return cls(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.classes for p in parts]), names)

    def to_json(self) -> dict:
        """A JSON-serialisable dict (pixel boxes rounded to 0.01 px, scores to 1e-4)."""
        d = {
            "boxes": [[round(float(v), 2) for v in box] for box in self.boxes],
            "scores": [round(float(s), 4) for s in self.scores],
            "classes": [int(c) for c in self.classes],
        }
        if self.names is not None:
            d["names"] = list(self.names)
        return d


def box_overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection over a's own area), both [N, M], of xyxy boxes a [N, 4] and
    b [M, 4]. The second says how much of each `a` box lies inside each `b` box (a
    finger box inside a hand box: near 1, though its IoU is small)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    own = np.broadcast_to(area_a[:, None], inter.shape)
    return (np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0),
            np.where(own > 0, inter / np.where(own > 0, own, 1), 0.0))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [N, M] of xyxy boxes a [N, 4] and b [M, 4]."""
    return box_overlaps(a, b)[0]
