#!/usr/bin/env python3
"""End-to-end detection fps for every export format, capture size and worker count.

Why: the threaded engine and the export formats exist to make detection fast;
this measures it in one run on one machine, so the ratios are comparable: each
row's fps is divided by the frozen-graph single-threaded row at the same size
(the classic baseline). Goal for the real model: fastest path >= 2x that
baseline and >= 30 fps at 320x240.

Each run decodes the video, resizes frames to the capture size, detects and
re-orders results exactly like `detect_multi_threaded.py --display 0` (files
are processed losslessly, so fps = processed frames / wall time). One Detector
per format is loaded once and shared by all its runs.

  python3 bench/detect_bench.py --model exported_models/handtrack_default --video clip.mp4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import median
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import check_flag, parse_command_line, parse_sizes, run_main  # noqa: E402
from bench.report import add_readme_out, machine, publish  # noqa: E402
from common.errors import UserError  # noqa: E402

FORMAT_LABELS = {"frozen": "frozen graph", "saved_model": "SavedModel",
                 "tflite": "TFLite float", "tflite_int8": "TFLite int8",
                 "onnx": "ONNX (onnxruntime)"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="export dir with the formats to compare")
    p.add_argument("--video", required=True, help="video file to run on")
    p.add_argument("--formats", default="frozen,saved_model,tflite,tflite_int8,onnx",
                   help="comma-separated formats (missing ones are skipped with a note)")
    p.add_argument("--sizes", default="320x240,640x480", help="capture sizes WxH")
    p.add_argument("--workers", default="1,2,4", help="threaded worker counts")
    p.add_argument("--max-frames", type=int, default=200, help="frames per run")
    p.add_argument("--num-threads", type=int, default=None,
                   help="TFLite / frozen-graph threads (default: all cores)")
    p.add_argument("--compare-model", default=None, metavar="DIR",
                   help="another export dir (e.g. the previous default model): its single-"
                        "threaded rows run in the same process, and a table gives each "
                        "format's end-to-end time against it")
    p.add_argument("--rounds", type=int, default=7,
                   help="with --compare-model: alternating single-threaded runs of each model "
                        "per format and size; the time ratio is the median over the rounds")
    add_readme_out(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    sizes = parse_sizes("--sizes", args.sizes)
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        raise UserError(f"--workers: expected N[,N...], got {args.workers!r}") from None
    check_flag("--max-frames", args.max_frames, at_least=1)
    check_flag("--rounds", args.rounds, at_least=1)
    for w in workers:
        check_flag("--workers", w, at_least=1)
    import logging

    import numpy as np

    from detect.detector import FORMAT_FILES, FORMATS, Detector
    from detect.outputs import Outputs
    from detect.pipeline import run_pipeline
    from detect.sources import open_source

    logging.getLogger("detect.detector").setLevel(logging.WARNING)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UserError(f"--formats: unknown {bad}; choose from {', '.join(FORMATS)}")
    model = Path(args.model)
    if not model.is_dir():
        raise UserError(f"--model: not an export dir: {model}")
    open_source(args.video).close()  # fail early on a missing/unreadable video
    missing = [f for f in formats if not (model / FORMAT_FILES[f]).exists()]
    formats = [f for f in formats if f not in missing]
    if "frozen" not in formats:
        raise UserError(f"{model}: the frozen graph (the baseline) is required")
    other = Path(args.compare_model) if args.compare_model else None
    if other is not None and not other.is_dir():
        raise UserError(f"--compare-model: not an export dir: {other}")

    def measure(det, w, h, n):
        with open_source(args.video, w, h) as src:
            return run_pipeline(src, det, Outputs(), num_workers=n, queue_size=5,
                                max_frames=args.max_frames, human=None)

    rows = []  # (format, (w, h), workers or 0, stats)
    for fmt in formats:
        det = Detector(model, format=fmt, num_threads=args.num_threads)
        for w, h in sizes:
            warm = np.zeros((h, w, 3), np.uint8)
            for _ in range(3):
                det(warm)
            for n in [0] + workers:
                stats = measure(det, w, h, n)
                rows.append((fmt, (w, h), n, stats))
                print(f"{FORMAT_LABELS[fmt]:13s} {w}x{h} workers={n}: "
                      f"{stats.mean_fps:7.1f} fps ({stats.processed} frames)",
                      file=sys.stderr, flush=True)
        det.close()

    # The compare model right after, format by format, single-threaded: the two
    # models see the same load, so their ratio is the figure to trust. An int8 run of
    # 120 frames lasts about 0.4 s, so one busy moment moved a ratio of bests of two by
    # 0.15 (the same graph measured 1.33-1.57x v1); the median of the rounds' paired
    # ratios leaves such a moment to one round.
    compared = []  # (format, (w, h), this model's best, other model's best, paired ratios)
    if other is not None:
        for fmt in formats:
            if not (other / FORMAT_FILES[fmt]).exists():
                continue
            det_new = Detector(model, format=fmt, num_threads=args.num_threads)
            det_old = Detector(other, format=fmt, num_threads=args.num_threads)
            for w, h in sizes:
                for d in (det_new, det_old):
                    for _ in range(3):
                        d(np.zeros((h, w, 3), np.uint8))
                # Alternate, and swap which goes first, to spread load changes evenly.
                pairs = []
                for i in range(args.rounds):
                    first, second = (det_new, det_old) if i % 2 == 0 else (det_old, det_new)
                    a, b = measure(first, w, h, 0), measure(second, w, h, 0)
                    pairs.append((a, b) if i % 2 == 0 else (b, a))
                new = max((p[0] for p in pairs), key=lambda s: s.mean_fps)
                old = max((p[1] for p in pairs), key=lambda s: s.mean_fps)
                ratios = sorted(o.mean_fps / n.mean_fps for n, o in pairs)
                compared.append((fmt, (w, h), new, old, ratios))
                print(f"{FORMAT_LABELS[fmt]:13s} {w}x{h}: {new.mean_fps:7.1f} fps vs "
                      f"{old.mean_fps:7.1f} fps ({other}); time x other, median of "
                      f"{len(ratios)}: {median(ratios):.2f}", file=sys.stderr, flush=True)
            det_new.close()
            det_old.close()

    base = {size: s.mean_fps for fmt, size, n, s in rows if fmt == "frozen" and n == 0}
    lines = [
        f"Detection benchmark: `{model}` on `{Path(args.video).name}` "
        f"({args.max_frames} frames max per run), {machine()}.",
        "",
        "| format | capture | engine | fps | p50 latency ms | p95 latency ms | x frozen 1-thread |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for fmt, (w, h), n, s in rows:
        engine = "single-threaded" if n == 0 else f"{n} worker{'s' if n > 1 else ''}"
        ratio = s.mean_fps / base[(w, h)] if base.get((w, h)) else float("nan")
        lines.append(f"| {FORMAT_LABELS[fmt]} | {w}x{h} | {engine} | {s.mean_fps:.1f} | "
                     f"{s.latency_ms(50):.1f} | {s.latency_ms(95):.1f} | {ratio:.2f}x |")
    if missing:
        lines += ["", f"Not in the export, skipped: {', '.join(missing)}."]
    best = max(rows, key=lambda r: r[3].mean_fps)
    lines += ["", f"Fastest: {FORMAT_LABELS[best[0]]}, {best[1][0]}x{best[1][1]}, "
                  f"{'single-threaded' if best[2] == 0 else f'{best[2]} worker(s)'}: "
                  f"{best[3].mean_fps:.1f} fps."]
    if compared:
        lines += ["", f"Against `{other}` (single-threaded, {args.rounds} alternating rounds; "
                      f"fps: the best round; time x other: the median of the rounds' ratios, "
                      f"and their range):", "",
                  "| format | capture | this model fps | other fps | time x other | range |",
                  "|---|---|---:|---:|---:|---:|"]
        for fmt, (w, h), new, old, ratios in compared:
            lines.append(f"| {FORMAT_LABELS[fmt]} | {w}x{h} | {new.mean_fps:.1f} | "
                         f"{old.mean_fps:.1f} | {median(ratios):.2f}x | "
                         f"{ratios[0]:.2f}-{ratios[-1]:.2f}x |")
    publish(lines, args.readme_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
