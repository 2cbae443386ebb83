#!/usr/bin/env python3
"""Recover a model-only checkpoint from an exported frozen_inference_graph.pb.

Why: averaging experiments need the shipped model's weights as a checkpoint, and
`train_dir/` (where its soup was averaged) does not survive a fresh machine; the
frozen graph in git is the one copy that does. training.from_export reads the
weights (as fine-tuning from an export does); this script checks them: the rebuilt
model must give the frozen graph's detections on real images, or nothing is written.

  python3 experiments/weights_from_frozen_graph.py \\
      --frozen exported_models/handtrack_default/frozen_inference_graph.pb \\
      --pipeline exported_models/handtrack_default/pipeline.config \\
      --images "data/egohands_frames/records/eval.record-*" --out train_dir/v4_recovered
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import int_at_least, parse_command_line, run_main  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--frozen", required=True,
                   help="frozen_inference_graph.pb of a handtrack export, or the export folder")
    p.add_argument("--pipeline", required=True, help="the pipeline.config the model was trained with")
    p.add_argument("--images", nargs="+", required=True,
                   help="TFRecord patterns whose images check the rebuilt model against the graph")
    p.add_argument("--check-images", type=int_at_least(1), default=8, help="how many images to check")
    p.add_argument("--out", required=True, help="folder for the checkpoint (ckpt-1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    import numpy as np
    import tensorflow as tf

    from common.errors import UserError
    from config.loader import load_pipeline
    from config.paths import expand_patterns
    from detect.detector import Detector
    from detect.detections import Detections
    from export_lib.exporter import inference_fn_from_model
    from export_lib.representative import images_from_tfrecords
    from ssd.builder import build_from_pipeline
    from training.averaging import check_out, write_averaged
    from training.from_export import restore_from_export

    check_out(args.out, args.overwrite)
    pipeline = load_pipeline(args.pipeline)
    model = build_from_pipeline(pipeline)
    report = restore_from_export(model, args.frozen, "--frozen")
    if report.skipped:
        name, reason = sorted(report.skipped.items())[0]
        raise UserError(f"--frozen: {len(report.skipped)} variable(s) of the model built from "
                        f"--pipeline are not in the graph (e.g. {name}: {reason})")

    # The check: the same boxes and scores as the frozen graph, image by image.
    images = images_from_tfrecords(expand_patterns(args.images, "--images", unique=True),
                                   limit=args.check_images)
    rebuilt = inference_fn_from_model(model)
    worst, checked = 0.0, 0
    with contextlib.closing(Detector(args.frozen, format="frozen", tiles="off")) as graph:
        for rgb in images:
            want = graph.detect_rgb(rgb)
            out = {k: v.numpy() for k, v in rebuilt(tf.constant(rgb[None])).items()}
            got = Detections.from_normalized(out["detection_boxes"][0], out["detection_scores"][0],
                                             out["detection_classes"][0] + 1,
                                             np.ravel(out["num_detections"])[0],
                                             rgb.shape[1], rgb.shape[0], graph.label_names)
            if len(got) != len(want):
                raise UserError(f"--frozen: the rebuilt model finds {len(got)} boxes where the "
                                f"graph finds {len(want)}; not written")
            worst = max(worst, float(np.max(np.abs(got.scores - want.scores), initial=0.0)),
                        float(np.max(np.abs(got.boxes - want.boxes), initial=0.0)) / max(rgb.shape))
            checked += 1
    if worst > 1e-4:
        raise UserError(f"--frozen: the rebuilt model differs from the graph by {worst:.2g} "
                        f"in boxes or scores; not written")
    saved = write_averaged(model, args.out, [str(args.frozen)], [1.0], pipeline,
                           overwrite=args.overwrite)
    print(json.dumps({"checkpoint": saved, "variables": len(report.restored), "images_checked": checked,
                      "max_abs_difference": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
