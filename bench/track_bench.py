#!/usr/bin/env python3
"""Tracking benchmark: jitter, trajectory error and id switches on a real image panned along a known path.

Why this set-up: a live hand's true position is unknown, so the ground truth
is made instead. A 320x240 window moves smoothly (a Lissajous path) over a
real 640x480 webcam frame with one labelled hand, so the hand's true centre
in each crop is its label centre minus the window offset, exactly. The real
detector runs on every crop; its boxes jitter as the hand moves across the
anchor grid. Each row feeds the same detections to one configuration and
reports, against the raw detector (the baseline, same run):

  trajectory error  RMS |centre - true centre| (px)
  jitter            RMS of (centre step - true step) between frames (px/frame):
                    the frame-to-frame shake a game would see
  id switches       times the id on the true hand changed
  lost frames       frames with no output on the true hand

A second scenario drops the detections of 10% of the frames (seeded) to show
what the tracker does through misses (the raw detector simply loses the hand).

  python3 bench/track_bench.py [--image PATH] [--frames 150] [--readme-out FILE]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import int_at_least, parse_command_line, run_main  # noqa: E402
from bench.report import add_readme_out, machine, publish  # noqa: E402
from common.errors import UserError  # noqa: E402

DEFAULT_IMAGE = "../shared/data/webcam_hands/images/2_pic00488.jpg"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="exported_models/handtrack_default")
    p.add_argument("--format", default=None, help="model format (default: Detector's choice)")
    p.add_argument("--image", default=DEFAULT_IMAGE,
                   help="640x480 image with exactly one labelled hand (webcam_hands)")
    p.add_argument("--labels", default=None,
                   help="labels.csv with the hand box (default: ../images/../labels.csv)")
    p.add_argument("--frames", type=int_at_least(10), default=150)
    p.add_argument("--miss-rate", type=float, default=0.1,
                   help="fraction of frames whose detections are dropped in scenario 2")
    add_readme_out(p)
    return p


def pan_path(n: int, box: Sequence[float], img_wh: tuple[int, int],
             win_wh: tuple[int, int] = (320, 240)) -> list[tuple[int, int]]:
    """Window origins along a smooth Lissajous path that keeps the box inside."""
    x1, y1, x2, y2 = box
    w, h = win_wh
    lo_x, hi_x = max(0, x2 - w + 8), min(img_wh[0] - w, x1 - 8)
    lo_y, hi_y = max(0, y2 - h + 8), min(img_wh[1] - h, y1 - 8)
    if lo_x > hi_x or lo_y > hi_y:
        raise UserError("--image: the hand box does not fit a 320x240 window with margin")
    out = []
    for i in range(n):
        t = 2 * math.pi * i / n
        ox = (lo_x + hi_x) / 2 + (hi_x - lo_x) / 2 * math.sin(t)
        oy = (lo_y + hi_y) / 2 + (hi_y - lo_y) / 2 * math.sin(2 * t)
        out.append((int(round(ox)), int(round(oy))))
    return out


def score_run(centres: list, truth: list) -> dict:
    """centres[i]: (id, cx, cy) of the output on the true hand, or None."""
    import numpy as np

    err, steps, switches, lost, prev_id, prev = [], [], 0, 0, None, None
    for i, (c, t) in enumerate(zip(centres, truth)):
        if c is None:
            lost += 1
            prev = None
            continue
        hid, cx, cy = c
        err.append(math.hypot(cx - t[0], cy - t[1]))
        if prev is not None:
            (px, py), (tpx, tpy) = prev
            steps.append(math.hypot((cx - px) - (t[0] - tpx), (cy - py) - (t[1] - tpy)))
        if prev_id is not None and hid != prev_id:
            switches += 1
        prev_id, prev = hid, ((cx, cy), t)
    return {"traj": float(np.sqrt(np.mean(np.square(err)))) if err else float("nan"),
            "jitter": float(np.sqrt(np.mean(np.square(steps)))) if steps else float("nan"),
            "switches": switches, "lost": lost}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    if not 0.0 <= args.miss_rate < 1.0:
        raise UserError(f"--miss-rate must be in [0, 1), got {args.miss_rate}")
    import logging

    import cv2
    import numpy as np
    import pandas as pd

    from detect.detections import Detections
    from detect.detector import Detector
    from detect.tracking import HandTracker

    logging.getLogger("detect.detector").setLevel(logging.WARNING)
    image_path = Path(args.image)
    img = cv2.imread(str(image_path))
    if img is None:
        raise UserError(f"--image: cannot read {image_path}")
    labels_path = Path(args.labels) if args.labels else image_path.parent.parent / "labels.csv"
    try:
        rows = pd.read_csv(labels_path)
    except FileNotFoundError:
        raise UserError(f"--labels: no such file {labels_path}") from None
    rows = rows[rows.filename == image_path.name]
    if len(rows) != 1:
        raise UserError(f"--image: {image_path.name} must have exactly one box in "
                        f"{labels_path}, has {len(rows)}")
    r = rows.iloc[0]
    box = (float(r.xmin), float(r.ymin), float(r.xmax), float(r.ymax))
    path = pan_path(args.frames, box, (img.shape[1], img.shape[0]))
    cx0, cy0 = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    truth = [(cx0 - ox, cy0 - oy) for ox, oy in path]

    det = Detector(args.model, format=args.format)
    t0 = time.perf_counter()
    frames_dets = [det(np.ascontiguousarray(img[oy:oy + 240, ox:ox + 320])).filter(0.5)
                   for ox, oy in path]
    det_ms = (time.perf_counter() - t0) / len(path) * 1000
    rng = np.random.default_rng(0)
    missed = set(np.flatnonzero(rng.random(len(path)) < args.miss_rate).tolist())

    def on_truth(items, t, get_box):
        """Pick the output whose box contains the true centre (nearest centre)."""
        best = None
        for it in items:
            x1, y1, x2, y2 = get_box(it)
            if x1 <= t[0] <= x2 and y1 <= t[1] <= y2:
                c = ((x1 + x2) / 2, (y1 + y2) / 2)
                d = math.hypot(c[0] - t[0], c[1] - t[1])
                if best is None or d < best[0]:
                    best = (d, it, c)
        return best

    configs = [("raw detections (baseline)", None),
               ("norfair, no filter", dict(smooth=False)),
               ("norfair + Kalman (default R=4, Q=0.1)", dict()),
               ("norfair + Kalman (R=20, Q=0.05)", dict(kalman_r=20.0, kalman_q=0.05))]
    results = []
    for scenario, drop in (("every frame detected", set()),
                           (f"{args.miss_rate:.0%} of frames missed", missed)):
        for name, kw in configs:
            tracker = HandTracker(**kw) if kw is not None else None
            centres, t_track = [], 0.0
            for i, (dets, t) in enumerate(zip(frames_dets, truth)):
                if i in drop:
                    dets = Detections.empty()
                if tracker is None:
                    hit = on_truth(range(len(dets)), t, lambda k: dets.boxes[k])
                    centres.append(None if hit is None else (0, *hit[2]))
                    continue
                s = time.perf_counter()
                hands = tracker.update(dets)
                t_track += time.perf_counter() - s
                hit = on_truth(hands, t, lambda h: h.box)
                centres.append(None if hit is None else (hit[1].id, *hit[1].center))
            m = score_run(centres, truth)
            m["ms"] = t_track / len(path) * 1000 if tracker is not None else 0.0
            results.append((scenario, name, m))
            print(f"{scenario:24s} {name:40s} traj {m['traj']:6.2f} jitter {m['jitter']:6.2f} "
                  f"switches {m['switches']} lost {m['lost']}", file=sys.stderr)

    lines = [f"Tracking benchmark: `{image_path.name}` panned by a 320x240 window along a "
             f"Lissajous path, {args.frames} frames, {det.format} model ({det_ms:.1f} ms/frame), "
             f"{machine()}.", ""]
    for scenario in dict.fromkeys(s for s, _, _ in results):
        rows_s = [(n, m) for s, n, m in results if s == scenario]
        base = rows_s[0][1]
        lines += [f"**{scenario}**", "",
                  "| configuration | trajectory error px | x raw | jitter px/frame | x raw | "
                  "id switches | lost frames | tracker ms/frame |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for n, m in rows_s:
            lines.append(f"| {n} | {m['traj']:.2f} | {m['traj'] / base['traj']:.2f}x | "
                         f"{m['jitter']:.2f} | {m['jitter'] / base['jitter']:.2f}x | "
                         f"{m['switches']} | {m['lost']} | {m['ms']:.3f} |")
        lines.append("")
    publish(lines, args.readme_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
