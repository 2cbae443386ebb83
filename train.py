#!/usr/bin/env python3
"""Fine-tune SSD-MobileNet v1 from an Object Detection API pipeline.config.

Rerunning the same command resumes from the newest checkpoint in --model-dir.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cli import int_at_least, parse_command_line, run_main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True,
                   help="pipeline.config path, or a bare name in pipeline_configs/ (e.g. ssd.config)")
    p.add_argument("--model-dir", default=None,
                   help="checkpoints, TensorBoard logs and a copy of the config "
                        "(default: train_dir/<config name>)")
    p.add_argument("--num-steps", type=int_at_least(0), default=None,
                   help="override train_config.num_steps (0: train until stopped)")
    p.add_argument("--batch-size", type=int, default=None, help="override train_config.batch_size")
    p.add_argument("--fine-tune-checkpoint", default=None, metavar="PATH_OR_URL",
                   help="override train_config.fine_tune_checkpoint: a zoo checkpoint (prefix, "
                        ".index or folder), an earlier run's folder, a zoo archive URL, or an "
                        "exported model folder (e.g. exported_models/handtrack_default, to adapt "
                        "the shipped model to your own data); e.g. a local copy of the config's "
                        "zoo archive on a machine without network")
    p.add_argument("--fine-tune-checkpoint-type", default=None, metavar="TYPE",
                   help="override train_config.fine_tune_checkpoint_type "
                        "(detection or classification)")
    p.add_argument("--checkpoint-every", type=int_at_least(1), default=500,
                   help="save a checkpoint every N steps")
    p.add_argument("--keep-every", type=int_at_least(0), default=0, metavar="N",
                   help="also save every N-th step's checkpoint into <model-dir>/kept/, out of "
                        "reach of the pruning that keeps only the newest 5, to compare "
                        "checkpoints on held-out sets later (0: none)")
    p.add_argument("--eval-every", type=int_at_least(0), default=0,
                   help="evaluate on eval_input_reader every N steps (0: never)")
    p.add_argument("--log-every", type=int_at_least(1), default=10,
                   help="TensorBoard scalars every N steps")
    p.add_argument("--seed", type=int, default=None, help="random seed for reproducible runs")
    return parse_command_line(p, argv)


def _config_file(name: str) -> Path | None:
    """The pipeline.config file behind --pipeline, for file:line in input errors."""
    from config.loader import resolve_config_path

    try:
        return resolve_config_path(name)
    except Exception:  # noqa: BLE001 - only used to place error messages
        return None


def main(argv=None) -> int:
    args = parse_args(argv)
    from config.loader import apply_overrides, load_pipeline
    from training.train_lib import TrainOptions, train

    pipeline = load_pipeline(args.pipeline)
    pipeline = apply_overrides(pipeline, num_steps=args.num_steps, batch_size=args.batch_size,
                               fine_tune_checkpoint=args.fine_tune_checkpoint,
                               fine_tune_checkpoint_type=args.fine_tune_checkpoint_type)
    model_dir = Path(args.model_dir or Path("train_dir") / Path(args.pipeline).stem)
    result = train(pipeline, TrainOptions(
        model_dir=model_dir, num_steps=pipeline.train_config.num_steps,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every,
        eval_every=args.eval_every, keep_every=args.keep_every, seed=args.seed,
        config_path=_config_file(args.pipeline)))
    print(json.dumps({k: v for k, v in result.items() if k != "loss_history"}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
