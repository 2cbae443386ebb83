#!/usr/bin/env python3
"""Held-out AP of several checkpoints of one run, as one JSON table.

A run's single checkpoints can differ a lot on one view (m's egocentric AP@0.5
swung from 0.16 to 0.76 between kept checkpoints), so which ones go into a
weight average is decided on this table; writing it with a script keeps that
choice checkable and reproducible. Each cell is what `evaluate.py --checkpoint` reports.

  python3 experiments/score_checkpoints.py --pipeline experiments/p_v2_settled_from_o/pipeline.config \\
    --checkpoints train_dir/p_v2_settled_from_o/kept/ckpt-* --views egohands_frames webcam_hands \\
    --out experiments/p_v2_settled_from_o/held_out_by_checkpoint.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.atomic import atomic_write_text  # noqa: E402
from training.checkpoints import step_of  # noqa: E402

SETS = ("egohands_frames", "webcam_hands", "closeup_hands", "rps_hands", "phone_hands")


def score_all(pipeline_path: str, checkpoints: list[str], views: list[str]) -> list[dict]:
    """One row per checkpoint and view; the model is built once and each checkpoint
    restored into it once, not once per view."""
    from config.loader import load_pipeline
    from evaluation.model_eval import evaluate_model
    from evaluation.report import metrics_for_json
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained

    pipeline = load_pipeline(pipeline_path)
    model = build_from_pipeline(pipeline)
    rows = []
    for ckpt in checkpoints:
        restore_trained(model, ckpt)
        for view in views:
            m = evaluate_model(pipeline, model, None, records=[f"data/{view}/records/eval.record-*"])
            rounded = metrics_for_json(m)   # as metrics.json rounds them
            rows.append({"checkpoint": ckpt, "view": view, "AP50": rounded["AP50"],
                         "AP": rounded["AP"]})
            print(f"{ckpt} {view}: AP@0.5 {m['AP50']:.3f}  AP {m['AP']:.3f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True, help="the run's pipeline.config")
    p.add_argument("--checkpoints", nargs="+", required=True,
                   help="checkpoint prefixes (ckpt-N) or their .index files")
    p.add_argument("--views", nargs="+", default=list(SETS), choices=SETS, help="held-out sets")
    p.add_argument("--out", required=True, help="JSON file to write")
    args = p.parse_args()
    prefixes = sorted({c.removesuffix(".index").split(".data-")[0] for c in args.checkpoints},
                      key=lambda c: (step_of(c) or 0, c))
    rows = score_all(args.pipeline, prefixes, args.views)
    table = {"what": "held-out AP (checkpoint, one pass) of single checkpoints",
             "command": " ".join(["python3", "experiments/score_checkpoints.py"] + sys.argv[1:]),
             "rows": rows}
    atomic_write_text(Path(args.out), json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
