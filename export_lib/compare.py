"""Measure how closely two sets of detections agree (format vs format).

Exports are only useful if every format finds the same hands. Float formats
should agree to rounding; int8 cannot, so agreement is stated as a tolerance:
every confident detection (score >= min_score) in either set must have a
same-class partner in the other set, and matched pairs must have IoU >= X and
|score difference| <= Y. Partners may have any score, so a detection at 0.31
vs 0.29 around a 0.3 cut-off is not counted as missing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from detect.detections import Detections, box_iou


@dataclass
class Agreement:
    """Accumulated agreement between a reference format and another one."""

    images: int = 0
    matched: int = 0
    unmatched_reference: int = 0   # confident reference detections with no partner
    unmatched_other: int = 0       # confident other detections with no partner
    min_iou: float = 1.0
    max_score_delta: float = 0.0
    ious: list[float] = field(default_factory=list, repr=False)

    def add(self, ref: Detections, other: Detections, *, min_score: float = 0.3,
            match_iou: float = 0.3) -> None:
        """Match one image's detections greedily by IoU (same class only)."""
        self.images += 1
        iou = box_iou(ref.boxes, other.boxes)
        if iou.size:
            iou = np.where(ref.classes[:, None] == other.classes[None, :], iou, 0.0)
        pairs = []
        used_r: set[int] = set()
        used_o: set[int] = set()
        for flat in np.argsort(-iou, axis=None) if iou.size else []:
            r, o = np.unravel_index(flat, iou.shape)
            if iou[r, o] < match_iou:
                break
            if r in used_r or o in used_o:
                continue
            used_r.add(int(r))
            used_o.add(int(o))
            pairs.append((int(r), int(o)))
        for r, o in pairs:
            if max(ref.scores[r], other.scores[o]) < min_score:
                continue  # both unconfident: neither would be shown
            self.matched += 1
            self.ious.append(float(iou[r, o]))
            self.min_iou = min(self.min_iou, float(iou[r, o]))
            self.max_score_delta = max(self.max_score_delta,
                                       float(abs(ref.scores[r] - other.scores[o])))
        self.unmatched_reference += sum(
            1 for r in range(len(ref)) if r not in used_r and ref.scores[r] >= min_score)
        self.unmatched_other += sum(
            1 for o in range(len(other)) if o not in used_o and other.scores[o] >= min_score)

    @property
    def mean_iou(self) -> float | None:
        return float(np.mean(self.ious)) if self.ious else None

    def within(self, *, min_iou: float, mean_iou: float, max_score_delta: float) -> bool:
        return (self.unmatched_reference == 0 and self.unmatched_other == 0
                and self.min_iou >= min_iou and (self.mean_iou or 1.0) >= mean_iou
                and self.max_score_delta <= max_score_delta)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("ious")
        d["mean_iou"] = self.mean_iou
        return d
