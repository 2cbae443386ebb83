"""Precision-recall plot at IoU 0.5 from `compute_metrics` output.

Uses matplotlib's object API with the Agg canvas directly instead of pyplot:
no window can ever open (eval runs on headless machines and inside training
loops), and we do not change the process-wide pyplot backend that other code
(e.g. the live demo) may rely on.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common.atomic import atomic_path


def plot_pr_curves(metrics: Mapping[str, Any], path: str | os.PathLike,
                   title: str | None = None) -> None:
    """Write a PNG of precision vs recall at IoU 0.5, one line per class.

    Classes without groundtruth (precision -1 throughout) are left out of the
    plot but named in a note on it, so an empty-looking plot explains itself. The legend shows each class's AP50. The file appears atomically.
    """
    curve = metrics["pr_curve"]
    recall = np.asarray(curve["recall"], dtype=np.float64)
    per_class = metrics.get("per_class", {})

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    skipped: list[str] = []
    for name, precision in curve["precision"].items():
        precision = np.asarray(precision, dtype=np.float64)
        if not np.any(precision > -1):
            skipped.append(name)
            continue
        # The single-class case has no per_class entry; its AP50 is the overall one.
        ap50 = per_class.get(name, {}).get("AP50", metrics["AP50"])
        ax.plot(recall, np.clip(precision, 0.0, 1.0), label=f"{name} (AP50={ap50:.3f})")
    if skipped:
        ax.text(0.98, 0.02, "no groundtruth: " + ", ".join(skipped), ha="right",
                transform=ax.transAxes, fontsize=8, color="gray")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title or f"Precision-recall at IoU {curve.get('iou', 0.5):g}")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # The temp name ends in .tmp, so the format must be given explicitly.
        fig.savefig(tmp, format="png")
