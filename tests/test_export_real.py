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
# Trains a tiny SSD (shared fixture), exports every format and evaluates two (~2.5 min).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_export(trained_tiny_checkpoint, tmp_path_factory):
    config, model_dir, records = trained_tiny_checkpoint
    out = tmp_path_factory.mktemp("export") / "tiny_ssd"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    res = subprocess.run(
        [sys.executable, "export.py", "--pipeline", str(config), "--checkpoint", str(model_dir),
         "--out", str(out), "--representative-data", str(records / "records" / "train.record-*"),
         "--num-representative", "8"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_all_formats_written_and_agree(real_export):
    names = {p.name for p in real_export.iterdir()}
    assert {"frozen_inference_graph.pb", "saved_model", "model.tflite", "model_int8.tflite",
            "model.onnx", "label_map.pbtxt", "pipeline.config", "export_info.json"} <= names
    info = json.loads((real_export / "export_info.json").read_text())
    assert info["input_size"] == [96, 96]
    assert set(info["agreement_vs_frozen"]) == {"saved_model", "tflite", "tflite_int8", "onnx"}


def test_detector_loads_every_format_of_the_real_model(real_export, trained_tiny_checkpoint):
    import cv2

    from detect.detector import Detector

    image = cv2.imread(str(next((trained_tiny_checkpoint[2] / "images" / "train").glob("*.jpg"))))
    results = {}
    for fmt in ("frozen", "saved_model", "tflite", "tflite_int8", "onnx"):
        detections = Detector(real_export, format=fmt)(image)
        assert detections.boxes.shape[1] == 4
        assert np.all(detections.boxes[:, 2] >= detections.boxes[:, 0])
        results[fmt] = detections
    # Float formats compute the same function: same top score within float tolerance.
    top = {f: float(d.scores.max()) if len(d) else 0.0 for f, d in results.items()}
    assert abs(top["frozen"] - top["saved_model"]) < 1e-4


def test_evaluate_cli_scores_an_exported_model(real_export, trained_tiny_checkpoint, tmp_path):
    """The exported graph keeps the trained model's accuracy on held-out images (a broken
    export, preprocessing or int8 calibration would not); floor: tests/conftest.py."""
    from tests.conftest import TRAINED_TINY_AP50_FLOOR, run_together

    config = trained_tiny_checkpoint[0]
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    ap50 = {}
    formats = ("frozen", "tflite_int8")
    runs = run_together([([sys.executable, "evaluate.py", "--pipeline", str(config), "--model",
                           str(real_export), "--format", fmt, "--out", str(tmp_path / fmt)], env)
                         for fmt in formats], timeout=300)
    for fmt, res in zip(formats, runs):
        assert res.returncode == 0, res.stderr[-2000:]
        data = json.loads((tmp_path / fmt / "metrics.json").read_text())
        assert data["format"] == fmt and data["num_images"] == 12
        ap50[fmt] = data["metrics"]["AP50"]
    print("held-out AP50 per format:", ap50)  # shown with -s
    assert ap50["frozen"] >= TRAINED_TINY_AP50_FLOOR, ap50
    assert ap50["tflite_int8"] >= TRAINED_TINY_AP50_FLOOR, ap50
    assert ap50["tflite_int8"] >= ap50["frozen"] - 0.1, ap50  # measured 0.436 vs 0.443


@pytest.mark.parametrize("pad", [False, True], ids=["stretched", "padded"])
def test_a_non_square_input_keeps_boxes_in_place(trained_tiny_checkpoint, tmp_path, pad):
    """A 4:3 model (height != width) must read frames and place boxes the same way in the
    checkpoint and in the exported graphs: swapping height and width anywhere in export or
    the Detector would move every box, and the held-out AP with it. Padded: the square
    blob pictures get side bars (pad_narrower_images) in the checkpoint's evaluation, in
    the frozen graph and in the Detector before TFLite, and every box comes back out of
    them; a reader that forgot the bars, or to take them off the boxes, would move the
    boxes sideways."""
    from config.loader import load_pipeline
    from tests.conftest import export_at_4x3, run_together

    model_dir = trained_tiny_checkpoint[1]
    wide, out = export_at_4x3(trained_tiny_checkpoint, tmp_path, pad, formats=("frozen", "tflite"))
    resizer = load_pipeline(wide).model.ssd.image_resizer.fixed_shape_resizer
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    info = json.loads((out / "export_info.json").read_text())
    assert info["input_size"] == [resizer.height, resizer.width]
    assert info["pad_narrower_images"] is pad
    assert info["agreement_vs_frozen"]["tflite"]["within_tolerance"], info["agreement_vs_frozen"]
    held_out = []   # the trained blobs' own held-out pictures are 4:3: nothing to pad
    if pad:
        from data_prep.import_annotations import import_csv
        from tests.synthetic_data import make_images

        square = make_images(tmp_path / "square", count=64, size=(96, 96), seed=11)
        import_csv(square, tmp_path / "square" / "images", tmp_path / "square_prepared",
                   split="random", fractions=(0.5, 0.0, 0.5), progress=False)
        held_out = ["--records", str(tmp_path / "square_prepared" / "records" / "eval.record-*")]
    runs = run_together(
        [([sys.executable, "evaluate.py", "--pipeline", str(wide), "--checkpoint", str(model_dir),
           "--out", str(tmp_path / "checkpoint"), *held_out], env)]
        + [([sys.executable, "evaluate.py", "--pipeline", str(wide), "--model", str(out),
             "--format", fmt, "--out", str(tmp_path / fmt), *held_out], env)
           for fmt in ("frozen", "tflite")],
        timeout=300)
    ap50 = {}
    for name, run in zip(("checkpoint", "frozen", "tflite"), runs):
        assert run.returncode == 0, run.stderr[-2000:]
        ap50[name] = json.loads((tmp_path / name / "metrics.json").read_text())["metrics"]["AP50"]
    print(f"held-out AP50 read at 4:3 ({'padded' if pad else 'stretched'}):", ap50)  # shown with -s
    assert ap50["checkpoint"] > 0.1, ap50   # the square model still finds the blobs at 4:3
    assert abs(ap50["frozen"] - ap50["checkpoint"]) < 0.05, ap50
    assert abs(ap50["tflite"] - ap50["checkpoint"]) < 0.05, ap50
