#!/usr/bin/env python3
"""Live-input latency: a paced source at 30 and 60 fps, capture-to-publish p50/p95 and drops.

Why paced: a video file is read as fast as the workers take frames, which
measures throughput, not what a player feels. `PacedSource` is a live source
(newest frame wins, as for a camera) that releases frame i at t0 + i/fps in
real time, made from a real webcam image panned along a path (so the
detector and tracker do real work). Latency is from the moment the source
returns a frame to the moment its message has been sent (UDP to a loopback
receiver, through the tracker): what a game would see, minus the network.
Aim: p95 <= one frame period + the model's own time (measured in the same run,
single frame, no threads).

  python3 bench/latency_bench.py [--seconds 4] [--fps 30,60] [--workers 1,2]
"""
from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import parse_command_line, run_main  # noqa: E402
from bench.report import add_readme_out, machine, publish  # noqa: E402
from common.errors import UserError  # noqa: E402
from detect.sources import FrameSource  # noqa: E402


class PacedSource(FrameSource):
    """Live source: frame i is released at start + i / fps (sleeping until then)."""

    live = True

    def __init__(self, frames: list, fps: float, n: int) -> None:
        super().__init__(frames[0].shape[1], frames[0].shape[0])
        self.frames, self.period, self.n, self.i = frames, 1.0 / fps, n, 0
        self.description = f"paced source {fps:g} fps"
        self.t_read: list[float] = []
        self.start: float | None = None

    def read(self):
        if self.i >= self.n:
            return None
        if self.start is None:
            self.start = time.perf_counter()
        due = self.start + self.i * self.period
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        frame = self.frames[self.i % len(self.frames)]
        self.i += 1
        self.t_read.append(time.perf_counter())
        return frame


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="exported_models/handtrack_default")
    p.add_argument("--format", default=None)
    p.add_argument("--image", default="../shared/data/webcam_hands/images/2_pic00488.jpg")
    p.add_argument("--fps", default="30,60")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--seconds", type=float, default=4.0, help="per configuration")
    add_readme_out(p)
    args = parse_command_line(p, argv)
    try:
        rates = [float(v) for v in args.fps.split(",")]
        workers = [int(v) for v in args.workers.split(",")]
    except ValueError:
        raise UserError("--fps/--workers: comma-separated numbers") from None
    if any(r <= 0 for r in rates) or any(w < 1 for w in workers) or args.seconds <= 0:
        raise UserError("--fps, --workers and --seconds must be positive")
    import logging
    import math

    import cv2
    import numpy as np

    from detect.detector import Detector
    from detect.hand_outputs import TrackedOutputs
    from detect.pipeline import run_pipeline
    from detect.streaming import UdpPublisher
    from detect.tracking import HandTracker

    logging.getLogger("detect.detector").setLevel(logging.WARNING)
    img = cv2.imread(args.image)
    if img is None:
        raise UserError(f"--image: cannot read {args.image}")
    frames = []
    for i in range(120):
        t = 2 * math.pi * i / 120
        ox, oy = int(160 + 90 * math.sin(t)), int(120 + 60 * math.sin(2 * t))
        frames.append(np.ascontiguousarray(img[oy:oy + 240, ox:ox + 320]))
    det = Detector(args.model, format=args.format)
    for f in frames[:5]:
        det(f)
    t0 = time.perf_counter()
    for f in frames[:60]:
        det(f)
    model_ms = (time.perf_counter() - t0) / 60 * 1000

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    rows = []
    for fps in rates:
        for n in workers:
            src = PacedSource(frames, fps, int(fps * args.seconds))
            t_pub: dict[int, float] = {}
            out = TrackedOutputs(None, tracker=HandTracker(),
                                 publishers=[UdpPublisher(*rx.getsockname())],
                                 on_hands=lambda i, *_: t_pub.__setitem__(i, time.perf_counter()))
            stats = run_pipeline(src, det, out, num_workers=n, queue_size=1, human=None)
            out.close()
            while True:  # drain the receiver
                try:
                    rx.recv(65536)
                except BlockingIOError:
                    break
            lat = np.array([(t_pub[i] - src.t_read[i]) * 1000 for i in t_pub])
            rows.append((fps, n, stats, np.percentile(lat, 50), np.percentile(lat, 95)))
            print(f"{fps:g} fps, {n} workers: p50 {rows[-1][3]:.1f} ms, p95 {rows[-1][4]:.1f} ms, "
                  f"read {stats.frames_read}, dropped {stats.dropped}", file=sys.stderr)
    rx.close()
    lines = [f"Live latency: paced live source (320x240 crops of a real webcam frame), "
             f"{det.format} model, tracker on, UDP publish to loopback; queue size 1 (newest "
             f"frame wins); {args.seconds:g} s per row; model alone {model_ms:.1f} ms/frame; "
             f"{machine()}.", "",
             "| source fps | workers | frames | published | dropped | p50 ms | p95 ms | "
             "budget ms (period + model) | p95 / budget |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for fps, n, s, p50, p95 in rows:
        budget = 1000 / fps + model_ms
        lines.append(f"| {fps:g} | {n} | {s.frames_read} | {s.processed} | {s.dropped} | "
                     f"{p50:.1f} | {p95:.1f} | {budget:.1f} | {p95 / budget:.2f}x |")
    publish(lines, args.readme_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
