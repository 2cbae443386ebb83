"""Tests for evaluation/: COCO metrics via pycocotools, PR plot, metrics.json.

Cases are tiny and hand-checkable so the expected numbers can be derived in
comments; the whole file runs in a couple of seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import UserError
from evaluation import (compute_metrics, format_summary, plot_pr_curves,
                        read_metrics_json, write_metrics_json)

HAND = ["hand"]


def gt(image_id, boxes, classes=None, difficult=None, height=480, width=640) -> dict:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    d = {"image_id": image_id, "height": height, "width": width, "boxes": boxes,
         "classes": np.asarray(classes if classes is not None else [1] * len(boxes))}
    if difficult is not None:
        d["difficult"] = np.asarray(difficult, dtype=bool)
    return d


def det(image_id, boxes, scores, classes=None) -> dict:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return {"image_id": image_id, "boxes": boxes, "scores": np.asarray(scores, dtype=np.float32),
            "classes": np.asarray(classes if classes is not None else [1] * len(boxes))}


BOX_A = [10, 10, 110, 110]      # 100x100 px: COCO "large" (area > 96^2)
BOX_B = [200, 200, 300, 300]
BOX_FP = [400, 50, 500, 150]    # overlaps nothing


def test_perfect_detections_give_ap_one(capsys):
    gts = [gt("a.jpg", [BOX_A, BOX_B]), gt("b.jpg", [[5, 5, 25, 25], [50, 60, 110, 150]])]
    dets = [det(g["image_id"], g["boxes"], [0.9] * len(g["boxes"])) for g in gts]
    m = compute_metrics(gts, dets, HAND)
    assert m["AP50"] == pytest.approx(1.0)
    assert m["AP"] == pytest.approx(1.0)
    assert m["AP75"] == pytest.approx(1.0)
    assert m["AR100"] == pytest.approx(1.0)
    assert (m["num_images"], m["num_groundtruth"], m["num_detections"]) == (2, 4, 4)
    assert "per_class" not in m  # single class: the headline numbers are the class's
    # pycocotools' progress prints must not reach the console.
    assert capsys.readouterr().out == ""


def test_hand_computed_ap_with_fp_ranked_in_the_middle():
    # 2 gt, detections by score: TP (0.9), FP (0.8), TP (0.7).
    # Cumulative (recall, precision): (0.5, 1), (0.5, 1/2), (1.0, 2/3).
    # COCO makes precision non-increasing from the right: [1, 2/3, 2/3].
    # For each of the 101 recall thresholds r = 0, .01, ..., 1 it takes the
    # precision at the first point with recall >= r:
    #   r in 0.00..0.50 (51 thresholds) -> point 0 -> 1
    #   r in 0.51..1.00 (50 thresholds) -> point 2 -> 2/3
    # AP50 = (51 * 1 + 50 * 2/3) / 101 = 84.333 / 101 = 0.83498
    # Boxes are exact, so every IoU threshold gives the same: AP = AP50.
    gts = [gt(1, [BOX_A, BOX_B])]
    dets = [det(1, [BOX_A, BOX_FP, BOX_B], [0.9, 0.8, 0.7])]
    m = compute_metrics(gts, dets, HAND)
    expected = (51 * 1.0 + 50 * 2.0 / 3.0) / 101
    assert m["AP50"] == pytest.approx(expected, abs=1e-3)
    assert m["AP"] == pytest.approx(expected, abs=1e-3)
    prec = m["pr_curve"]["precision"]["hand"]
    assert m["pr_curve"]["recall"].shape == (101,) and prec.shape == (101,)
    np.testing.assert_allclose(prec[:51], 1.0)
    np.testing.assert_allclose(prec[51:], 2.0 / 3.0)
    # Only large objects here: COCO reports -1 for the empty area ranges.
    assert m["APs"] == -1 and m["APm"] == -1
    assert m["APl"] == pytest.approx(expected, abs=1e-3)


def test_shifted_box_passes_iou_50_but_not_75():
    # Shift a 100x100 box by 20 px: IoU = 80*100 / (120*100) = 0.667.
    # Matches at IoU thresholds .50 .55 .60 .65 (4 of 10) -> AP = 0.4.
    gts = [gt(1, [[0, 0, 100, 100]])]
    dets = [det(1, [[20, 0, 120, 100]], [0.8])]
    m = compute_metrics(gts, dets, HAND)
    assert m["AP50"] == pytest.approx(1.0)
    assert m["AP75"] == pytest.approx(0.0)
    assert m["AP"] == pytest.approx(0.4)


def test_difficult_groundtruth_is_neither_tp_nor_fp():
    # Image 1: normal A, difficult B; the top-scoring detection sits on B.
    # Image 2: a difficult box nobody detects.
    gts = [gt(1, [BOX_A, BOX_B], difficult=[False, True]), gt(2, [BOX_A], difficult=[True])]
    dets = [det(1, [BOX_B, BOX_A], [0.9, 0.8])]
    m = compute_metrics(gts, dets, HAND)
    # Ignored: recall is 1/1 from A alone (the missed difficult box is no miss)
    # and the detection on B costs no precision -> AP50 = 1.
    assert m["AP50"] == pytest.approx(1.0)
    assert (m["num_groundtruth"], m["num_difficult"]) == (3, 2)

    # If B were a FP instead (no gt there), precision at full recall is 1/2.
    no_b = compute_metrics([gt(1, [BOX_A]), gt(2, [])], dets, HAND)
    assert no_b["AP50"] == pytest.approx(0.5)
    # If B were a normal gt it would be a TP, but the image-2 box is a miss.
    normal = compute_metrics([gt(1, [BOX_A, BOX_B]), gt(2, [BOX_A])], dets, HAND)
    assert normal["AP50"] < 0.7


def test_no_detections_give_zero():
    gts = [gt(1, [BOX_A]), gt(2, [BOX_B])]
    for dets in ([], [det(1, np.zeros((0, 4)), [])]):
        m = compute_metrics(gts, dets, HAND)
        assert m["AP50"] == 0.0 and m["AP"] == 0.0 and m["AR100"] == 0.0
        assert m["num_detections"] == 0


def test_detection_on_image_without_boxes_is_a_false_positive():
    # Ranked: FP on the empty image (0.9), TP (0.8): precision at recall 1 is
    # 1/2 and interpolation spreads it to every threshold -> AP50 = 0.5.
    gts = [gt("with", [BOX_A]), gt("empty", [])]
    dets = [det("with", [BOX_A], [0.8]), det("empty", [BOX_B], [0.9])]
    m = compute_metrics(gts, dets, HAND)
    assert m["AP50"] == pytest.approx(0.5)


def test_multi_class_per_class_output():
    names = ["hand", "face", "other"]
    gts = [gt(1, [BOX_A, BOX_B, [300, 300, 400, 400]], classes=[1, 1, 2])]
    # hands perfect, the face missed; "other" has no gt but one detection.
    dets = [det(1, [BOX_A, BOX_B, BOX_FP], [0.9, 0.8, 0.7], classes=[1, 1, 3])]
    m = compute_metrics(gts, dets, names)
    pc = m["per_class"]
    assert set(pc) == set(names)
    assert pc["hand"]["AP50"] == pytest.approx(1.0) and pc["hand"]["AP"] == pytest.approx(1.0)
    assert pc["face"]["AP50"] == 0.0
    # No groundtruth -> -1 (COCO's "undefined"), and excluded from the mean.
    assert pc["other"]["AP50"] == -1 and pc["other"]["AP"] == -1
    assert m["AP50"] == pytest.approx(0.5)
    assert (pc["hand"]["num_groundtruth"], pc["face"]["num_groundtruth"]) == (2, 1)
    assert set(m["pr_curve"]["precision"]) == set(names)


def test_invalid_inputs_raise_user_error():
    with pytest.raises(UserError, match="outside 1..1"):
        compute_metrics([gt(1, [BOX_A], classes=[0])], [], HAND)
    with pytest.raises(UserError, match="not among the groundtruth"):
        compute_metrics([gt(1, [BOX_A])], [det(2, [BOX_A], [0.5])], HAND)
    with pytest.raises(UserError, match="more than once"):
        compute_metrics([gt(1, [BOX_A]), gt(1, [BOX_B])], [], HAND)
    with pytest.raises(UserError, match="xmax >= xmin"):
        compute_metrics([gt(1, [[50, 0, 10, 10]])], [], HAND)
    with pytest.raises(UserError, match="scores has 1 entries"):
        compute_metrics([gt(1, [BOX_A])], [det(1, [BOX_A, BOX_B], [0.5])], HAND)


@pytest.fixture(scope="module")
def multi_metrics() -> dict:
    gts = [gt(1, [BOX_A, BOX_B, [300, 300, 400, 400]], classes=[1, 1, 2]), gt(2, [])]
    dets = [det(1, [BOX_A, BOX_FP, BOX_B, [300, 300, 400, 400]], [0.9, 0.8, 0.7, 0.6],
                classes=[1, 1, 1, 2])]
    return compute_metrics(gts, dets, ["hand", "face", "other"])


def test_pr_curve_png_is_written(tmp_path: Path, multi_metrics: dict):
    out = tmp_path / "plots" / "pr_curve.png"
    plot_pr_curves(multi_metrics, out)
    assert out.stat().st_size > 5000
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size[0] >= 300 and img.size[1] >= 200
    assert [p.name for p in out.parent.iterdir()] == ["pr_curve.png"]  # no temp left


def test_metrics_json_round_trip(tmp_path: Path, multi_metrics: dict):
    path = tmp_path / "metrics.json"
    write_metrics_json(multi_metrics, path, extra={"checkpoint": tmp_path / "ckpt-5",
                                                   "step": np.int64(5)})
    doc = read_metrics_json(path)
    assert doc["step"] == 5 and doc["checkpoint"].endswith("ckpt-5")
    got = doc["metrics"]
    for key in ("AP", "AP50", "AP75", "AR100"):
        assert got[key] == pytest.approx(multi_metrics[key], abs=1e-4)
    assert got["per_class"]["hand"]["AP50"] == pytest.approx(
        multi_metrics["per_class"]["hand"]["AP50"], abs=1e-4)
    assert got["num_groundtruth"] == 3
    assert "pr_curve" not in got  # keep the file small by default
    # Rounded for readability.
    assert len(str(got["AP50"]).split(".")[-1]) <= 4

    write_metrics_json(multi_metrics, path, extra={}, include_pr=True)
    with_pr = json.loads(path.read_text())["metrics"]["pr_curve"]
    assert len(with_pr["recall"]) == 101 and len(with_pr["precision"]["hand"]) == 101

    with pytest.raises(ValueError):
        write_metrics_json(multi_metrics, path, extra={"metrics": 1})


def test_format_summary(multi_metrics: dict):
    text = format_summary(multi_metrics)
    assert "AP50" in text and "hand" in text and "face" in text
    assert "n/a" in text  # "other" has no groundtruth: shown as n/a, not -1.000
    assert "-1.000" not in text


def test_ap50_per_box_size_separates_far_and_near_hands():
    # A 20x20 box (small, < 32^2) found, a 100x100 box (large) missed: the
    # headline AP50 mixes them, the per-size figures keep them apart.
    small, large = [5, 5, 25, 25], BOX_A
    gts = [gt("a.jpg", [small, large])]
    m = compute_metrics(gts, [det("a.jpg", [small], [0.9])], HAND)
    assert m["AP50s"] == pytest.approx(1.0)
    assert m["AP50l"] == pytest.approx(0.0)
    assert m["AP50m"] == -1.0             # no medium boxes at all
    assert 0.4 < m["AP50"] < 0.6


def test_metrics_json_keeps_per_size_ap(tmp_path: Path):
    m = compute_metrics([gt("a.jpg", [[5, 5, 25, 25]])], [det("a.jpg", [[5, 5, 25, 25]], [0.9])], HAND)
    write_metrics_json(m, tmp_path / "m.json")
    assert read_metrics_json(tmp_path / "m.json")["metrics"]["AP50s"] == pytest.approx(1.0)


def _mixed_images() -> tuple[list[dict], list[dict]]:
    """Six images of unlike difficulty: found hands, a confident false detection on a
    hand image and on an empty one, a missed hand."""
    gts = [gt(0, [BOX_A]), gt(1, [BOX_B]), gt(2, [BOX_A]), gt(3, [BOX_A, BOX_B]),
           gt(4, []), gt(5, [BOX_B])]
    dets = [det(0, [BOX_A], [0.9]), det(1, [BOX_FP, BOX_B], [0.95, 0.6]), det(2, [], []),
            det(3, [BOX_A, BOX_B], [0.8, 0.5]), det(4, [BOX_FP], [0.85]), det(5, [BOX_B], [0.7])]
    return gts, dets


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_bootstrap_sample_is_coco_ap_of_the_redrawn_images(seed):
    # One redraw: both interval ends are that redraw's AP@0.5, which must equal
    # pycocotools' AP@0.5 on a dataset where the redrawn images are copied out.
    gts, dets = _mixed_images()
    draw = np.random.default_rng(seed).integers(0, len(gts), len(gts))
    assert len(set(draw)) < len(gts)   # some image drawn twice, some left out
    copied_gts = [dict(gts[i], image_id=f"{j}:{i}") for j, i in enumerate(draw)]
    copied_dets = [dict(dets[i], image_id=f"{j}:{i}") for j, i in enumerate(draw)]
    expected = compute_metrics(copied_gts, copied_dets, HAND)["AP50"]
    low, high = compute_metrics(gts, dets, HAND, bootstrap=1, seed=seed)["AP50_ci95"]
    assert low == pytest.approx(expected) and high == pytest.approx(expected)


def test_bootstrap_interval_brackets_ap_and_is_reported(tmp_path: Path):
    gts, dets = _mixed_images()
    m = compute_metrics(gts, dets, HAND, bootstrap=300)
    low, high = m["AP50_ci95"]
    assert low < m["AP50"] < high and high - low > 0.1
    write_metrics_json(m, tmp_path / "m.json")
    assert read_metrics_json(tmp_path / "m.json")["metrics"]["AP50_ci95"] == \
        pytest.approx([low, high], abs=1e-4)
    assert f"95% interval {low:.3f}-{high:.3f}" in format_summary(m)
    # Every image perfect: every redraw scores 1.
    perfect = compute_metrics(gts[:2], [det(0, [BOX_A], [0.9]), det(1, [BOX_B], [0.9])], HAND,
                              bootstrap=50)
    assert perfect["AP50_ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert "AP50_ci95" not in compute_metrics(gts, dets, HAND)
