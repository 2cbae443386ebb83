"""evaluation/faces.py: which detections count as "a hand on a face", and the
real face finder on a real webcam frame."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evaluation.faces import detections_on_faces
from tests.conftest import REPO_ROOT, webcam_subset_records

FACE = np.array([[100, 50, 200, 170]], np.float32)


def test_a_detection_on_a_face_that_is_no_hand_counts():
    found = np.array([[130, 60, 190, 110],     # on the face, no hand there: counts
                      [300, 300, 360, 380],    # off the face
                      [100, 118, 158, 168]],   # on the face but it is the labelled hand
                     np.float32)
    hands = np.array([[100, 120, 160, 170]], np.float32)
    assert detections_on_faces(found, FACE, hands).tolist() == [0]


def test_nothing_counts_without_faces_or_detections():
    some = np.array([[120, 80, 180, 140]], np.float32)
    assert detections_on_faces(some, np.zeros((0, 4)), np.zeros((0, 4))).size == 0
    assert detections_on_faces(np.zeros((0, 4)), FACE, np.zeros((0, 4))).size == 0
    # With no hand labelled at all, a detection on the face is false.
    assert detections_on_faces(some, FACE, np.zeros((0, 4))).tolist() == [0]


@pytest.mark.slow
def test_cli_counts_detections_on_real_faces(shared_dir, tmp_path):
    """Real webcam frames (a person facing the camera), the real MTCNN and the
    shipped model: the JSON's count is what a direct run finds."""
    pytest.importorskip("mtcnn")
    from detect.detector import Detector
    from evaluation.faces import FaceFinder, frames_with_faces

    records = sorted(webcam_subset_records(shared_dir, tmp_path, 6).glob("train.record-*"))
    frames = list(frames_with_faces([str(r) for r in records], FaceFinder()))
    assert len(frames) >= 4          # these sessions face the camera
    for _, image, faces, hands in frames:
        side = faces[:, 2:] - faces[:, :2]
        assert (side >= 24).all() and (side < max(image.shape[:2])).all()
    out = tmp_path / "faces.json"
    run = subprocess.run([sys.executable, "-m", "evaluation.false_positives", "--model",
                          "exported_models/handtrack_default", "--records",
                          *map(str, records), "--on", "faces", "--threshold", "0.01",
                          "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    result = json.loads(out.read_text())
    detector = Detector("exported_models/handtrack_default")
    direct = sum(len(detections_on_faces(detector.detect_rgb(image).filter(0.01).boxes,
                                         faces, hands))
                 for _, image, faces, hands in frames)
    assert result["faces"] == sum(len(f) for _, _, f, _ in frames)
    assert result["false_positives"] == direct
