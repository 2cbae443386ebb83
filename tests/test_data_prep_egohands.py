"""prep_egohands end to end on a synthetic EgoHands-shaped zip, plus every bad input."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from common.cli import run_main
from data_prep.egohands_cli import main
from data_prep.label_map import read_label_map
REPO_ROOT = Path(__file__).resolve().parents[1]

W, H = 64, 48
FIELDS = ("myleft", "myright", "yourleft", "yourright")
VIDEOS = ("CARDS_A_X", "PUZZLE_B_Y", "JENGA_C_Z")
FRAMES = 4


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _polygons(video_index: int):
    """Per frame {field: N x 2 (x, y)}; covers empty, 1-point, border-crossing and
    degenerate polygons."""
    frames = []
    for k in range(FRAMES):
        off = 3 * k + video_index
        frames.append({
            "myleft": np.array([[5 + off, 10], [20 + off, 12], [12 + off, 30]], float),
            "myright": (np.zeros((0, 0)) if k == 1 else
                        np.array([[50.5, 30], [70, 40], [55, 55.25], [45, 35]], float)),  # crosses border
            "yourleft": (np.array([[7.0, 7.0]]) if k == 2 else               # one point: no hand
                         np.array([[30, 5], [40, 5], [35, 5 + 0.2 * k]], float)),  # flat: degenerate
            "yourright": (np.array([[-20, -20], [-10, -5], [-15, -1]], float) if k == 3  # outside
                          else np.array([[30, 20], [38, 22], [33, 28], [31, 25]], float)),
        })
    return frames


def _expected_boxes(classes: int) -> dict[str, list[tuple]]:
    """Independent oracle: {output filename: [(class, xmin, ymin, xmax, ymax)]}."""
    out = {}
    for v, video in enumerate(VIDEOS):
        for k, frame in enumerate(_polygons(v)):
            boxes = []
            for field in FIELDS:
                pts = frame[field].reshape(-1, 2)
                if len(pts) < 3:
                    continue
                x0, y0 = np.clip(pts.min(0), 0, [W, H])
                x1, y1 = np.clip(pts.max(0), 0, [W, H])
                if x1 - x0 >= 1 and y1 - y0 >= 1:
                    boxes.append(("hand" if classes == 1 else field,
                                  float(x0), float(y0), float(x1), float(y1)))
            out[f"{video}_frame_{k + 1:04d}.jpg"] = boxes
    return out


def _mat_bytes(frames, tmp: Path, variable: str = "polygons") -> bytes:
    struct = np.zeros((1, len(frames)), dtype=[(f, object) for f in FIELDS])
    for k, frame in enumerate(frames):
        for field in FIELDS:
            struct[0, k][field] = frame[field]
    path = tmp / "p.mat"
    scipy.io.savemat(str(path), {variable: struct})
    return path.read_bytes()


def make_zip(path: Path, *, skip_mat: str | None = None, mat_variable: str = "polygons",
             bad_jpeg: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """An egohands_data.zip look-alike; the keyword arguments break it on purpose."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("DEMO_1.m", "% demo script")
        for v, video in enumerate(VIDEOS):
            base = f"_LABELLED_SAMPLES/{video}"
            for k in range(FRAMES):
                name = f"{base}/frame_{k + 1:04d}.jpg"
                data = _jpeg(100 * v + k)
                if bad_jpeg == name:
                    data = data[: len(data) // 2]
                archive.writestr(name, data)
            if skip_mat != video:
                archive.writestr(f"{base}/polygons.mat",
                                 _mat_bytes(_polygons(v), path.parent, mat_variable))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory) -> Path:
    return make_zip(tmp_path_factory.mktemp("zip") / "egohands_data.zip")


def _run(args, capsys) -> tuple[int, str, str]:
    code = run_main(main, [*args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _check_records_match_csv(out: Path, read_records, names: list[str]) -> int:
    """Every record's boxes/classes equal its CSV rows; returns the number of images."""
    total = 0
    for split in ("train", "test", "eval"):
        rows = _read_csv(out / f"{split}_labels.csv")
        by_file: dict[str, list[dict]] = {}
        for row in rows:
            by_file.setdefault(row["filename"], []).append(row)
        examples = read_records(sorted((out / "records").glob(f"{split}.record-*")))
        files = sorted(p.name for p in (out / "images" / split).iterdir())
        assert sorted(e["filename"] for e in examples) == files
        for ex in examples:
            total += 1
            assert ex["image"].shape == (H, W, 3)
            assert (ex["width"], ex["height"]) == (W, H)
            assert ex["format"] == "jpeg"
            assert ex["source_id"].decode() == ex["filename"]
            # original bytes, not re-encoded
            assert ex["encoded"] == (out / "images" / split / ex["filename"]).read_bytes()
            csv_rows = by_file.get(ex["filename"], [])
            assert len(csv_rows) == len(ex["groundtruth_boxes"])
            for row, box, label, text, diff in zip(csv_rows, ex["groundtruth_boxes"],
                                                   ex["groundtruth_classes"],
                                                   ex["class_text"], ex["difficult"]):
                ymin, xmin, ymax, xmax = box
                assert np.allclose([xmin * W, ymin * H, xmax * W, ymax * H],
                                   [float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax")],
                                   atol=0.01)
                assert 0 <= xmin < xmax <= 1 and 0 <= ymin < ymax <= 1
                assert text == row["class"] and names[label - 1] == row["class"]
                assert diff == 0
    return total


def test_random_split_end_to_end(good_zip, tmp_path, capsys, read_records):
    out = tmp_path / "out"
    code, stdout, err = _run(["--zip", str(good_zip), "--out", str(out), "--shards", "2",
                              "--visualize", "3", "--workers", "3"], capsys)
    assert code == 0, err
    counts = {s: len(list((out / "images" / s).iterdir())) for s in ("train", "test", "eval")}
    assert counts == {"train": 10, "test": 1, "eval": 1}
    assert read_label_map(out / "label_map.pbtxt") == ["hand"]
    assert len(list((out / "records").glob("train.record-*-of-00002"))) == 2

    expected = _expected_boxes(1)
    got: dict[str, list[tuple]] = {}
    for split in ("train", "test", "eval"):
        for row in _read_csv(out / f"{split}_labels.csv"):
            got.setdefault(row["filename"], []).append(
                (row["class"], *(float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax"))))
            assert row["group"] == row["filename"].split("_frame_")[0]
    assert got == {k: v for k, v in expected.items() if v}
    assert _check_records_match_csv(out, read_records, ["hand"]) == len(VIDEOS) * FRAMES
    # 3 flat polygons (frames 1, 2, 4 of each video... k != 2) + 1 outside per video
    assert "degenerate boxes skipped: 12" in stdout
    assert "empty/<3-point polygons (no hand)" in stdout
    assert len(list((out / "visualize").glob("*.png"))) == 3

    # Rerun: nothing redone, nothing changed.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    code, stdout, _ = _run(["--zip", str(good_zip), "--out", str(out), "--shards", "2",
                            "--visualize", "3"], capsys)
    assert code == 0 and "nothing to do" in stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps


def test_video_split_four_classes_and_resume(good_zip, tmp_path, capsys, read_records):
    out = tmp_path / "out"
    code, stdout, err = _run(["--zip", str(good_zip), "--out", str(out), "--split", "video",
                              "--classes", "4", "--seed", "7"], capsys)
    assert code == 0, err
    assert read_label_map(out / "label_map.pbtxt") == list(FIELDS)
    videos_per_split = {}
    for split in ("train", "test", "eval"):
        names = [p.name for p in (out / "images" / split).iterdir()]
        videos_per_split[split] = {n.split("_frame_")[0] for n in names}
        assert len(videos_per_split[split]) == 1          # 3 videos -> one each
        assert f"{split} groups: {next(iter(videos_per_split[split]))}" in stdout
    assert set().union(*videos_per_split.values()) == set(VIDEOS)
    _check_records_match_csv(out, read_records, list(FIELDS))
    classes = {row["class"] for s in ("train", "test", "eval")
               for row in _read_csv(out / f"{s}_labels.csv")}
    assert classes <= set(FIELDS) and "myleft" in classes

    # Simulated interruption: a shard and a CSV missing, state not finished.
    shard = out / "records" / "eval.record-00000-of-00001"
    before = shard.read_bytes(), (out / "test_labels.csv").read_text()
    shard.unlink()
    (out / "test_labels.csv").unlink()
    (out / "records" / ".train.record-00000-of-00001.abc.tmp").write_bytes(b"half")
    state = json.loads((out / ".prep_state.json").read_text())
    (out / ".prep_state.json").write_text(json.dumps({**state, "done": False}))
    train_shard = out / "records" / "train.record-00000-of-00001"
    train_stamp = train_shard.stat().st_mtime_ns
    code, _, err = _run(["--zip", str(good_zip), "--out", str(out), "--split", "video",
                         "--classes", "4", "--seed", "7"], capsys)
    assert code == 0, err
    assert (shard.read_bytes(), (out / "test_labels.csv").read_text()) == before
    assert train_shard.stat().st_mtime_ns == train_stamp       # finished shard kept
    assert not list((out / "records").glob(".*.tmp"))

    # Changed options rebuild everything: no stale split leaks into the new layout.
    code, _, err = _run(["--zip", str(good_zip), "--out", str(out)], capsys)
    assert code == 0, err
    assert sum(len(list((out / "images" / s).iterdir())) for s in ("train", "test", "eval")) \
        == len(VIDEOS) * FRAMES
    assert read_label_map(out / "label_map.pbtxt") == ["hand"]


@pytest.mark.parametrize("case, names", [
    ("corrupt_zip", "egohands_data.zip"),
    ("zip_slip", "egohands_data.zip"),
    ("absolute_entry", "egohands_data.zip"),
    ("missing_mat", "PUZZLE_B_Y"),
    ("mat_without_polygons", "polygons.mat"),
    ("unreadable_jpeg", "frame_0002.jpg"),
    ("truncated_jpeg", "frame_0003.jpg"),
    ("missing_zip", "nope.zip"),
])
def test_bad_inputs_exit_2_with_one_line(case, names, tmp_path, capsys):
    zip_path = tmp_path / "egohands_data.zip"
    if case == "corrupt_zip":
        zip_path.write_bytes(b"PK\x03\x04 definitely not a zip" * 50)
    elif case == "zip_slip":
        make_zip(zip_path, extra={"../evil.txt": b"x"})
    elif case == "absolute_entry":
        make_zip(zip_path, extra={"/tmp/evil.txt": b"x"})
    elif case == "missing_mat":
        make_zip(zip_path, skip_mat="PUZZLE_B_Y")
    elif case == "mat_without_polygons":
        make_zip(zip_path, mat_variable="boxes")
    elif case == "unreadable_jpeg":
        with zipfile.ZipFile(make_zip(tmp_path / "good.zip")) as src, \
                zipfile.ZipFile(zip_path, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith("CARDS_A_X/frame_0002.jpg"):
                    data = b"not a jpeg at all"
                dst.writestr(info, data)
    elif case == "truncated_jpeg":
        make_zip(zip_path, bad_jpeg="_LABELLED_SAMPLES/JENGA_C_Z/frame_0003.jpg")
    elif case == "missing_zip":
        zip_path = tmp_path / "nope.zip"
    code, _, err = _run(["--zip", str(zip_path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], err
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def test_no_network_tells_user_to_pass_zip(tmp_path, capsys):
    code, _, err = _run(["--out", str(tmp_path / "out"), "--url",
                         "http://127.0.0.1:9/egohands_data.zip"], capsys)
    assert code == 2
    assert "--zip PATH" in err and "127.0.0.1:9" in err and len(err.strip().splitlines()) == 1


def test_root_script_help_and_exit_code(tmp_path):
    result = subprocess.run([sys.executable, "prep_egohands.py", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--split" in result.stdout and "--shards" in result.stdout
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    result = subprocess.run([sys.executable, "prep_egohands.py", "--zip", str(bad), "--out",
                             str(tmp_path / "o")], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {bad}")


def test_download_path_with_sha256(good_zip, tmp_path, capsys):
    """Without --zip the zip comes from --url (here a local server), checked by --sha256."""
    import functools
    import hashlib
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(good_zip.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{good_zip.name}"
        out = tmp_path / "out"
        digest = hashlib.sha256(good_zip.read_bytes()).hexdigest()
        code, _, err = _run(["--out", str(out), "--url", url, "--sha256", "0" * 64], capsys)
        assert code == 2 and "SHA-256" in err and "--zip PATH" in err
        code, stdout, err = _run(["--out", str(out), "--url", url, "--sha256", digest], capsys)
        assert code == 0, err
        assert (out / "egohands_data.zip").read_bytes() == good_zip.read_bytes()
        assert "EgoHands: 3 videos, 12 frames" in stdout
    finally:
        httpd.shutdown()
        httpd.server_close()
