"""Detection metrics for handtrack: COCO-style AP via pycocotools, PR plots, reports.

The training/eval loop runs a detector over eval images, collects plain
list-of-dict groundtruths and detections (pixel xyxy boxes, 1-based classes)
and calls `compute_metrics`; `plot_pr_curves`, `write_metrics_json` and
`format_summary` turn the result into artefacts. Importing the package does not
import TensorFlow, so it stays cheap to import and test; `evaluation.model_eval`
(running a model over eval records) and `evaluation.false_positives` do, and are
imported by name.
"""
from evaluation.coco_metrics import compute_metrics
from evaluation.pr_curve import plot_pr_curves
from evaluation.report import format_summary, read_metrics_json, write_metrics_json

__all__ = [
    "compute_metrics",
    "format_summary",
    "plot_pr_curves",
    "read_metrics_json",
    "write_metrics_json",
]
