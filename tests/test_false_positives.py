"""evaluation/false_positives.py: hand-free crops really avoid every box, and
the count is what a real detector finds on them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluation.false_positives import crops_around, crops_from_records, hand_free_crops
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


def test_crops_around_hold_the_target_whole_and_avoid_every_box():
    hand = np.array([[0.1, 0.1, 0.3, 0.25]])                 # pixels 48..144 x 64..160
    targets = np.array([[200.0, 400.0, 260.0, 440.0],       # open floor: 3x context fits
                        [160.0, 200.0, 220.0, 260.0],       # beside the hand: 3x touches it
                        [0.0, 600.0, 20.0, 640.0],          # in the corner: shifted inside
                        [300.0, 100.0, 310.0, 108.0]])      # tiny: grown to the 64 px minimum
    crops = crops_around(480, 640, hand, targets)
    assert len(crops) == 4
    sides = []
    for (y0, x0, y1, x1), (ty0, tx0, ty1, tx1) in zip(crops, targets):
        assert 0 <= y0 and 0 <= x0 and y1 <= 480 and x1 <= 640 and y1 - y0 == x1 - x0
        assert y0 <= ty0 and x0 <= tx0 and ty1 <= y1 and tx1 <= x1
        grown = np.array([48 - 9.6, 64 - 9.6, 144 + 9.6, 160 + 9.6])   # margin 0.1
        assert y1 <= grown[0] or y0 >= grown[2] or x1 <= grown[1] or x0 >= grown[3]
        sides.append(y1 - y0)
    # 60 px beside the hand: 180 would touch it, 120 does not.
    assert sides == [180, 120, 120, 64]


def test_a_target_no_square_can_isolate_is_skipped():
    hands = np.array([[0.0, 0.0, 1.0, 0.45], [0.0, 0.55, 1.0, 1.0]])   # a 10% gap between them
    assert crops_around(300, 300, hands, np.array([[100.0, 140.0, 200.0, 160.0]])) == []
    assert crops_around(300, 300, np.zeros((0, 4)), np.zeros((0, 4))) == []


@pytest.mark.slow
def test_cli_counts_detections_of_the_shipped_model(shared_dir, tmp_path):
    """Real records, the shipped int8 model: the JSON's count matches a direct
    run of the same model on the same crops."""
    from detect.detector import Detector

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
    # --groups: the same counts split by the importer CSV's groups (capture sessions).
    prep = Path(records).parent.parent
    labels = prep / "train_labels.csv"
    run = subprocess.run([sys.executable, "-m", "evaluation.false_positives", "--model",
                          "exported_models/handtrack_default", "--records", records,
                          "--threshold", "0.05", "--groups", str(labels), "--out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    grouped = json.loads(out.read_text())
    import csv
    with open(labels, newline="") as f:
        session = {row["filename"]: row["group"] for row in csv.DictReader(f)}
    expected: dict = {}
    for (name, _), n in zip(crops_from_records(sorted(glob.glob(records))), direct):
        counts = expected.setdefault(session[name.rsplit("#", 1)[0]], [0, 0])
        counts[0] += 1
        counts[1] += n
    assert {g: [c["crops"], c["false_positives"]] for g, c in grouped["by_group"].items()} == expected
    assert grouped["false_positives"] == result["false_positives"]
    bad = subprocess.run([sys.executable, "-m", "evaluation.false_positives", "--model",
                          "exported_models/handtrack_default", "--records", records,
                          "--groups", str(prep / "summary.txt"), "--out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: --groups")


@pytest.mark.slow
def test_mining_crops_around_the_models_own_false_detections(shared_dir, tmp_path):
    """make_negatives.py --mine-with on real webcam frames: every crop it writes is a
    hand-free record, one per false detection mined_crops finds with the same model."""
    import glob

    from detect.detector import Detector
    from training.inputs import ExampleDecoder

    sys.path.insert(0, str(REPO_ROOT / "experiments"))
    from make_negatives import mined_crops

    records = webcam_subset_records(shared_dir, tmp_path, 12)
    data = tmp_path / "data"
    data.mkdir()
    (data / "webcam_hands").symlink_to(records.parent)
    command = [sys.executable, "experiments/make_negatives.py", "--data", str(data),
               "--sets", "webcam_hands", "--mine-with", "exported_models/handtrack_default",
               "--out", str(tmp_path / "neg")]
    bad = subprocess.run(command + ["--threshold", "1.5"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "--threshold" in bad.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "neg").exists()
    no_model = [a for a in command if a not in ("--mine-with", "exported_models/handtrack_default")]
    bad = subprocess.run(no_model + ["--mine-on", "crops"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "--mine-on needs --mine-with" in bad.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "neg").exists()
    run = subprocess.run(command + ["--threshold", "0.05"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    import tensorflow as tf

    decoder = ExampleDecoder()
    written = [decoder(s) for s in
               tf.data.TFRecordDataset(str(tmp_path / "neg/records/train-webcam_hands.record"))]
    detector = Detector("exported_models/handtrack_default")
    direct = list(mined_crops(sorted(glob.glob(str(records / "train.record-*"))), detector, 0.05))
    assert len(written) == len(direct) >= 1
    for example, (_, crop) in zip(written, direct):
        assert example["boxes"].shape[0] == 0
        h, w = example["image"].shape[:2]
        assert h == w == crop.shape[0] == crop.shape[1] >= 64
    # --mine-on crops adds the hand-free crops (as the held-out count cuts them) that the
    # model fires on, after the crops around its detections on whole pictures.
    out = tmp_path / "neg_both"
    run = subprocess.run(command[:-1] + [str(out), "--threshold", "0.05", "--mine-on", "images",
                                         "crops", "--per-image", "2"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    both = [decoder(s) for s in tf.data.TFRecordDataset(str(out / "records/train-webcam_hands.record"))]
    fired = [crop for _, crop in crops_from_records(sorted(glob.glob(str(records / "train.record-*"))), 2)
             if len(detector.detect_rgb(crop).filter(0.05))]
    assert len(fired) >= 1 and len(both) == len(direct) + len(fired)
    for example, crop in zip(both[len(direct):], fired):
        assert example["boxes"].shape[0] == 0 and example["image"].shape == crop.shape
    # --drop-fired-by keeps the random hand-free crops the model does not fire on: the
    # complement of `fired` among the same crops, in order.
    out = tmp_path / "neg_quiet"
    run = subprocess.run(no_model[:-2] + ["--out", str(out), "--per-image", "2", "--threshold", "0.2",
                                   "--drop-fired-by", "exported_models/handtrack_default"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    quiet = [decoder(s) for s in tf.data.TFRecordDataset(str(out / "records/train-webcam_hands.record"))]
    crops = [crop for _, crop in crops_from_records(sorted(glob.glob(str(records / "train.record-*"))), 2)]
    kept = [crop for crop in crops if not len(detector.detect_rgb(crop).filter(0.2))]
    assert len(crops) > len(quiet) == len(kept) >= 1
    for example, crop in zip(quiet, kept):
        assert example["boxes"].shape[0] == 0 and example["image"].shape == crop.shape
    bad = subprocess.run(command + ["--drop-fired-by", "exported_models/handtrack_default"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--drop-fired-by" in bad.stderr.strip().splitlines()[-1]
