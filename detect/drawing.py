"""Draw boxes, tracked hands and an fps counter onto BGR frames (in place, cv2 only).

The one box drawer: the single- and multi-threaded paths, the single-image CLI,
the benchmark, the false-positive report and data_prep's --visualize PNGs all
draw a box and its label the same way (`draw_box`).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from detect.detections import Detections

BOX_COLOR = (77, 255, 9)      # BGR
TEXT_COLOR = (0, 0, 0)
FPS_COLOR = (0, 0, 255)
PREDICTED_COLOR = (160, 160, 160)


def draw_box(frame: np.ndarray, box: Sequence[float], label: str,
             color: tuple[int, int, int] = BOX_COLOR, thickness: int = 2) -> tuple[int, int]:
    """One box (x1, y1, x2, y2 pixels) with `label` on a filled tag above it (below
    when there is no room); returns the box's top-left corner in integer pixels."""
    h, w = frame.shape[:2]
    scale = max(0.35, min(w, h) / 600.0)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(frame, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    ty = y1 - 4 if y1 - th - base - 4 >= 0 else y1 + th + 4
    cv2.rectangle(frame, (x1, ty - th - 2), (x1 + tw + 2, ty + base - 2), color, -1)
    cv2.putText(frame, label, (x1 + 1, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                TEXT_COLOR, 1, cv2.LINE_AA)
    return x1, y1


def draw_detections(frame: np.ndarray, dets: Detections, thickness: int = 2) -> np.ndarray:
    """Boxes with a "name score" label on a filled tag; returns the same frame."""
    for i in range(len(dets)):
        name = dets.names[i] if dets.names is not None else str(int(dets.classes[i]))
        draw_box(frame, dets.boxes[i], f"{name} {dets.scores[i]:.2f}", BOX_COLOR, thickness)
    return frame


def draw_hands(frame: np.ndarray, hands: Sequence, thickness: int = 2) -> np.ndarray:
    """Tracked hands (detect.tracking.TrackedHand): box, "#id score" tag, velocity arrow.

    Predicted hands (not seen in this frame) are drawn in a thinner grey box, so
    a viewer can tell a short miss from a detection.
    """
    for hand in hands:
        color = BOX_COLOR if hand.seen else PREDICTED_COLOR
        label = f"#{hand.id} {hand.score:.2f}" if hand.id >= 0 else f"{hand.score:.2f}"
        draw_box(frame, hand.box, label, color, thickness if hand.seen else 1)
        cx, cy = (int(round(v)) for v in hand.center)
        vx, vy = hand.velocity
        cv2.arrowedLine(frame, (cx, cy), (int(round(cx + 5 * vx)), int(round(cy + 5 * vy))),
                        color, 1, cv2.LINE_AA)
    return frame


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """"FPS 23.4" in the top-left corner; returns the same frame."""
    scale = max(0.4, frame.shape[1] / 640.0)
    cv2.putText(frame, f"FPS {fps:.1f}", (8, int(22 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                0.6 * scale, FPS_COLOR, 2, cv2.LINE_AA)
    return frame
