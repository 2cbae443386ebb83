"""model.onnx: Python Detector vs frozen graph, the C++ example vs Python, the pygame demo."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import REPO_ROOT

MODEL = REPO_ROOT / "exported_models" / "handtrack_default"
CLIP = REPO_ROOT / "samples" / "hands_sample.mp4"


def _clip_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def test_shipped_onnx_matches_frozen_graph():
    from export_lib.exporter import FLOAT_TOLERANCE, verify_formats

    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in _clip_frames(8)]
    agg = verify_formats(MODEL, frames, formats=("frozen", "onnx"))["onnx"]
    assert agg.matched >= 8
    assert agg.within(**FLOAT_TOLERANCE), agg.to_json()


def test_tiny_export_writes_onnx_that_agrees(tmp_path):
    import json

    from tests.tiny_detector import tiny_export_dir

    d = tiny_export_dir()
    info = json.loads((d / "export_info.json").read_text())
    assert (d / "model.onnx").is_file()
    assert info["formats"]["onnx"]["nms_iou_threshold"] == 0.5
    agg = info["agreement_vs_frozen"]["onnx"]
    assert agg["within_tolerance"] and agg["matched"] > 0 and agg["min_iou"] > 0.99


def test_onnx_export_cli_adds_a_shareable_onnx_to_an_export(tmp_path):
    """`python -m export_lib.onnx_export DIR` on an export without ONNX: model.onnx and
    export_info.json appear with the umask's normal mode, not mkstemp's owner-only one."""
    import json

    from common.atomic import normal_file_mode
    from common.errors import UserError
    from export_lib.onnx_export import main
    from tests.tiny_detector import tiny_export_dir

    with pytest.raises(UserError, match="no frozen_inference_graph.pb"):
        main([str(tmp_path)])
    for name in ("frozen_inference_graph.pb", "label_map.pbtxt"):
        shutil.copy(tiny_export_dir() / name, tmp_path / name)
    assert main([str(tmp_path)]) == 0
    for name in ("model.onnx", "export_info.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == normal_file_mode(), name
    info = json.loads((tmp_path / "export_info.json").read_text())["formats"]["onnx"]
    assert info["bytes"] == (tmp_path / "model.onnx").stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export_info.json", "frozen_inference_graph.pb", "label_map.pbtxt", "model.onnx"]


def test_onnx_export_of_a_broken_graph_is_one_line(tmp_path):
    """The ONNX export reads the graph with the detector's reader: same one-line errors."""
    from common.errors import UserError
    from export_lib.onnx_export import frozen_graph_to_onnx

    with pytest.raises(UserError, match="missing.pb: cannot read"):
        frozen_graph_to_onnx(tmp_path / "missing.pb", tmp_path / "model.onnx")
    broken = tmp_path / "broken.pb"
    broken.write_bytes(b"\xff" * 64)
    with pytest.raises(UserError, match="broken.pb: not a GraphDef"):
        frozen_graph_to_onnx(broken, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def _cpp_toolchain() -> str | None:
    if not (shutil.which("cmake") and shutil.which("c++")):
        return "cmake or a C++ compiler is not installed"
    r = subprocess.run(["pkg-config", "--exists", "opencv4"], capture_output=True) \
        if shutil.which("pkg-config") else None
    if r is None or r.returncode != 0:
        return "OpenCV 4 development files (libopencv-dev) are not installed"
    return None


def _cpp_matches_python(model_dir, frames, tmp_path, score_thresh: float = 0.5) -> int:
    """Build the C++ example, run it on each frame with the flags export_info.json gives,
    and assert it prints the Python Detector's detections; returns how many it compared."""
    import json

    from detect.detector import Detector

    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(REPO_ROOT / "examples" / "cpp"), "-B", str(build)],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True,
                   timeout=300)
    info = json.loads((model_dir / "export_info.json").read_text())
    height, width = info["input_size"]
    flags = ["--input-size", f"{width}x{height}", "--score-thresh", str(score_thresh),
             "--pad-narrower", "1" if info.get("pad_narrower_images") else "0"]
    det = Detector(model_dir, format="onnx")
    compared = 0
    for i, f in enumerate(frames):
        path = tmp_path / f"f{i}.png"  # lossless: both sides read identical pixels
        cv2.imwrite(str(path), f)
        out = subprocess.run([str(build / "handtrack_detect"), str(model_dir / "model.onnx"),
                              str(path), *flags],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        lines = out.strip().splitlines()
        cpp = np.array([[float(v) for v in l.split()[1:]] for l in lines[1:]]).reshape(-1, 5)
        py = det(cv2.imread(str(path))).filter(score_thresh)
        assert lines[0] == f"frame 0: {len(py)} hands"
        assert cpp[:, 0] == pytest.approx(py.scores, abs=1e-3)
        assert cpp[:, 1:] == pytest.approx(py.boxes, abs=0.05)
        compared += len(py)
    return compared


@pytest.mark.slow
def test_cpp_example_prints_the_same_detections_as_python(tmp_path):
    why = _cpp_toolchain()
    if why:
        pytest.skip(why)
    assert _cpp_matches_python(MODEL, _clip_frames(3), tmp_path) >= 3


@pytest.mark.slow
def test_cpp_example_pads_square_pictures_as_python_does(trained_tiny_checkpoint, tmp_path):
    """A 4:3 model that pads narrower pictures (pad_narrower_images): on square pictures
    the C++ example's side bars and box mapping must match the Python Detector's; without
    the bars its boxes land 1.33x too wide and its scores change."""
    why = _cpp_toolchain()
    if why:
        pytest.skip(why)
    from tests.conftest import export_at_4x3
    from training.inputs import ExampleDecoder

    records = trained_tiny_checkpoint[2]
    _, out = export_at_4x3(trained_tiny_checkpoint, tmp_path, pad=True, formats=("frozen", "onnx"))
    pictures = [name_image_boxes[1] for name_image_boxes in ExampleDecoder().images(
        [str(p) for p in sorted((records / "records").glob("eval.record-*"))])][:4]
    squares = [cv2.cvtColor(np.ascontiguousarray(p[:, :p.shape[0]]), cv2.COLOR_RGB2BGR)
               for p in pictures]
    assert _cpp_matches_python(out, squares, tmp_path, score_thresh=0.3) >= 2


@pytest.mark.slow
def test_pygame_demo_runs_headless():
    pytest.importorskip("pygame")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    r = subprocess.run([sys.executable, "examples/hand_game.py", "--source", str(CLIP),
                        "--max-frames", "20"], cwd=REPO_ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "frames 20," in r.stdout
