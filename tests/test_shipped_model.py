"""The shipped model and sample clip: README's first command, and the model card's claims."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "exported_models" / "handtrack_default"
CLIP = REPO / "samples" / "hands_sample.mp4"


def test_readme_main_job_runs_headless_on_the_bundled_clip(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("DISPLAY", None)
    res = subprocess.run([sys.executable, "detect_multi_threaded.py", "--source", str(CLIP),
                          "--display", "0", "--json", str(tmp_path / "out.jsonl")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "summary: read 120, processed 120, dropped 0" in res.stdout + res.stderr
    frames = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [f["frame"] for f in frames] == list(range(120))
    # The webcam part (first 80 frames) shows two raised hands throughout.
    assert sum(len(f["boxes"]) >= 1 for f in frames[:80]) >= 76


@pytest.mark.parametrize("fmt", ["frozen", "tflite", "tflite_int8", "onnx"])
def test_every_shipped_format_finds_the_hands(fmt):
    from detect.detector import Detector

    capture = cv2.VideoCapture(str(CLIP))
    ok, frame = capture.read()
    capture.release()
    assert ok
    detections = Detector(MODEL, format=fmt)(frame).filter(0.5)
    assert len(detections) == 2, detections
    left, right = sorted(detections.boxes.tolist())
    assert left[2] < frame.shape[1] / 2 < right[0]  # one hand on each side of the picture


def test_model_card_metrics_are_the_recorded_evaluations():
    shipped = json.loads((MODEL / "metrics.json").read_text())
    run = REPO / "experiments" / shipped["run"]
    for view, metrics in shipped["held_out"].items():
        recorded = json.loads((run / f"eval_{view}" / "metrics.json").read_text())["metrics"]
        assert metrics["AP50"] == recorded["AP50"]
    card = (MODEL / "README.md").read_text()
    for view in ("egohands_frames", "webcam_hands", "closeup_hands", "rps_hands", "phone_hands"):
        assert f"{shipped['held_out'][view]['AP50']:.3f}" in card


def test_tiles_auto_also_reads_wide_frames_as_end_squares_and_merges():
    from common.errors import UserError
    from detect.detector import TILE_MERGE_IOU, Detector
    from detect.detections import box_iou

    capture = cv2.VideoCapture(str(CLIP))
    ok, frame = capture.read()
    capture.release()
    assert ok
    auto, off = Detector(MODEL, format="tflite_int8", tiles="auto"), Detector(MODEL, format="tflite_int8")
    assert off.tiles == "off"   # one pass per frame unless asked (detect.detector.TILES)
    # 4:3 frames are never tiled.
    assert auto(frame).to_json() == off(frame).to_json()
    left, right = sorted(off(frame).filter(0.5).boxes.tolist())
    # The clip frame at each end of a 3:1 frame: the end square holding the frame's
    # left (right) part finds that hand at its place in the wide frame.
    gray = np.full((frame.shape[0], 400, 3), 128, np.uint8)
    for wide, hand in ((np.hstack([frame, gray]), left),
                       (np.hstack([gray, frame]), [right[0] + 400, right[1], right[2] + 400, right[3]])):
        found = auto(wide).filter(0.5)
        assert (box_iou([hand], found.boxes) >= 0.5).any(), (hand, found)
        everything = auto(wide).boxes
        overlaps = box_iou(everything, everything)[np.triu_indices(len(everything), k=1)]
        assert (overlaps <= TILE_MERGE_IOU + 1e-6).all(), overlaps.max()
    with pytest.raises(UserError, match="--tiles"):
        Detector(MODEL, format="tflite_int8", tiles="always")
