"""evaluation/anchor_coverage.py: which labelled boxes the anchors reach at the
matcher's threshold, from a real config's model and real records."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evaluation.anchor_coverage import coverage, labelled_boxes, read_labelled
from ssd.anchors import SsdAnchorSpec, center_size_to_corners, generate_anchors
from tests.cli_checks import one_error_line
from tests.conftest import REPO_ROOT

MAPS_300 = [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]


def _anchors(**spec) -> np.ndarray:
    return center_size_to_corners(generate_anchors(SsdAnchorSpec(**spec), MAPS_300, (300, 300)))


def test_a_box_smaller_than_every_anchor_is_uncovered_until_the_anchors_shrink():
    # 15 px at 300 px, centred on a lowest-layer cell: the zoo's smallest anchor
    # (0.1, 30 px) overlaps it at IoU 0.25; a 0.05 lowest layer matches it exactly.
    small = np.array([[0.475, 0.475, 0.525, 0.525]])
    large = np.array([[0.2, 0.2, 0.8, 0.8]])
    zoo = coverage(np.concatenate([small, large]), _anchors(), 0.5)
    assert zoo["boxes"] == 2 and zoo["uncovered"] == 1 and zoo["anchors"] == 1917
    finer = coverage(small, _anchors(min_scale=0.05, reduce_boxes_in_lowest_layer=False), 0.5)
    assert finer["uncovered"] == 0 and finer["median_best_iou"] > 0.99
    assert coverage(np.zeros((0, 4)), _anchors(), 0.5)["uncovered_share"] is None


@pytest.mark.slow
def test_cli_compares_two_configs_on_real_records(tiny_records, tmp_path):
    from tests.synthetic_data import tiny_pipeline

    _, zoo_path = tiny_pipeline(tiny_records, tmp_path)
    cfg, _ = tiny_pipeline(tiny_records, tmp_path)
    anchors = cfg.model.ssd.anchor_generator.ssd_anchor_generator
    anchors.min_scale, anchors.reduce_boxes_in_lowest_layer = 0.1, False
    from config.loader import save_pipeline
    small_path = tmp_path / "small.config"
    save_pipeline(cfg, small_path)
    records = str(tiny_records / "records" / "*.record-*")
    out = tmp_path / "coverage.json"
    result = subprocess.run([sys.executable, "-m", "evaluation.anchor_coverage",
                             "--pipeline", str(zoo_path), str(small_path),
                             "--records", records, "--out", str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["pipeline"] for r in rows] == [str(zoo_path), str(small_path)]
    boxes = labelled_boxes(read_labelled(
        [str(p) for p in sorted((tiny_records / "records").glob("*.record-*"))]))
    assert rows[0]["boxes"] == rows[1]["boxes"] == len(boxes) > 0
    # More anchors (every aspect ratio in the lowest layer) at 96x96: 6x6 lowest map.
    assert rows[1]["anchors"] > rows[0]["anchors"]
    assert rows[0]["anchors"] == 6 * 6 * 3 + sum(n * n * 6 for n in (3, 2, 1, 1, 1))
    assert f"| {zoo_path} |" in result.stdout and f"| {small_path} |" in result.stdout


def test_a_glob_that_matches_nothing_is_one_error_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "evaluation.anchor_coverage",
                             "--pipeline", "ssd.config",
                             "--records", str(tmp_path / "nothing-*.record")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    one_error_line(result, "--records")


def test_a_padded_model_sees_a_square_pictures_boxes_inside_its_bars(tmp_path):
    """pad_narrower_images: a 4:3 model reads a square picture with side bars, so the
    boxes it must match lie in the middle three quarters of its input, not stretched
    across all of it."""
    import cv2

    from data_prep.annotations import Box, ImageAnn
    from data_prep.tfrecords import build_example

    image = tmp_path / "square.jpg"
    cv2.imwrite(str(image), np.zeros((90, 90, 3), np.uint8))
    ann = ImageAnn("square.jpg", image, 90, 90, "g", [Box("hand", 0, 0, 90, 45)])
    record = tmp_path / "square.record"
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(record)) as writer:
        writer.write(build_example(ann, image.read_bytes(), "jpeg", {"hand": 1}).SerializeToString())
    pictures = read_labelled([str(record)])
    stretched = labelled_boxes(pictures)
    padded = labelled_boxes(pictures, padded_for=(300, 400))
    np.testing.assert_allclose(stretched, [[0, 0, 0.5, 1]], atol=1e-6)
    np.testing.assert_allclose(padded, [[0, 0.125, 0.5, 0.875]], atol=1e-6)
