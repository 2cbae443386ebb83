#!/usr/bin/env python3
"""Hand-free crops of the TRAINING images as negative records (no boxes).

Why: v2 fires on faces, necks and dark objects that a crop shows large (see
experiments/d_v2_all_sets/false_positive_examples). The OD API's hard example
miner only sees negatives inside images that also hold hands; crops without
any hand, from the same scenes, teach "nothing here" directly. Only training
images are cut, so the held-out false-positive figures stay honest.

With --mine-with MODEL the crops are centred on that model's own confident
false detections on the training images (away from every box) instead:
random crops rarely hold what fools a trained model (v3's worst webcam false
detection is a brown armchair at 0.94), its own mistakes always do.

With --mine-on crops it also keeps the hand-free crops (cut as
evaluation.false_positives cuts the held-out ones, --per-image of each training
image) that the model fires on: a detection on a whole picture is rare where
hands fill it (close-ups), while the zoomed-in crops the held-out count uses are
what a quiet model must get right.

    python3 experiments/make_negatives.py --out data/negatives
    python3 experiments/make_negatives.py --mine-with exported_models/handtrack_default \
        --out data/mined_negatives
    python3 experiments/make_negatives.py --mine-with EXPORT --mine-on images crops \
        --per-image 4 --out data/mined_negatives_by
    python3 experiments/make_negatives.py --sets rps_hands \
        --drop-fired-by exported_models/handtrack_default --out data/negatives_rps

With --drop-fired-by MODEL the random crops that model fires on are left out: for
rps_hands, whose unlabelled hands (a wikiHow flat hand, an arm at a crop's edge) would
otherwise be taught as "no hand". It drops hard negatives too, the price of not teaching
hands as background.
"""
from __future__ import annotations

import argparse
import glob
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import run_main  # noqa: E402

# rps_hands is left out by default: only its gesturing hands are labelled, so a crop away
# from its boxes can still hold a hand (about one image in eight). It can be asked for on its
# own (--sets rps_hands): its crops also avoid the ignore regions, and they are the only
# hand-free pictures here of many different people, so a config can give them a small share
# of their own.
SETS = ("egohands_frames", "webcam_hands", "closeup_hands", "phone_hands")
ALL_SETS = SETS + ("rps_hands",)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data", help="folder holding the imported sets")
    p.add_argument("--out", default="data/negatives", help="output folder (records/)")
    p.add_argument("--per-image", type=int, default=1,
                   help="hand-free crops per training image (with --mine-on crops: the candidates)")
    p.add_argument("--mine-with", default=None, metavar="MODEL",
                   help="exported model: crop around its false detections instead")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=ALL_SETS,
                   help="the imported sets to cut from (default: all but rps_hands)")
    p.add_argument("--threshold", type=float, default=0.3,
                   help="with --mine-with or --drop-fired-by: the score that counts as firing")
    p.add_argument("--drop-fired-by", default=None, metavar="MODEL",
                   help="exported model: leave out the random crops it fires on")
    p.add_argument("--mine-on", nargs="+", choices=("images", "crops"), default=None,
                   help="with --mine-with: crop around its detections on whole training "
                        "images, and/or keep the hand-free crops it fires on (default: images)")
    args = p.parse_args(argv)
    import cv2
    import tensorflow as tf

    from common.atomic import atomic_path
    from common.errors import UserError
    from data_prep.annotations import ImageAnn
    from data_prep.tfrecords import build_example
    from detect.detector import Detector
    from evaluation.false_positives import crops_from_records

    if not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be in (0, 1), got {args.threshold}")
    if args.mine_on and not args.mine_with:
        raise UserError("--mine-on needs --mine-with (the model whose mistakes to mine)")
    if args.drop_fired_by and args.mine_with:
        raise UserError("--drop-fired-by filters random crops: it cannot go with --mine-with")
    mine_on = args.mine_on or ["images"]
    detector = Detector(args.mine_with) if args.mine_with else None
    dropper = Detector(args.drop_fired_by) if args.drop_fired_by else None
    out = Path(args.out) / "records"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in args.sets:
        before = total
        files = sorted(glob.glob(f"{args.data}/{name}/records/train.record-*"))
        target = out / f"train-{name}.record"
        with atomic_path(target) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
            if detector is None:
                crops = crops_from_records(files, args.per_image)
                if dropper is not None:
                    crops = ((n, c) for n, c in crops
                             if not len(dropper.detect_rgb(c).filter(args.threshold)))
            else:
                crops = itertools.chain(
                    mined_crops(files, detector, args.threshold) if "images" in mine_on else (),
                    fired_crops(files, detector, args.threshold, args.per_image)
                    if "crops" in mine_on else ())
            for crop_name, crop in crops:
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 92])
                h, w = crop.shape[:2]
                ann = ImageAnn(f"neg_{name}_{crop_name.replace('#', '_')}", target, w, h,
                               f"neg_{name}", [])
                writer.write(build_example(ann, jpeg.tobytes(), "jpeg", {"hand": 1})
                             .SerializeToString())
                total += 1
        print(f"{target}: {total - before} negatives from {name}", flush=True)
    print(f"{total} negative crops in {out}")
    return 0


def mined_crops(files, detector, threshold: float):
    """(name, RGB crop) around each of `detector`'s detections at >= threshold that
    overlap no labelled box (hands and ignore regions) of a training image."""
    import numpy as np

    from evaluation.false_positives import crops_around
    from training.inputs import ExampleDecoder

    for name, image, boxes in ExampleDecoder().images(files):
        h, w = image.shape[:2]
        # (x1, y1, x2, y2) -> (y0, x0, y1, x1). A detection on a hand needs no test of its
        # own: every square that holds it touches that hand, so crops_around skips it.
        found = detector.detect_rgb(image).filter(threshold).boxes[:, [1, 0, 3, 2]]
        # A wide margin: a fingertip at the crop's edge would teach "no hand" on a hand.
        for i, (y0, x0, y1, x1) in enumerate(crops_around(h, w, boxes, found, margin=0.25)):
            yield f"{name}#mined{i}", np.ascontiguousarray(image[y0:y1, x0:x1])


def fired_crops(files, detector, threshold: float, per_image: int):
    """(name, RGB crop) for each hand-free crop of a training image that `detector`
    fires on at >= threshold."""
    from evaluation.false_positives import crops_from_records

    for name, crop in crops_from_records(files, per_image):
        if len(detector.detect_rgb(crop).filter(threshold)):
            yield name.replace("#", "#fired"), crop


if __name__ == "__main__":
    sys.exit(run_main(main))
