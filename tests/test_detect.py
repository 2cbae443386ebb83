"""detect/: Detections, the Detector's colour handling, the CLIs end to end, error cases."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.cli import run_main  # noqa: E402
from detect.detections import Detections  # noqa: E402
from tests.tiny_detector import moving_rectangle_frames, tiny_export_dir, write_video  # noqa: E402


@pytest.fixture(scope="module")
def export_dir():
    return tiny_export_dir()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "moving.mp4"
    write_video(path, moving_rectangle_frames(30, 160, 120))
    return path


def _multi(argv):
    from detect.cli import main
    return run_main(lambda a: main(a, threaded=True), argv)


def _single(argv):
    from detect.cli import main
    return run_main(lambda a: main(a, threaded=False), argv)


# --- Detections ---------------------------------------------------------------------------

def test_detections_validation_filter_json():
    d = Detections(np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32),
                   np.array([0.9, 0.2], np.float32), np.array([1, 1], np.int32), ("hand", "hand"))
    assert len(d) == 2 and len(d.filter(0.5)) == 1 and d.filter(0.5).names == ("hand",)
    assert json.loads(json.dumps(d.to_json()))["boxes"][0] == [1.0, 2.0, 3.0, 4.0]
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError, match="float32"):
        Detections(np.zeros((1, 4)), np.zeros(1, np.float32), np.ones(1, np.int32))
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        Detections(np.zeros((1, 5), np.float32), np.zeros(1, np.float32), np.ones(1, np.int32))
    with pytest.raises(ValueError, match="must both be"):
        Detections(np.zeros((2, 4), np.float32), np.zeros(1, np.float32), np.ones(2, np.int32))
    with pytest.raises(ValueError, match="1-based"):
        Detections(np.zeros((1, 4), np.float32), np.zeros(1, np.float32), np.zeros(1, np.int32))


def test_from_normalized_to_pixels():
    boxes = np.array([[0.1, 0.2, 0.5, 0.6], [0, 0, 0, 0]], np.float32)  # ymin xmin ymax xmax
    d = Detections.from_normalized(boxes, np.array([0.8, 0], np.float32),
                                   np.array([1.0, 1.0], np.float32), 1.0, 200, 100, ["hand"])
    np.testing.assert_allclose(d.boxes, [[40, 10, 120, 50]], rtol=1e-6)
    assert d.names == ("hand",) and d.classes.tolist() == [1]


# --- Detector ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["frozen", "tflite"])
def test_detector_converts_bgr_to_rgb_exactly_once(export_dir, fmt):
    """The tiny model scores the RED channel. An OpenCV frame that is red in BGR
    order (0, 0, 255) must score high; a blue one (255, 0, 0) must not. Zero or
    two conversions would flip both."""
    from detect.detector import Detector

    det = Detector(export_dir, format=fmt, num_threads=1)
    red_bgr = np.zeros((64, 64, 3), np.uint8)
    red_bgr[..., 2] = 255
    blue_bgr = red_bgr[..., ::-1].copy()
    assert len(det(red_bgr).filter(0.5)) > 0
    assert len(det(blue_bgr).filter(0.1)) == 0
    # detect_rgb takes RGB as is: the same blue array read as RGB is red
    assert len(det.detect_rgb(blue_bgr).filter(0.5)) > 0


def test_detector_model_resolution_errors(export_dir, tmp_path):
    from common.errors import UserError
    from detect.detector import resolve_model

    assert resolve_model(export_dir)[0] == "tflite_int8"  # the preferred format when present
    assert resolve_model(export_dir, "tflite")[0] == "tflite"
    assert resolve_model(export_dir / "saved_model")[0] == "saved_model"
    assert resolve_model(export_dir / "model_int8.tflite")[0] == "tflite_int8"
    with pytest.raises(UserError, match="model not found"):
        resolve_model(tmp_path / "nope")
    with pytest.raises(UserError, match="holds no exported model"):
        resolve_model(tmp_path)


# --- CLIs end to end -----------------------------------------------------------------------

def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_threaded_cli_processes_every_frame_in_order(export_dir, video, tmp_path, capsys):
    out_json, out_video = tmp_path / "r.jsonl", tmp_path / "annotated.mp4"
    code = _multi(["--source", str(video), "--display", "0", "--num-workers", "2",
                   "--width", "160", "--height", "120", "--model", str(export_dir),
                   "--format", "frozen", "--json", str(out_json), "--output", str(out_video)])
    out = capsys.readouterr().out
    assert code == 0
    recs = _read_jsonl(out_json)
    assert [r["frame"] for r in recs] == list(range(30))
    assert all(recs[i]["timestamp"] <= recs[i + 1]["timestamp"] for i in range(29))
    assert sum(len(r["boxes"]) for r in recs) >= 30  # the rectangle is found
    assert "summary: read 30, processed 30, dropped 0" in out and "p95" in out
    cap = cv2.VideoCapture(str(out_video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    cap.release()

    # the single-threaded baseline shares the code: identical detections
    out_json1 = tmp_path / "r1.jsonl"
    assert _single(["--source", str(video), "--display", "0", "--width", "160", "--height",
                    "120", "--model", str(export_dir), "--format", "frozen",
                    "--json", str(out_json1)]) == 0
    recs1 = _read_jsonl(out_json1)
    strip = [{k: v for k, v in r.items() if k != "timestamp"} for r in recs]
    assert [{k: v for k, v in r.items() if k != "timestamp"} for r in recs1] == strip


def test_json_to_stdout_moves_human_output_to_stderr(export_dir, video, capsys):
    code = _multi(["--source", str(video), "--display", "0", "--model", str(export_dir),
                   "--max-frames", "7", "--json", "-"])
    cap = capsys.readouterr()
    assert code == 0
    lines = cap.out.strip().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == list(range(7))
    assert "summary: read 7, processed 7" in cap.err


def test_single_image_cli(export_dir, tmp_path, capsys):
    import detect_single_image

    img = tmp_path / "in.png"
    cv2.imwrite(str(img), moving_rectangle_frames(30)[10])
    code = run_main(detect_single_image.main,
                    ["--image", str(img), "--out", str(tmp_path / "out.jpg"),
                     "--json", str(tmp_path / "out.json"), "--model", str(export_dir)])
    assert code == 0
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == (120, 160, 3)
    rec = json.loads((tmp_path / "out.json").read_text())
    assert rec["width"] == 160 and len(rec["boxes"]) >= 1 and rec["names"][0] == "hand"


# --- error cases: exit 2, one line ---------------------------------------------------------

def _one_error_line(capfd) -> str:
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_missing_model(tmp_path, video, capfd):
    assert _multi(["--source", str(video), "--display", "0",
                   "--model", str(tmp_path / "missing_model")]) == 2
    assert "missing_model" in _one_error_line(capfd)


def test_missing_video(export_dir, tmp_path, capfd):
    assert _multi(["--source", str(tmp_path / "nope.mp4"), "--display", "0",
                   "--model", str(export_dir)]) == 2
    assert "nope.mp4" in _one_error_line(capfd)


def test_unopenable_camera(export_dir, capfd):
    assert _multi(["--source", "99", "--display", "0", "--model", str(export_dir)]) == 2
    assert "camera 99" in _one_error_line(capfd)


def test_display_without_screen(export_dir, video, capfd, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert _single(["--source", str(video), "--display", "1", "--model", str(export_dir)]) == 2
    assert "--display 0" in _one_error_line(capfd)


def test_bad_flag_values(export_dir, video, capfd):
    assert _multi(["--source", str(video), "--display", "0", "--num-workers", "0"]) == 2
    assert "--num-workers" in _one_error_line(capfd)


@pytest.mark.parametrize("flag,value", [("--score-thresh", "1.5"), ("--num-threads", "0")])
def test_single_image_bad_flag_values(tmp_path, capfd, flag, value):
    import detect_single_image

    out = tmp_path / "out.jpg"
    assert run_main(detect_single_image.main,
                    ["--image", str(tmp_path / "in.png"), "--out", str(out), flag, value]) == 2
    assert flag in _one_error_line(capfd)
    assert not out.exists()
