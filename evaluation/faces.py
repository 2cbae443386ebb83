"""False detections on faces, counted in the full held-out frame.

A hand reported on the player's face is the costliest mistake for a game (the
cursor jumps to the head), and skin-coloured faces are the classic confusion of
hand detectors. Hand-free crops (`false_positives.py`) rarely hold a whole
face, because faces sit next to the hands in these sets, so faces are measured
where a game sees them: in the whole frame. A detection at score >= threshold
whose centre lies inside a face box and that matches no labelled hand or
ignore region (IoU < `hand_iou`) is a false detection on a face.

Faces are found by MTCNN (`pip install mtcnn`): a maintained package whose
weights ship inside the wheel (works offline) and which runs on the
TensorFlow this project already needs. It is only needed for this measurement.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from common.errors import UserError
from detect.detections import box_iou


class FaceFinder:
    """Face boxes (pixel x1, y1, x2, y2) of confident, not-tiny faces."""

    def __init__(self, min_confidence: float = 0.95, min_side_px: int = 24) -> None:
        try:
            from mtcnn import MTCNN
        except ImportError as e:   # optional: only this measurement needs it
            raise UserError("counting false detections on faces needs the mtcnn package: "
                            "pip install mtcnn==1.0.0") from e
        self._mtcnn = MTCNN()
        self.min_confidence = min_confidence
        self.min_side_px = min_side_px

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        found = []
        for face in self._mtcnn.detect_faces(rgb):
            x, y, w, h = face["box"]
            if face["confidence"] >= self.min_confidence and min(w, h) >= self.min_side_px:
                found.append((x, y, x + w, y + h))
        return np.asarray(found, np.float32).reshape(-1, 4)


def detections_on_faces(found_xyxy: np.ndarray, faces_xyxy: np.ndarray,
                        hands_xyxy: np.ndarray, hand_iou: float = 0.3) -> np.ndarray:
    """Indices of detections that sit on a face and match no hand or ignore box."""
    found = np.asarray(found_xyxy, np.float64).reshape(-1, 4)
    faces = np.asarray(faces_xyxy, np.float64).reshape(-1, 4)
    if not len(found) or not len(faces):
        return np.zeros(0, np.int64)
    cx, cy = (found[:, 0] + found[:, 2]) / 2, (found[:, 1] + found[:, 3]) / 2
    on_face = ((cx[:, None] >= faces[None, :, 0]) & (cx[:, None] <= faces[None, :, 2])
               & (cy[:, None] >= faces[None, :, 1]) & (cy[:, None] <= faces[None, :, 3])).any(1)
    hands = np.asarray(hands_xyxy, np.float64).reshape(-1, 4)
    is_hand = (box_iou(found, hands).max(1) >= hand_iou) if len(hands) else np.zeros(len(found), bool)
    return np.flatnonzero(on_face & ~is_hand)


def frames_with_faces(files: Sequence[str], finder: FaceFinder
                      ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, RGB frame, face boxes, hand+ignore boxes in pixels) per record with a face."""
    from training.inputs import ExampleDecoder

    for name, image, b in ExampleDecoder().images(files):   # b: normalised ymin, xmin, ymax, xmax
        faces = finder(image)
        if not len(faces):
            continue
        h, w = image.shape[:2]
        hands = np.stack([b[:, 1] * w, b[:, 0] * h, b[:, 3] * w, b[:, 2] * h], 1)
        yield name, image, faces, hands


def count_face_false_positives(detector, files: Sequence[str], threshold: float = 0.5,
                               finder: FaceFinder | None = None,
                               examples_dir: Path | None = None) -> dict:
    """Run `detector.detect_rgb` on every held-out frame with a face; count
    detections >= threshold that land on a face and on no hand."""
    from evaluation.false_positives import save_example

    finder = finder or FaceFinder()
    frames = faces = fps = saved = 0
    worst: list[tuple[float, str]] = []
    for name, image, face_boxes, hands in frames_with_faces(files, finder):
        found = detector.detect_rgb(image).filter(threshold)
        bad = detections_on_faces(found.boxes, face_boxes, hands)
        frames += 1
        faces += len(face_boxes)
        fps += len(bad)
        if len(bad):
            worst.append((float(found.scores[bad].max()), name))
            if examples_dir is not None and saved < 12:
                save_example(examples_dir, name, image, found)
                saved += 1
    worst.sort(reverse=True)
    return {"frames_with_faces": frames, "faces": faces, "false_positives": fps,
            "threshold": threshold, "fp_per_face": round(fps / faces, 4) if faces else None,
            "top": [{"score": round(s, 3), "frame": n} for s, n in worst[:10]]}
