#!/usr/bin/env python3
"""Move a fine-tuned detector's feature extractor part of the way back to its start.

Why: on every walk so far the unseen egocentric video scores best early, close to
the COCO detector the runs start from, and falls as training goes on, while webcam
and close-up rise (m: 0.66-0.76 at steps 250-750, 0.26 at step 2000). WiSE-FT
(Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022) keeps both:
the weights (1 - alpha) * fine-tuned + alpha * start often hold the fine-tuned
model's accuracy on its own kind of data and gain the start's robustness elsewhere.
Here only the feature extractor (`FeatureExtractor/...`) moves: the COCO detector's
heads predict 90 other classes (and a lowest layer of another anchor count), so the
hand heads stay as trained. Batch-norm statistics were frozen in training, so they
are the start's in both and need no re-estimation.

  python3 experiments/wise_ft.py --pipeline experiments/w_osv_soup/pipeline.config \\
      --checkpoint train_dir/v4_recovered \\
      --start ../shared/weights/ssd_mobilenet_v1_0.75_depth_coco/model.ckpt \\
      --alpha 0.2 --out train_dir/bg_v4_wise_ft_020
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import check_flag, parse_command_line, run_main  # noqa: E402

SCOPE = "FeatureExtractor/"
INFO_FILE = "wise_ft.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True, help="the pipeline.config of --checkpoint's model")
    p.add_argument("--checkpoint", required=True,
                   help="the fine-tuned weights: a training checkpoint prefix or its folder")
    p.add_argument("--start", required=True,
                   help="what it was fine-tuned from: a zoo detection checkpoint (model.ckpt)")
    p.add_argument("--alpha", type=float, required=True,
                   help="how far back toward --start: 0 keeps --checkpoint, 1 is --start")
    p.add_argument("--out", required=True, help="folder for the new checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    check_flag("--alpha", args.alpha, at_least=0.0, at_most=1.0)
    from common.atomic import atomic_write_text
    from common.errors import UserError
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.averaging import check_out, write_averaged
    from training.checkpoints import restore_trained, restore_zoo_checkpoint

    check_out(args.out, args.overwrite)
    pipeline = load_pipeline(args.pipeline)
    model = build_from_pipeline(pipeline)
    report = restore_zoo_checkpoint(model, args.start, "detection")
    variables = model.slim_variable_map()
    start = {name: variables[name].numpy() for name in report.restored if name.startswith(SCOPE)}
    missing = [n for n in variables if n.startswith(SCOPE) and n not in start]
    if missing:
        raise UserError(f"--start: {len(missing)} feature-extractor variable(s) are not in it "
                        f"(e.g. {missing[0]}); is it the checkpoint --checkpoint started from?")
    prefix = restore_trained(model, args.checkpoint, "--checkpoint")
    moved = 0.0
    for name, value in start.items():
        tuned = variables[name].numpy()
        variables[name].assign((1.0 - args.alpha) * tuned + args.alpha * value)
        moved += float(((value - tuned) ** 2).sum())
    saved = write_averaged(model, args.out, [prefix], [1.0], pipeline, overwrite=args.overwrite)
    info = {"checkpoint": saved, "fine_tuned": prefix, "start": str(args.start),
            "alpha": args.alpha, "variables_moved": len(start),
            "distance_to_start": round(moved ** 0.5, 4)}
    atomic_write_text(Path(args.out) / INFO_FILE, json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
