"""The error kinds on a hand-made scene where each detection's kind is known."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.error_breakdown import error_breakdown, format_breakdown


def _scene():
    hand_a = [100, 100, 200, 200]       # large (100 x 100)
    hand_b = [300, 100, 380, 180]       # medium (80 x 80)
    far = [10, 10, 30, 30]              # small (20 x 20), never found
    ignore = [400, 300, 460, 360]       # an unlabelled hand, marked difficult
    gt = {"image_id": "0:a.jpg", "boxes": np.array([hand_a, hand_b, far, ignore], np.float32),
          "classes": np.ones(4, np.int64), "difficult": np.array([0, 0, 0, 1], bool)}
    dets = [([500, 20, 560, 80], 0.95),    # background (a chair)
            ([102, 98, 201, 203], 0.90),   # finds A
            ([105, 100, 200, 198], 0.85),  # duplicate of A
            ([310, 110, 340, 140], 0.70),  # a finger inside B: part of a hand
            ([300, 100, 382, 181], 0.60),  # finds B
            ([100, 100, 200, 330], 0.55),  # A and its forearm: mislocated (IoU 0.43)
            ([405, 305, 450, 350], 0.52),  # inside the ignore box: not an error
            ([600, 400, 640, 440], 0.40)]  # below the threshold: not counted
    det = {"image_id": "0:a.jpg", "boxes": np.array([d for d, _ in dets], np.float32),
           "scores": np.array([s for _, s in dets], np.float32), "classes": np.ones(len(dets))}
    empty = {"image_id": "1:b.jpg", "boxes": np.zeros((0, 4)), "classes": np.zeros(0),
             "difficult": np.zeros(0, bool)}
    return [gt, empty], [det]


def test_each_false_detection_gets_its_kind_and_misses_their_size():
    errors = error_breakdown(*_scene())
    assert errors["found"] == 2 and errors["hands"] == 3 and errors["missed"] == 1
    assert errors["missed_by_size"] == {"small": 1, "medium": 0, "large": 0}
    assert errors["hands_by_size"] == {"small": 1, "medium": 1, "large": 1}
    assert errors["false_by_kind"] == {"background": 1, "part_of_hand": 1, "mislocated": 1,
                                       "duplicate": 1}
    assert errors["false"] == 4 and errors["false_per_image"] == pytest.approx(2.0)
    assert [w["kind"] for w in errors["worst"]] == ["background", "duplicate", "part_of_hand",
                                                    "mislocated"]
    assert errors["worst"][0] == {"image_id": "0:a.jpg", "score": 0.95, "kind": "background",
                                  "box": [500.0, 20.0, 560.0, 80.0]}
    text = format_breakdown(errors)
    assert "found 2/3 hands (missed small 1/1, medium 0/1, large 0/1)" in text
    assert "part_of_hand 1" in text and "(2.000/image)" in text


def test_the_threshold_decides_what_counts():
    gts, dets = _scene()
    strict = error_breakdown(gts, dets, score_threshold=0.8)
    assert strict["found"] == 1          # B's box scores 0.60
    assert strict["false_by_kind"] == {"background": 1, "part_of_hand": 0, "mislocated": 0,
                                       "duplicate": 1}
    loose = error_breakdown(gts, dets, score_threshold=0.3)
    assert loose["false_by_kind"]["background"] == 2
    # a hand with no detection at all, and an image the detector never reported
    assert error_breakdown(gts, [])["missed"] == 3
