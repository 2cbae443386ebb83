"""Export round trip of the real SSD from a checkpoint trained for a few steps, via export.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_export(tiny_checkpoint, tiny_records, tmp_path_factory):
    config, model_dir = tiny_checkpoint
    out = tmp_path_factory.mktemp("export") / "tiny_ssd"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    res = subprocess.run(
        [sys.executable, "export.py", "--pipeline", str(config), "--checkpoint", str(model_dir),
         "--out", str(out), "--representative-data", str(tiny_records / "records" / "train.record-*"),
         "--num-representative", "8"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_all_formats_written_and_agree(real_export):
    names = {p.name for p in real_export.iterdir()}
    assert {"frozen_inference_graph.pb", "saved_model", "model.tflite", "model_int8.tflite",
            "label_map.pbtxt", "pipeline.config", "export_info.json"} <= names
    info = json.loads((real_export / "export_info.json").read_text())
    assert info["input_size"] == [96, 96]
    assert set(info["agreement_vs_frozen"]) == {"saved_model", "tflite", "tflite_int8"}


def test_detector_loads_every_format_of_the_real_model(real_export, tiny_records):
    import cv2

    from detect.detector import Detector

    image = cv2.imread(str(next((tiny_records / "images" / "train").glob("*.jpg"))))
    results = {}
    for fmt in ("frozen", "saved_model", "tflite", "tflite_int8"):
        detections = Detector(real_export, format=fmt)(image)
        assert detections.boxes.shape[1] == 4
        assert np.all(detections.boxes[:, 2] >= detections.boxes[:, 0])
        results[fmt] = detections
    # Float formats compute the same function: same top score within float tolerance.
    top = {f: float(d.scores.max()) if len(d) else 0.0 for f, d in results.items()}
    assert abs(top["frozen"] - top["saved_model"]) < 1e-4


def test_evaluate_cli_scores_an_exported_model(real_export, tiny_checkpoint, tmp_path):
    config, _ = tiny_checkpoint
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    for fmt in ("frozen", "tflite_int8"):
        res = subprocess.run([sys.executable, "evaluate.py", "--pipeline", str(config), "--model",
                              str(real_export), "--format", fmt, "--out", str(tmp_path / fmt)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        data = json.loads((tmp_path / fmt / "metrics.json").read_text())
        assert data["format"] == fmt and data["num_images"] == 2
        assert 0.0 <= data["metrics"]["AP50"] <= 1.0
