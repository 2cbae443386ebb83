#!/usr/bin/env python3
"""Held-out AP of several checkpoints of one run, as one JSON table.

A run's single checkpoints can differ a lot on one view (m's egocentric AP@0.5
swung from 0.16 to 0.76 between kept checkpoints), so which ones go into a
weight average is decided on this table; writing it with a script keeps that
choice checkable and reproducible. Each cell is one `evaluate.py` run.

  python3 experiments/score_checkpoints.py --pipeline experiments/p_v2_settled_from_o/pipeline.config \\
    --checkpoints train_dir/p_v2_settled_from_o/kept/ckpt-* --views egohands_frames webcam_hands \\
    --out experiments/p_v2_settled_from_o/held_out_by_checkpoint.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.atomic import atomic_write_text  # noqa: E402
from training.checkpoints import step_of  # noqa: E402

SETS = ("egohands_frames", "webcam_hands", "closeup_hands", "rps_hands", "phone_hands")


def score(pipeline: str, checkpoint: str, view: str) -> dict:
    """evaluate.py's metrics for one checkpoint on one set's held-out records."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "evaluate.py", "--pipeline", pipeline,
                               "--checkpoint", checkpoint, "--records",
                               f"data/{view}/records/eval.record-*", "--out", out],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"evaluate.py failed on {checkpoint} / {view}:\n{done.stderr[-2000:]}")
        return json.loads((Path(out) / "metrics.json").read_text())["metrics"]


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
    rows = []
    for ckpt in prefixes:
        for view in args.views:
            m = score(args.pipeline, ckpt, view)
            rows.append({"checkpoint": ckpt, "view": view, "AP50": m["AP50"], "AP": m["AP"]})
            print(f"{ckpt} {view}: AP@0.5 {m['AP50']:.3f}  AP {m['AP']:.3f}", flush=True)
    table = {"what": "held-out AP (checkpoint, one pass) of single checkpoints",
             "command": " ".join(["python3", "experiments/score_checkpoints.py"] + sys.argv[1:]),
             "rows": rows}
    atomic_write_text(Path(args.out), json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
