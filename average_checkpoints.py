#!/usr/bin/env python3
"""Average the weights of checkpoints of one training run into a new checkpoint.

Checkpoints taken while the learning rate is still high differ, and their mean
often generalises better than any of them (see training/averaging.py for the
measurements). The result goes to evaluate.py --checkpoint and export.py
--checkpoint like any training checkpoint.

Example (every checkpoint that train.py --keep-every 500 kept from step 1000 on):
  python3 average_checkpoints.py --pipeline experiments/i/pipeline.config \\
      --checkpoints train_dir/i/kept --min-step 1000 --out train_dir/i_averaged
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from common.cli import int_at_least, parse_command_line, run_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pipeline", required=True, help="pipeline.config the checkpoints were trained with")
    p.add_argument("--checkpoints", required=True, nargs="+", metavar="PATH",
                   help="checkpoint prefixes (ckpt-N), .index files, or folders (every ckpt-N in them)")
    p.add_argument("--min-step", type=int_at_least(0), default=0,
                   help="leave out ckpt-N with N below this")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="one weight per checkpoint, in the order given (default: equal)")
    p.add_argument("--out", required=True, help="folder for the averaged checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.averaging import (average_checkpoints, check_out, expand_checkpoints,
                                    write_averaged)

    check_out(args.out, args.overwrite)
    prefixes = expand_checkpoints(args.checkpoints, args.min_step)
    pipeline = load_pipeline(args.pipeline)
    model = build_from_pipeline(pipeline)
    weights = average_checkpoints(model, prefixes, args.weights)
    saved = write_averaged(model, args.out, prefixes, weights, pipeline,
                           overwrite=args.overwrite)
    print(json.dumps({"checkpoint": saved, "averaged": len(prefixes)}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
