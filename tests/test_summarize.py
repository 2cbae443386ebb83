"""experiments/summarize.py: the table the model choice is checked against puts each run's
false detections on hand-free crops beside its held-out AP, in the sets' order."""
from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="module")
def summarize():
    spec = importlib.util.spec_from_file_location("summarize", "experiments/summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(run: str, false_positives: dict | None) -> dict:
    result = {"run": run, "train": {"step": 2000, "wall_time_s": 960.0}, "averaged_from": None,
              "held_out": {"webcam_hands": {"AP50": 0.9918, "AP": 0.759}}}
    if false_positives is not None:
        result["false_positives"] = {view: {"crops": 100, "false_positives": n, "fp_per_image": n / 100}
                                     for view, n in false_positives.items()}
    return result


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_crops_column_follows_the_views_order_and_marks_missing_sets(summarize):
    # Given in another order than the table's, with close-up and phone never counted.
    counted = _result("cz", {"rps_hands": 118, "egohands_frames": 18, "webcam_hands": 35})
    header, rule, row = summarize.table([counted]).splitlines()
    assert _cells(row)[-1] == "18 / 35 / — / 118 / —"
    assert _cells(header)[-1].endswith("(egohands_frames / webcam_hands / closeup_hands / rps_hands / phone_hands)")
    # Every line of the markdown table has as many cells as the header.
    assert len(_cells(header)) == len(_cells(rule)) == len(_cells(row)) == 3 + len(summarize.VIEWS) + 1


def test_run_without_counts_gets_a_dash_and_its_ap_stays_in_place(summarize):
    _, _, row = summarize.table([_result("e", None)]).splitlines()
    cells = _cells(row)
    assert cells[-1] == "—"
    assert cells[3 + summarize.VIEWS.index("webcam_hands")] == "0.992 / 0.759"
    assert cells[1:3] == ["2000", "16 min"]
