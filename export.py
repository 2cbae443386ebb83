#!/usr/bin/env python3
"""Export a trained checkpoint to exported_models/NAME in every serving format.

Writes frozen_inference_graph.pb, saved_model/, model.tflite, model_int8.tflite
(int8 calibrated on --representative-data), model.onnx (tf2onnx; for ONNX
Runtime and OpenCV dnn in C++), label_map.pbtxt, pipeline.config,
metrics.json (with --metrics) and export_info.json (format agreement measured
on the same images). The directory appears only when everything succeeded.

Example (the README's pipeline):
  python3 export.py --pipeline ssd.config --checkpoint train_dir/ssd \\
      --out exported_models/my_hands \\
      --representative-data 'data/egohands/records/train.record-*'
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from common.cli import int_at_least, parse_command_line, run_main
from common.errors import UserError
from detect.detector import FORMATS

log = logging.getLogger("export")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True, help="pipeline.config the model was trained with")
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint prefix (ckpt-12) or training dir (latest checkpoint)")
    p.add_argument("--out", required=True, help="export dir, e.g. exported_models/NAME")
    p.add_argument("--representative-data", nargs="+", default=None, metavar="GLOB",
                   help="TFRecord files/globs (OD-API tf.Example, image/encoded) for int8 "
                        "calibration and the format check; default: the pipeline's training records")
    p.add_argument("--num-representative", type=int_at_least(1), default=100,
                   help="images used for int8 calibration")
    p.add_argument("--label-map", default=None,
                   help="label_map.pbtxt (default: the pipeline's train_input_reader.label_map_path)")
    p.add_argument("--metrics", default=None, help="evaluation metrics JSON to copy in")
    p.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS),
                   help="formats to write (the frozen graph is always written: it is the "
                        "reference the others are checked against)")
    p.add_argument("--num-verify", type=int_at_least(1), default=10,
                   help="images on which every format is compared with the frozen graph")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out dir")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"--out {out} already exists; pass --overwrite to replace it")
    if out.exists():
        from export_lib.exporter import check_replaceable
        check_replaceable(out)  # before the slow model load
    metrics = None
    if args.metrics:
        try:
            metrics = json.loads(Path(args.metrics).read_text())
        except FileNotFoundError:
            raise UserError(f"--metrics: no such file: {args.metrics}") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"--metrics {args.metrics}: not JSON ({exc})") from None

    from data_prep.label_map import read_label_map
    from export_lib import export_model
    from export_lib import from_checkpoint
    from export_lib.representative import images_from_tfrecords

    model, config = from_checkpoint.load_model(args.pipeline, args.checkpoint)
    label_path = args.label_map or from_checkpoint.label_map_path(config)
    files = from_checkpoint.calibration_files(config, args.representative_data)
    formats = ["frozen"] + [f for f in args.formats if f != "frozen"]
    result = export_model(
        model, out,
        input_size=model.config.input_size,
        representative_images=images_from_tfrecords(files, args.num_representative),
        label_names=read_label_map(label_path),
        pipeline_config_text=from_checkpoint.pipeline_text(args.pipeline),
        metrics=metrics, num_representative=args.num_representative,
        num_verify=args.num_verify, formats=formats, overwrite=args.overwrite)
    for fmt, agg in result.agreement.items():
        log.info("%s vs frozen: matched %d, min IoU %.3f, max |dscore| %.4f, %s", fmt,
                 agg["matched"], agg["min_iou"], agg["max_score_delta"],
                 "within tolerance" if agg["within_tolerance"] else "OUTSIDE tolerance")
    print(f"exported to {result.out_dir} in {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
