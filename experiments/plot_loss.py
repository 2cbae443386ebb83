#!/usr/bin/env python3
"""Plot total training loss of runs from their TensorBoard logs into one PNG.

Why: a closing note or model card shows where a run's curve is heading; a
picture of several runs side by side says it faster than a table.

    python3 experiments/plot_loss.py --out experiments/loss_curves.png \\
        train_dir/d_v2_all_sets train_dir/a2_ssd_v1_100_imagenet_fidelity
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import run_main  # noqa: E402
from common.errors import UserError  # noqa: E402


def read_scalar(run_dir: Path, tag: str = "loss/total_loss") -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one scalar from every event file under run_dir/train."""
    import tensorflow as tf

    steps, values = [], []
    for path in sorted((run_dir / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    steps.append(event.step)
                    values.append(float(tf.make_ndarray(value.tensor)))
    if not steps:
        raise UserError(f"{run_dir}: no {tag!r} scalars under {run_dir / 'train'}")
    order = np.argsort(steps, kind="stable")
    return np.asarray(steps)[order], np.asarray(values)[order]


def smooth(values: np.ndarray, window: int = 25) -> np.ndarray:
    if len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(np.pad(values, (window // 2, window - 1 - window // 2), mode="edge"),
                       kernel, mode="valid")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="training folders (with train/ TensorBoard logs)")
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in args.runs:
        steps, values = read_scalar(Path(run))
        line, = ax.plot(steps, values, alpha=0.2)
        ax.plot(steps, smooth(values), color=line.get_color(), label=Path(run).name)
    ax.set_xlabel("step")
    ax.set_ylabel("total loss (thin: raw, thick: moving mean of 25 logs)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
