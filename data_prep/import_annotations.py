"""Import your own labelled images (Pascal VOC folder or CSV) as a training dataset.

    python -m data_prep.import_annotations --csv labels.csv --images DIR --out DIR
    python -m data_prep.import_annotations --voc DIR [--images DIR] --out DIR

Produces the same layout as prep_egohands.py (see data_prep.dataset_writer).
`import_csv` / `import_voc` are the same thing callable from Python.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from common.cli import int_at_least, parse_command_line, run_main
from common.errors import UserError

log = logging.getLogger("import_annotations")

SPLIT_CHOICES = ("random", "group")


def _finish(images, stats, out_dir, split: str, seed: int, fractions, shards: int,
            visualize: int, workers: int | None, label_map, progress: bool, where: str,
            eval_groups: Sequence[str] = ()):
    from data_prep.dataset_writer import class_names_for, write_dataset
    from data_prep.label_map import read_label_map
    from data_prep.splits import parse_fractions

    if split not in SPLIT_CHOICES:
        raise UserError(f"--split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    if isinstance(fractions, str):
        fractions = parse_fractions(fractions)
    given = read_label_map(label_map) if label_map else None
    names = class_names_for(images, given, where)
    return write_dataset(images, out_dir, names, split=split, seed=seed, fractions=fractions,
                         shards=shards, workers=workers, visualize=visualize,
                         box_stats=stats, progress=progress, eval_groups=eval_groups)


def import_csv(csv_path: str | os.PathLike, images_dir: str | os.PathLike,
               out_dir: str | os.PathLike, split: str = "random", seed: int = 42,
               fractions: Sequence[float] | str = (0.8, 0.1, 0.1), shards: int = 1,
               visualize: int = 0, workers: int | None = None,
               label_map: str | os.PathLike | None = None, progress: bool = True,
               eval_groups: Sequence[str] = ()):
    """Import a CSV (`filename,width,height,class,xmin,ymin,xmax,ymax[,group][,difficult]`).

    split='group' keeps each `group` (column, else the name before `_frame_`)
    in one split; `eval_groups` names groups to hold out for eval rather than
    drawing them. `label_map` fixes the class ids (else sorted class names).
    Returns the dataset_writer.Summary.
    """
    from data_prep.annotations import BoxStats, read_csv

    stats = BoxStats()
    images = read_csv(csv_path, images_dir, stats)
    return _finish(images, stats, out_dir, split, seed, fractions, shards, visualize,
                   workers, label_map, progress, str(csv_path), eval_groups)


def import_voc(voc_dir: str | os.PathLike, out_dir: str | os.PathLike,
               images_dir: str | os.PathLike | None = None, split: str = "random",
               seed: int = 42, fractions: Sequence[float] | str = (0.8, 0.1, 0.1),
               shards: int = 1, visualize: int = 0, workers: int | None = None,
               label_map: str | os.PathLike | None = None, progress: bool = True,
               eval_groups: Sequence[str] = ()):
    """Import a folder of Pascal VOC XMLs (images next to them or in `images_dir`)."""
    from data_prep.annotations import BoxStats
    from data_prep.voc import read_voc_dir

    stats = BoxStats()
    images = read_voc_dir(voc_dir, images_dir, stats)
    return _finish(images, stats, out_dir, split, seed, fractions, shards, visualize,
                   workers, label_map, progress, str(voc_dir), eval_groups)



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.import_annotations",
        description="Import labelled images (Pascal VOC XML folder from LabelImg, or a CSV "
                    "filename,width,height,class,xmin,ymin,xmax,ymax[,group][,difficult]) "
                    "into train/test/eval images, labels CSVs, sharded TFRecords and a "
                    "label map. Rerunning skips finished steps.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--voc", metavar="DIR", help="folder of VOC .xml files (recursive)")
    source.add_argument("--csv", metavar="FILE", help="annotation CSV, one row per box")
    parser.add_argument("--images", metavar="DIR",
                        help="image folder (required with --csv; with --voc default: next "
                             "to each XML)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument("--split", choices=SPLIT_CHOICES, default="random",
                        help="random: images shuffled; group: whole groups per split (CSV "
                             "'group' column, else the file name before '_frame_')")
    parser.add_argument("--fractions", default="0.8,0.1,0.1", metavar="TRAIN,TEST,EVAL",
                        help="split fractions")
    parser.add_argument("--eval-groups", default="", metavar="G1,G2",
                        help="with --split group: hold out exactly these groups for eval "
                             "(the others share train/test by --fractions)")
    parser.add_argument("--seed", type=int, default=42, help="shuffle seed (splits and record order)")
    parser.add_argument("--shards", type=int_at_least(1), default=1, metavar="N",
                        help="TFRecord shards per split")
    parser.add_argument("--visualize", type=int_at_least(0), default=0, metavar="N",
                        help="write N PNGs with the boxes drawn to OUT/visualize/")
    parser.add_argument("--label-map", metavar="FILE",
                        help="label_map.pbtxt fixing class ids (default: sorted class names)")
    parser.add_argument("--workers", type=int_at_least(1), default=None, metavar="N",
                        help="threads reading/validating images (default: min(4, CPUs))")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_command_line(parser, argv)
    if args.csv and not args.images:
        parser.error("--csv needs --images DIR")
    common = dict(split=args.split, seed=args.seed, fractions=args.fractions,
                  shards=args.shards, visualize=args.visualize, workers=args.workers,
                  label_map=args.label_map, progress=not args.no_progress,
                  eval_groups=[g for g in args.eval_groups.split(",") if g])
    if args.csv:
        summary = import_csv(args.csv, args.images, args.out, **common)
    else:
        summary = import_voc(args.voc, args.out, images_dir=args.images, **common)
    if summary.skipped_run:
        summary.notes.append("nothing to do: outputs already match these inputs and options")
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
