#!/usr/bin/env python3
"""Markdown table of every experiment's held-out metrics (for the model card and notes).

Reads experiments/<run>/eval_<view>/metrics.json written by run_experiments.sh
and the training summary train_dir/<run>/train_summary.json when present.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIEWS = ("all", "egohands_frames", "webcam_hands", "closeup_hands")


def main() -> int:
    rows = []
    for run in sorted(p for p in HERE.iterdir() if p.is_dir() and (p / "pipeline.config").exists()):
        cells = []
        for view in VIEWS:
            path = run / f"eval_{view}" / "metrics.json"
            if path.exists():
                m = json.loads(path.read_text())["metrics"]
                cells.append(f"{m['AP50']:.3f} / {m['AP']:.3f}")
            else:
                cells.append("—")
        rows.append(f"| {run.name} | " + " | ".join(cells) + " |")
    if not rows:
        print("no experiments found", file=sys.stderr)
        return 1
    print("| run | " + " | ".join(f"{v} AP@0.5 / AP" for v in VIEWS) + " |")
    print("|---|" + "---|" * len(VIEWS))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
