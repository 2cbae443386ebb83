#!/usr/bin/env python3
"""Collect every experiment's held-out metrics: a markdown table, and with --write
one experiments/<run>/metrics.json per run (what the model choice rests on).

Reads experiments/<run>/eval_<view>/metrics.json (checkpoint evaluations),
experiments/<run>/exported_<format>_<view>/metrics.json (exported-model
evaluations), experiments/<run>/false_positives[_faces]_<view>.json (false
detections on hand-free crops and on faces), experiments/<run>/train_summary.json and, for
weight averages, experiments/<run>/averaged_from.json, all written by run_experiments.sh /
evaluate.py / train.py / average_checkpoints.py.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.atomic import atomic_write_text  # noqa: E402

HERE = Path(__file__).resolve().parent
VIEWS = ("all", "egohands_frames", "webcam_hands", "closeup_hands", "rps_hands", "phone_hands")
KEYS = ("AP50", "AP", "AP75", "AR100")
SIZE_KEYS = ("AP50s", "AP50m", "AP50l")   # recorded from issue 9 on; older runs lack them
INTERVAL_KEYS = ("AP50_ci95",)   # evaluate.py --bootstrap, from v3 on


def _metrics(path: Path) -> dict | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    m = data["metrics"]
    return {**{k: m[k] for k in KEYS}, **{k: m[k] for k in SIZE_KEYS + INTERVAL_KEYS if k in m},
            "num_images": data["num_images"],
            "num_groundtruth": m["num_groundtruth"]}


def _counts(run: Path, prefix: str, keys: tuple[str, ...]) -> dict:
    """Per view, the figures of run/<prefix>_<view>.json (false-detection counts)."""
    found = {}
    for v in VIEWS:
        path = run / f"{prefix}_{v}.json"
        if path.exists():
            fp = json.loads(path.read_text())
            found[v] = {k: fp[k] for k in (*keys, "threshold", "format")}
    return found


def collect(run: Path) -> dict:
    held_out = {v: m for v in VIEWS if (m := _metrics(run / f"eval_{v}" / "metrics.json"))}
    exported: dict[str, dict] = {}
    for path in sorted(run.glob("exported_*_*/metrics.json")):
        name = path.parent.name.removeprefix("exported_")
        view = next(v for v in VIEWS if name.endswith("_" + v))
        exported.setdefault(name[: -len(view) - 1], {})[view] = _metrics(path)
    false_positives = _counts(run, "false_positives", ("crops", "false_positives", "fp_per_image"))
    on_faces = _counts(run, "false_positives_faces", ("faces", "false_positives", "fp_per_face"))
    summary = run / "train_summary.json"
    averaged = run / "averaged_from.json"   # written by average_checkpoints.py
    result = {"run": run.name, "pipeline": f"experiments/{run.name}/pipeline.config",
              "train": json.loads(summary.read_text()) if summary.exists() else None,
              "held_out": held_out, "exported": exported}
    if averaged.exists():
        result["averaged_from"] = json.loads(averaged.read_text())["sources"]
    if false_positives:
        result["false_positives"] = false_positives
    if on_faces:
        result["false_positives_on_faces"] = on_faces
    return result


def _source_run(checkpoint: str) -> str:
    """The training run a checkpoint came from (train_dir/RUN[/kept]/ckpt-N -> RUN)."""
    folder = Path(checkpoint).parent
    return (folder.parent if folder.name == "kept" else folder).name


def _crops_fired_on(result: dict) -> str:
    """The false detections on each set's hand-free crops, in VIEWS' order: the figure the
    model choice's crop condition compares, beside the AP it trades against."""
    counts = result.get("false_positives") or {}
    if not counts:
        return "—"
    return " / ".join(str(counts[v]["false_positives"]) if v in counts else "—" for v in VIEWS[1:])


def table(results: list[dict]) -> str:
    lines = ["| run | steps | train time | " + " | ".join(f"{v} AP@0.5 / AP" for v in VIEWS)
             + " | false detections on hand-free crops (" + " / ".join(VIEWS[1:]) + ") |",
             "|---|---|---|" + "---|" * (len(VIEWS) + 1)]
    for r in results:
        t = r["train"] or {}
        cells = [f"{r['held_out'][v]['AP50']:.3f} / {r['held_out'][v]['AP']:.3f}"
                 if v in r["held_out"] else "—" for v in VIEWS] + [_crops_fired_on(r)]
        wall = f"{t['wall_time_s'] / 60:.0f} min" if t.get("wall_time_s") else "—"
        steps = t.get("step", "—")
        if r.get("averaged_from"):
            by_run: dict[str, list[str]] = {}
            for source in r["averaged_from"]:
                by_run.setdefault(_source_run(source["checkpoint"]), []).append(str(source["step"]))
            steps = "mean of " + "; ".join(f"{run} {', '.join(n)}" for run, n in by_run.items())
        lines.append(f"| {r['run']} | {steps} | {wall} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true", help="write experiments/<run>/metrics.json")
    args = p.parse_args()
    runs = sorted(d for d in HERE.iterdir() if d.is_dir() and (d / "pipeline.config").exists())
    results = [collect(run) for run in runs]
    if not results:
        print("no experiments found", file=sys.stderr)
        return 1
    print(table(results))
    if args.write:
        for run, result in zip(runs, results):
            atomic_write_text(run / "metrics.json", json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
