"""`prep_egohands.py`: EgoHands zip -> train/test/eval images, CSVs, TFRecords.

Steps, each skipped on a rerun once finished: download (resumable, unless
--zip), extraction (zip-slip checked, marker file), polygons -> boxes, then the
shared dataset writer (data_prep.dataset_writer).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from common.cli import int_at_least, parse_command_line

log = logging.getLogger("prep_egohands")




def build_parser() -> argparse.ArgumentParser:
    from data_prep.egohands import OFFICIAL_URL

    parser = argparse.ArgumentParser(
        prog="prep_egohands.py",
        description="Convert the EgoHands dataset (egohands_data.zip) into train/test/eval "
                    "images, labels CSVs, sharded TFRecords (TF Object Detection API format) "
                    "and a label map. Rerunning skips finished steps.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--zip", metavar="PATH",
                        help="local egohands_data.zip; without it the zip is downloaded "
                             "(resumable) to OUT/egohands_data.zip")
    parser.add_argument("--out", metavar="DIR", default="data/egohands",
                        help="output folder")
    parser.add_argument("--split", choices=["random", "video"], default="random",
                        help="random: frames shuffled and cut by --fractions; video: whole "
                             "videos per split (no near-duplicate frames across splits)")
    parser.add_argument("--fractions", default="0.8,0.1,0.1", metavar="TRAIN,TEST,EVAL",
                        help="split fractions")
    parser.add_argument("--seed", type=int, default=42, help="shuffle seed")
    parser.add_argument("--classes", type=int, choices=[1, 4], default=1,
                        help="1: every box is 'hand'; 4: myleft, myright, yourleft, yourright")
    parser.add_argument("--visualize", type=int_at_least(0), default=0, metavar="N",
                        help="write N PNGs with the boxes drawn to OUT/visualize/")
    parser.add_argument("--shards", type=int_at_least(1), default=1, metavar="N",
                        help="TFRecord shards per split")
    parser.add_argument("--workers", type=int_at_least(1), default=None, metavar="N",
                        help="threads reading/validating images (default: min(4, CPUs))")
    parser.add_argument("--url", default=OFFICIAL_URL, help="download address of the zip")
    parser.add_argument("--sha256", metavar="HEX",
                        help="expected SHA-256 of the zip (checked after download)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)

    from data_prep import egohands
    from data_prep.dataset_writer import claim_out_dir, write_dataset
    from data_prep.splits import parse_fractions

    fractions = parse_fractions(args.fractions)
    names = egohands.class_names(args.classes)
    out = Path(args.out)
    progress = not args.no_progress
    # Before the download and extraction write anything: never into someone else's folder.
    claim_out_dir(out, egohands.OWN_FILES)
    zip_path = egohands.ensure_zip(args.zip, out, args.url, args.sha256, progress)
    raw = egohands.safe_extract(zip_path, out / "raw", progress)
    images, stats, counts = egohands.load_egohands(raw, args.classes, progress)
    note = (f"EgoHands: {counts['videos']} videos, {len(images)} frames, "
            f"{counts['no_polygon']} empty/<3-point polygons (no hand)")
    summary = write_dataset(
        images, out, names, split=args.split,
        seed=args.seed, fractions=fractions, shards=args.shards, workers=args.workers,
        visualize=args.visualize, box_stats=stats, notes=[note], progress=progress)
    if summary.skipped_run:
        summary.notes.append("nothing to do: outputs already match these inputs and options")
    print("\n".join(summary.lines()))
    return 0
