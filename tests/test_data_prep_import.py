"""data_prep.import_annotations: CSV and Pascal VOC round trips, ignore boxes, bad input."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.cli import run_main
from data_prep.import_annotations import import_csv, main
from data_prep.label_map import read_label_map, write_label_map

SIZES = {"a": (80, 60), "b": (64, 48)}


def _image(path: Path, size: tuple[int, int], seed: int, fmt: str = "JPEG") -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)


ROWS = [  # filename, w, h, class, xmin, ymin, xmax, ymax, group, difficult
    ("g1_frame_0001.jpg", 80, 60, "hand", 10, 10, 30, 40, "s1", 0),
    ("g1_frame_0001.jpg", 80, 60, "ignore", 40, 5, 60, 20, "s1", 0),
    ("g1_frame_0002.jpg", 80, 60, "hand", 70, 50, 95, 70, "s1", 0),       # clipped to 80x60
    ("g2_frame_0001.jpg", 80, 60, "face", 1.5, 2.5, 20.25, 30, "s2", 1),  # difficult
    ("g2_frame_0002.jpg", 80, 60, "hand", 5, 5, 5.5, 30, "s2", 0),        # degenerate
    ("g3_frame_0001.png", 64, 48, "hand", 0, 0, 64, 48, "s3", 0),
    ("g3_frame_0002.jpg", 64, 48, "", "", "", "", "", "s3", ""),          # no objects
    ("g4_frame_0001.jpg", 64, 48, "face", 3, 4, 50, 40, "s4", 0),
]


def make_csv_dataset(root: Path, rows=ROWS) -> tuple[Path, Path]:
    images = root / "images"
    for i, name in enumerate(sorted({r[0] for r in rows})):
        w, h = next((r[1], r[2]) for r in rows if r[0] == name)
        _image(images / name, (w, h), i, "PNG" if name.endswith(".png") else "JPEG")
    csv_path = root / "labels.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "width", "height", "class", "xmin", "ymin", "xmax",
                         "ymax", "group", "difficult"])
        writer.writerows(rows)
    return csv_path, images


def _rows(out: Path) -> list[dict]:
    rows = []
    for split in ("train", "test", "eval"):
        with open(out / f"{split}_labels.csv", newline="") as f:
            rows += [dict(r, split=split) for r in csv.DictReader(f)]
    return rows


def test_csv_group_split_records_and_ignore(tmp_path, read_records):
    csv_path, images = make_csv_dataset(tmp_path / "src")
    out = tmp_path / "out"
    summary = import_csv(csv_path, images, out, split="group", seed=3, shards=2,
                         progress=False)
    names = read_label_map(out / "label_map.pbtxt")
    assert names == ["face", "hand"]                    # sorted, no 'ignore'
    assert summary.degenerate == 1 and summary.clipped == 1

    split_of_group: dict[str, str] = {}
    all_examples = {}
    for split in ("train", "test", "eval"):
        for ex in read_records(sorted((out / "records").glob(f"{split}.record-*"))):
            all_examples[ex["filename"]] = ex
            group = {r[0]: r[8] for r in ROWS}[ex["filename"]]
            assert split_of_group.setdefault(group, split) == split   # no group in 2 splits
            assert (out / "images" / split / ex["filename"]).is_file()
    assert len(all_examples) == 7 and len(set(split_of_group.values())) == 3

    ex = all_examples["g1_frame_0001.jpg"]
    assert ex["class_text"] == ["hand", "ignore"]
    assert list(ex["groundtruth_classes"]) == [2, 1] and list(ex["difficult"]) == [0, 1]
    ex = all_examples["g2_frame_0001.jpg"]
    assert list(ex["groundtruth_classes"]) == [1] and list(ex["difficult"]) == [1]
    assert np.allclose(ex["groundtruth_boxes"][0], [2.5 / 60, 1.5 / 80, 30 / 60, 20.25 / 80])
    assert np.allclose(all_examples["g1_frame_0002.jpg"]["groundtruth_boxes"][0],
                       [50 / 60, 70 / 80, 1, 1])
    assert len(all_examples["g2_frame_0002.jpg"]["groundtruth_boxes"]) == 0  # degenerate gone
    assert len(all_examples["g3_frame_0002.jpg"]["groundtruth_boxes"]) == 0  # negative kept
    assert all_examples["g3_frame_0001.png"]["format"] == "png"
    assert all_examples["g3_frame_0001.png"]["image"].shape == (48, 64, 3)

    rows = _rows(out)
    assert len(rows) == 6       # one per kept box; images without boxes have no row
    assert {(r["filename"], r["difficult"]) for r in rows if r["class"] == "ignore"} == \
        {("g1_frame_0001.jpg", "0")}
    assert {r["group"] for r in rows} == {"s1", "s2", "s3", "s4"}

    # Round trip: the written CSV + images re-import to the same boxes.
    again = tmp_path / "again"
    import_csv(out / "train_labels.csv", out / "images" / "train", again, progress=False,
               fractions=(1.0, 0.0, 0.0))
    first = sorted((r["filename"], r["class"], r["xmin"], r["ymax"], r["difficult"])
                   for r in rows if r["split"] == "train")
    second = sorted((r["filename"], r["class"], r["xmin"], r["ymax"], r["difficult"])
                    for r in _rows(again))
    assert first == second


def test_output_identical_for_any_worker_count(tmp_path):
    csv_path, images = make_csv_dataset(tmp_path / "src")
    outputs = []
    for workers in (1, 3):
        out = tmp_path / f"w{workers}"
        import_csv(csv_path, images, out, shards=2, workers=workers, progress=False)
        outputs.append({p.relative_to(out): p.read_bytes()
                        for p in out.rglob("*") if p.is_file() and p.name not in (".prep_state.json", "summary.txt")})
    assert outputs[0] == outputs[1]


def test_label_map_fixes_ids_and_rejects_unknown(tmp_path, capsys):
    csv_path, images = make_csv_dataset(tmp_path / "src")
    lm = tmp_path / "lm.pbtxt"
    write_label_map(lm, ["hand", "face"])
    out = tmp_path / "out"
    assert run_main(main, ["--csv", str(csv_path), "--images", str(images), "--out", str(out),
                           "--label-map", str(lm), "--no-progress"]) == 0
    assert read_label_map(out / "label_map.pbtxt") == ["hand", "face"]
    write_label_map(lm, ["hand"])
    code = run_main(main, ["--csv", str(csv_path), "--images", str(images), "--out",
                           str(tmp_path / "o2"), "--label-map", str(lm), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "face" in err and len(err.strip().splitlines()) == 1


VOC = """<annotation>
  <folder>imgs</folder><filename>{name}</filename><path>/somewhere/{name}</path>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  {objects}
</annotation>"""
OBJ = ("<object><name>{c}</name><pose>Unspecified</pose><truncated>0</truncated>"
       "<difficult>{d}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
       "<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")


def test_voc_import_round_trip(tmp_path, capsys, read_records):
    voc = tmp_path / "voc"
    boxes = {
        "cam1_frame_0001.jpg": [("hand", 0, 10, 12, 40, 50), ("hand", 1, 45, 5, 79, 30)],
        "cam1_frame_0002.jpg": [("hand", 0, 2, 3, 20, 22)],
        "cam2_frame_0001.jpg": [("hand", 0, 30, 20, 60, 59)],
        "solo.jpg": [],
    }
    for i, (name, objs) in enumerate(boxes.items()):
        _image(voc / name, (80, 60), i)
        w, h = (0, 0) if name == "solo.jpg" else (80, 60)   # LabelImg's unknown size
        objects = "".join(OBJ.format(c=c, d=d, x0=a, y0=b, x1=x, y1=y)
                          for c, d, a, b, x, y in objs)
        (voc / (name[:-4] + ".xml")).write_text(VOC.format(name=name, w=w, h=h, objects=objects))
    out = tmp_path / "out"
    code = run_main(main, ["--voc", str(voc), "--out", str(out), "--split", "group",
                           "--visualize", "2", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "cam1" in captured.out and "solo" in captured.out
    rows = _rows(out)
    got = sorted((r["filename"], r["class"], int(r["difficult"]), *(float(r[c]) for c in
                  ("xmin", "ymin", "xmax", "ymax"))) for r in rows)
    want = sorted((n, c, d, float(a), float(b), float(x), float(y))
                  for n, objs in boxes.items() for c, d, a, b, x, y in objs)
    assert got == want
    cam1_splits = {r["split"] for r in rows if r["filename"].startswith("cam1")}
    assert len(cam1_splits) == 1
    examples = read_records(sorted((out / "records").glob("*.record-*")))
    assert len(examples) == 4
    assert len(list((out / "visualize").glob("*.png"))) == 2


def _bad_csv(tmp_path: Path, case: str) -> tuple[list[str], str]:
    csv_path, images = make_csv_dataset(tmp_path / "src")
    text = csv_path.read_text()
    if case == "missing_column":
        csv_path.write_text(text.replace("ymax,", "ymaximum,", 1))
        return ["--csv", str(csv_path), "--images", str(images)], "labels.csv"
    if case == "missing_image":
        (images / "g4_frame_0001.jpg").unlink()
        return ["--csv", str(csv_path), "--images", str(images)], "g4_frame_0001.jpg"
    if case == "size_mismatch":
        csv_path.write_text(text.replace("g4_frame_0001.jpg,64,48", "g4_frame_0001.jpg,640,480"))
        return ["--csv", str(csv_path), "--images", str(images)], "g4_frame_0001.jpg"
    if case == "inverted_box":
        csv_path.write_text(text.replace("face,3,4,50,40", "face,50,4,3,40"))
        return ["--csv", str(csv_path), "--images", str(images)], "labels.csv:9"
    if case == "path_escape":
        csv_path.write_text(text.replace("g4_frame_0001.jpg", "../g4_frame_0001.jpg"))
        return ["--csv", str(csv_path), "--images", str(images)], "labels.csv:9"
    if case == "unreadable_image":
        (images / "g4_frame_0001.jpg").write_bytes(b"\xff\xd8\xff garbage")
        return ["--csv", str(csv_path), "--images", str(images)], "g4_frame_0001.jpg"
    if case == "bad_xml":
        voc = tmp_path / "voc"
        voc.mkdir()
        (voc / "x.xml").write_text("<annotation><filename>")
        return ["--voc", str(voc)], "x.xml"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing_column", "missing_image", "size_mismatch",
                                  "inverted_box", "path_escape", "unreadable_image", "bad_xml"])
def test_bad_annotations_exit_2(case, tmp_path, capsys):
    args, name = _bad_csv(tmp_path, case)
    code = run_main(main, [*args, "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and name in err, err


def test_help_is_clear(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--voc", "--csv", "--images", "--split", "--fractions", "--shards"):
        assert flag in text
