"""evaluation/false_positives.py: hand-free crops really avoid every box, and
the count is what a real detector finds on them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evaluation.false_positives import hand_free_crops
from tests.conftest import REPO_ROOT, webcam_subset_records


def overlaps(crop, box, h, w):
    y0, x0, y1, x1 = crop
    by0, bx0, by1, bx1 = box[0] * h, box[1] * w, box[2] * h, box[3] * w
    return not (y1 <= by0 or y0 >= by1 or x1 <= bx0 or x0 >= bx1)


def test_crops_avoid_every_box_and_stay_inside_the_image():
    boxes = np.array([[0.1, 0.1, 0.4, 0.3], [0.5, 0.6, 0.9, 0.95]])
    crops = hand_free_crops(480, 640, boxes, per_image=3)
    assert len(crops) == 3
    for crop in crops:
        y0, x0, y1, x1 = crop
        assert 0 <= y0 < y1 <= 480 and 0 <= x0 < x1 <= 640 and y1 - y0 == x1 - x0 >= 64
        assert not any(overlaps(crop, b, 480, 640) for b in boxes)
    # Crops do not overlap each other.
    for i, a in enumerate(crops):
        for b in crops[i + 1:]:
            assert a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3]


def test_an_image_full_of_hands_gives_no_crop():
    assert hand_free_crops(300, 300, np.array([[0.0, 0.0, 1.0, 1.0]])) == []
    assert len(hand_free_crops(300, 300, np.zeros((0, 4)))) == 2


@pytest.mark.slow
def test_cli_counts_detections_of_the_shipped_model(shared_dir, tmp_path):
    """Real records, the shipped int8 model: the JSON's count matches a direct
    run of the same model on the same crops."""
    from detect.detector import Detector
    from evaluation.false_positives import crops_from_records

    records = str(webcam_subset_records(shared_dir, tmp_path, 12) / "train.record-*")
    out = tmp_path / "fp.json"
    run = subprocess.run([sys.executable, "-m", "evaluation.false_positives", "--model",
                          "exported_models/handtrack_default", "--records", records,
                          "--threshold", "0.05", "--out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    result = json.loads(out.read_text())
    import glob
    detector = Detector("exported_models/handtrack_default")
    direct = [len(detector.detect_rgb(c).filter(0.05))
              for _, c in crops_from_records(sorted(glob.glob(records)))]
    assert result["crops"] == len(direct) >= 12
    assert result["false_positives"] == sum(direct)
    bad = subprocess.run([sys.executable, "-m", "evaluation.false_positives", "--model",
                          "exported_models/handtrack_default", "--records", records,
                          "--threshold", "2", "--out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: --threshold")
