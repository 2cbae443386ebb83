#!/usr/bin/env python3
"""Detect hands in one image: write an annotated copy and, optionally, the detections as JSON.

Example:
  python3 detect_single_image.py --image samples/hand.jpg --out /tmp/hand_boxes.jpg --json /tmp/hand.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from common.cli import check_flag, parse_command_line, run_main
from common.errors import UserError
from detect.detections import SCORE_THRESHOLD
from detect.detector import DEFAULT_MODEL, FORMATS, DEFAULT_TILES, TILES, TILES_HELP


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--image", required=True, help="input image (jpg, png, ...)")
    p.add_argument("--out", required=True, help="annotated output image (.jpg or .png)")
    p.add_argument("--json", default=None, help="also write the detections here as JSON")
    p.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="export dir, SavedModel dir, .pb or .tflite file")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="which format to load from an export dir")
    p.add_argument("--num-threads", type=int, default=None, help="TFLite interpreter threads")
    p.add_argument("--tiles", choices=TILES, default=DEFAULT_TILES, help=TILES_HELP)
    p.add_argument("--score-thresh", type=float, default=SCORE_THRESHOLD,
                   help="keep detections with at least this score")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    check_flag("--score-thresh", args.score_thresh, at_least=0.0, at_most=1.0)
    check_flag("--num-threads", args.num_threads, at_least=1)
    import cv2

    from common.atomic import atomic_write_bytes, atomic_write_text
    from detect.detector import Detector, resolve_model
    from detect.drawing import draw_detections

    if not Path(args.image).is_file():
        raise UserError(f"--image: no such file: {args.image}")
    frame = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if frame is None:
        raise UserError(f"--image: cannot decode {args.image} as an image")
    ext = Path(args.out).suffix.lower()
    if ext not in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
        raise UserError(f"--out {args.out}: use a .jpg or .png name")
    resolve_model(args.model, args.format)
    detector = Detector(args.model, format=args.format, num_threads=args.num_threads,
                        tiles=args.tiles)
    try:
        dets = detector(frame).filter(args.score_thresh)
    finally:
        detector.close()
    ok, buf = cv2.imencode(ext, draw_detections(frame.copy(), dets))
    if not ok:
        raise UserError(f"--out {args.out}: cannot encode the image")
    atomic_write_bytes(args.out, buf.tobytes())
    if args.json:
        rec = {"image": args.image, "width": frame.shape[1], "height": frame.shape[0],
               **dets.to_json()}
        atomic_write_text(args.json, json.dumps(rec, indent=2) + "\n")
    print(f"{len(dets)} detection(s) with score >= {args.score_thresh} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
