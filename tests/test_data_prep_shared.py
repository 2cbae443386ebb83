"""The importer on the real sets in ../shared/data (skipped when ../shared is absent)."""
from __future__ import annotations

import csv
from collections import defaultdict

import pytest

from data_prep.import_annotations import import_csv
from data_prep.label_map import read_label_map

PER_GROUP = 12


@pytest.mark.parametrize("name", ["egohands_frames", "webcam_hands"])
def test_group_split_subset_of_shared_set(name, shared_dir, tmp_path, read_records):
    data = shared_dir / "data" / name
    if not data.is_dir():
        pytest.skip(f"{data} not present")
    with open(data / "labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    # A subset: the first PER_GROUP images of every group, all their boxes.
    files_per_group: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        files = files_per_group[row["group"]]
        if row["filename"] not in files and len(files) < PER_GROUP:
            files.append(row["filename"])
    keep = {f for files in files_per_group.values() for f in files}
    subset = [r for r in rows if r["filename"] in keep]
    csv_path = tmp_path / "subset.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(subset)

    out = tmp_path / "out"
    summary = import_csv(csv_path, data / "images", out, split="group", seed=42, shards=2,
                         progress=False)
    assert read_label_map(out / "label_map.pbtxt") == ["hand"]
    group_of = {r["filename"]: r["group"] for r in subset}
    split_of_group: dict[str, str] = {}
    boxes = 0
    for split in ("train", "test", "eval"):
        examples = read_records(sorted((out / "records").glob(f"{split}.record-*")))
        assert len(examples) == summary.images[split]
        for ex in examples:
            group = group_of[ex["filename"]]
            assert split_of_group.setdefault(group, split) == split, f"{group} in 2 splits"
            assert ex["image"].shape[:2] == (ex["height"], ex["width"])
            assert ((ex["groundtruth_boxes"] >= 0) & (ex["groundtruth_boxes"] <= 1)).all()
            boxes += len(ex["groundtruth_boxes"])
    assert boxes == len(subset) and summary.degenerate == 0
    assert len(split_of_group) == len(files_per_group)
    assert set(split_of_group.values()) == {"train", "test", "eval"}
