#!/usr/bin/env python3
"""Evaluate a trained checkpoint or an exported model: AP@0.5 and COCO AP with pycocotools,
a PR curve and metrics.json."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.cli import check_flag, int_at_least, parse_command_line, run_main
from detect.detections import SCORE_THRESHOLD
from detect.detector import FORMATS, DEFAULT_TILES, TILES, TILES_HELP


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True, help="pipeline.config path or bare name")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint",
                      help="training folder (newest checkpoint is used) or a checkpoint prefix")
    what.add_argument("--model", help="an exported model dir/file (as detect_*.py take), to measure "
                                      "what ships, e.g. the int8 TFLite model")
    p.add_argument("--format", choices=FORMATS,
                   default=None, help="with --model: which exported format to evaluate")
    p.add_argument("--tiles", choices=TILES, default=DEFAULT_TILES, help="with --model: " + TILES_HELP)
    p.add_argument("--split", default="eval", choices=["eval", "test"],
                   help="eval_input_reader records, or the matching test records")
    p.add_argument("--records", nargs="+", default=None,
                   help="TFRecord files/globs to evaluate instead of the config's")
    p.add_argument("--out", default=None, help="folder for metrics.json and pr_curve.png "
                                               "(default: <checkpoint or model folder>/eval_<split>)")
    p.add_argument("--bootstrap", type=int_at_least(0), default=200, metavar="N",
                   help="redraw the images N times for a 95%% interval of AP@0.5 (0: off); "
                        "frames of one video are not independent, so it is a lower bound")
    p.add_argument("--max-examples", type=int_at_least(0), default=0, help="limit the number of images (0: all)")
    p.add_argument("--score-thresh", type=float, default=SCORE_THRESHOLD,
                   help="the score at which metrics.json's `errors` counts hands found and "
                        "false detections: the --score-thresh the detector will run with")
    return parse_command_line(p, argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    check_flag("--score-thresh", args.score_thresh, at_least=0.0, at_most=1.0)
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained
    from evaluation.model_eval import evaluate_model
    from evaluation.report import format_interval

    pipeline = load_pipeline(args.pipeline)
    if args.model:
        from detect.detector import Detector

        detector = Detector(args.model, format=args.format, tiles=args.tiles)
        model, source = None, {"model": str(detector.path), "format": detector.format,
                               "tiles": detector.tiles}
        default_out = Path(detector.path if detector.path.is_dir() else detector.path.parent)
    else:
        if args.format:
            from common.errors import UserError
            raise UserError("--format: only with --model (an exported model)")
        detector, model = None, build_from_pipeline(pipeline)
        prefix = restore_trained(model, args.checkpoint)
        source, default_out = {"checkpoint": prefix}, Path(prefix).parent
    out = Path(args.out) if args.out else default_out / f"eval_{args.split}"
    metrics = evaluate_model(pipeline, model, out, split_name=args.split, records=args.records,
                             max_examples=args.max_examples, detector=detector,
                             bootstrap=args.bootstrap, score_threshold=args.score_thresh,
                             extra={**source, "pipeline": str(args.pipeline)})
    print(f"AP@0.5={metrics['AP50']:.4f}{format_interval(metrics)} AP@[.5:.95]={metrics['AP']:.4f} "
          f"-> {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
