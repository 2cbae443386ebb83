"""metrics.json and a console summary from `compute_metrics` output.

metrics.json is meant to be read by people (and diffed between runs), so
floats are rounded and the 101-point PR arrays are left out unless asked for;
the PR curve is what the PNG from `evaluation.pr_curve` is for.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from common.atomic import atomic_write_text

_DIGITS = 4
_SCALARS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AP50s", "AP50m", "AP50l",
            "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_COUNTS = ("num_images", "num_groundtruth", "num_difficult", "num_detections")


def _jsonable(value: Any, digits: int = _DIGITS) -> Any:
    """Convert numpy/Path values to plain JSON types, rounding floats."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v, digits) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def metrics_for_json(metrics: Mapping[str, Any], include_pr: bool = False) -> dict[str, Any]:
    """The small, rounded view of `metrics` that goes into metrics.json."""
    out: dict[str, Any] = {k: metrics[k] for k in _SCALARS + _COUNTS if k in metrics}
    for key in ("AP50_ci95", "per_class", "errors"):
        if key in metrics:
            out[key] = metrics[key]
    if include_pr and "pr_curve" in metrics:
        out["pr_curve"] = metrics["pr_curve"]
    return _jsonable(out)


def write_metrics_json(metrics: Mapping[str, Any], path: str | os.PathLike,
                       extra: Mapping[str, Any] | None = None,
                       include_pr: bool = False) -> None:
    """Atomically write `{**extra, "metrics": {...}}` as indented JSON.

    `extra` carries run context (checkpoint, step, dataset...) at the top level
    so it is the first thing a reader sees; it may not use the key "metrics".
    With include_pr, the IoU-0.5 PR arrays go under metrics["pr_curve"].
    """
    extra = dict(extra or {})
    if "metrics" in extra:
        raise ValueError('extra must not contain the key "metrics"')
    doc = _jsonable(extra)
    doc["metrics"] = metrics_for_json(metrics, include_pr=include_pr)
    # allow_nan=False: a NaN would be invalid JSON for most readers; fail loudly.
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


def read_metrics_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file written by `write_metrics_json`."""
    return json.loads(Path(path).read_text())


def _fmt(value: float) -> str:
    # COCO's -1 means "nothing to average" (e.g. no small objects), not a score.
    return "   n/a" if value is None or value < 0 else f"{value:6.3f}"


def format_interval(metrics: Mapping[str, Any]) -> str:
    """" (95% interval low-high)" of AP@0.5 when evaluated with a bootstrap, else ""."""
    if "AP50_ci95" not in metrics:
        return ""
    return " (95%% interval %.3f-%.3f)" % tuple(metrics["AP50_ci95"])


def format_summary(metrics: Mapping[str, Any]) -> str:
    """A short console table: headline APs, counts, and per-class AP if any."""
    lines = [
        f"images {metrics.get('num_images', 0)}  groundtruth {metrics.get('num_groundtruth', 0)}"
        f" (difficult {metrics.get('num_difficult', 0)})  detections {metrics.get('num_detections', 0)}",
        f"AP50 {_fmt(metrics['AP50'])}   AP {_fmt(metrics['AP'])}   AP75 {_fmt(metrics['AP75'])}"
        f"   AR100 {_fmt(metrics['AR100'])}"
        + (f"   AP50{format_interval(metrics)}" if "AP50_ci95" in metrics else ""),
        f"APs  {_fmt(metrics['APs'])}   APm {_fmt(metrics['APm'])}   APl  {_fmt(metrics['APl'])}",
    ]
    per_class = metrics.get("per_class")
    if per_class:
        width = max(5, *(len(n) for n in per_class))
        lines.append(f"{'class':<{width}}   AP50     AP   #gt")
        for name, m in per_class.items():
            lines.append(f"{name:<{width}} {_fmt(m['AP50'])} {_fmt(m['AP'])} "
                         f"{m.get('num_groundtruth', 0):5d}")
    return "\n".join(lines)
