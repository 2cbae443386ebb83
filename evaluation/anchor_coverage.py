"""How many labelled boxes a pipeline's anchors can reach, per record set.

An SSD learns a box from the anchors that overlap it at the matcher's
`matched_threshold` (IoU 0.5 in the classic configs); a box below it on every
anchor gets one forced match at best and is then regressed from a poor start.
Small and far hands are where this bites: at 300x300 the zoo's anchors
(min_scale 0.2, three boxes in the lowest layer) miss about half the boxes of
the held-out EgoHands video. Counting this takes seconds and needs no training,
so anchor settings can be compared before a run is spent on them.

    python3 -m evaluation.anchor_coverage --pipeline ssd.config experiments/h_*/pipeline.config \\
        --records 'data/egohands_frames/records/eval.record-*' 'data/rps_hands/records/eval.record-*'
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import parse_command_line, run_main
from detect.detections import box_iou


Labelled = list[tuple[int, int, np.ndarray]]   # per picture: height, width, its boxes


def read_labelled(files: Sequence[str]) -> Labelled:
    """Per picture, its size and the normalised (ymin, xmin, ymax, xmax) of every box that
    is not an ignore region: read once, then placed for each pipeline by labelled_boxes."""
    import tensorflow as tf

    from training.inputs import ExampleDecoder

    decoder = ExampleDecoder()
    pictures = []
    for serialized in tf.data.TFRecordDataset(list(files)):
        ex = decoder(serialized)
        keep = (ex["classes"].numpy() > 0) & (ex["ignore"].numpy() == 0)
        height, width = ex["image"].shape[:2]
        pictures.append((int(height), int(width), ex["boxes"].numpy()[keep]))
    return pictures


def labelled_boxes(pictures: Labelled, padded_for: tuple[int, int] | None = None) -> np.ndarray:
    """Every picture's boxes, one array; `padded_for` (a model's input size): in the picture
    as a model with pad_narrower_images reads it, side bars included (ssd/padding.py)."""
    from ssd import padding

    boxes = []
    for height, width, found in pictures:
        if padded_for is not None:
            total = padding.padded_width(height, width, padded_for)
            found = padding.boxes_into_padded(found, width, padding.left_bar(width, total), total)
        boxes.append(found)
    return np.concatenate(boxes).astype(np.float64) if boxes else np.zeros((0, 4))


def best_anchor_iou(boxes: np.ndarray, anchors: np.ndarray, chunk: int = 512) -> np.ndarray:
    """For each box, its highest IoU with any anchor (both normalised corner boxes)."""
    out = [box_iou(boxes[i:i + chunk], anchors).max(axis=1) for i in range(0, len(boxes), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def coverage(boxes: np.ndarray, anchors: np.ndarray, threshold: float) -> dict:
    """Share of boxes whose best anchor IoU is below `threshold`, and the median best IoU."""
    best = best_anchor_iou(boxes, anchors)
    return {"boxes": int(len(best)), "anchors": int(len(anchors)), "threshold": threshold,
            "uncovered": int((best < threshold).sum()),
            "uncovered_share": round(float((best < threshold).mean()), 4) if len(best) else None,
            "median_best_iou": round(float(np.median(best)), 4) if len(best) else None}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python3 -m evaluation.anchor_coverage",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", nargs="+", required=True,
                   help="pipeline.config files (or shipped config names) to compare")
    p.add_argument("--records", nargs="+", required=True,
                   help="TFRecord globs; each one is reported as its own set")
    p.add_argument("--out", default=None, help="also write the figures here as JSON")
    return parse_command_line(p, argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from common.atomic import atomic_write_text
    from config.loader import load_pipeline
    from config.paths import expand_patterns
    from ssd.builder import build_from_pipeline

    sets = {pattern: read_labelled(expand_patterns([pattern], "--records", unique=True))
            for pattern in args.records}
    results = []
    print("| pipeline | anchors | records | boxes | below matched_threshold | median best IoU |")
    print("|---|---:|---|---:|---:|---:|")
    for path in args.pipeline:
        pipeline = load_pipeline(path)
        threshold = pipeline.model.ssd.matcher.argmax_matcher.matched_threshold
        model = build_from_pipeline(pipeline)
        anchors = model.anchors_corners.astype(np.float64)
        padded_for = model.config.input_size if model.config.pad_narrower_images else None
        for pattern, pictures in sets.items():
            c = coverage(labelled_boxes(pictures, padded_for), anchors, threshold)
            results.append({"pipeline": str(path), "records": pattern, **c})
            share = "—" if c["uncovered_share"] is None else f"{c['uncovered_share']:.2f}"
            median = "—" if c["median_best_iou"] is None else f"{c['median_best_iou']:.2f}"
            print(f"| {path} | {c['anchors']} | {pattern} | {c['boxes']} | {share} | {median} |")
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
