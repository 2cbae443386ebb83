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

    python3 experiments/make_negatives.py --out data/negatives
    python3 experiments/make_negatives.py --mine-with exported_models/handtrack_default \
        --out data/mined_negatives
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import run_main  # noqa: E402

# rps_hands is left out: only its gesturing hands are labelled, so a crop away
# from its boxes can still hold a hand (about one image in eight).
SETS = ("egohands_frames", "webcam_hands", "closeup_hands", "phone_hands")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data", help="folder holding the imported sets")
    p.add_argument("--out", default="data/negatives", help="output folder (records/)")
    p.add_argument("--per-image", type=int, default=1, help="crops per training image")
    p.add_argument("--mine-with", default=None, metavar="MODEL",
                   help="exported model: crop around its false detections instead")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS,
                   help="the imported sets to cut from")
    p.add_argument("--threshold", type=float, default=0.3,
                   help="with --mine-with: score of a false detection worth a crop")
    args = p.parse_args(argv)
    import cv2
    import tensorflow as tf

    from common.atomic import atomic_path
    from common.errors import UserError
    from data_prep.annotations import ImageAnn
    from data_prep.tfrecords import build_example
    from evaluation.false_positives import crops_from_records

    if not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be in (0, 1), got {args.threshold}")
    detector = None
    if args.mine_with:
        from detect.detector import Detector
        detector = Detector(args.mine_with)
    out = Path(args.out) / "records"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in args.sets:
        before = total
        files = sorted(glob.glob(f"{args.data}/{name}/records/train.record-*"))
        target = out / f"train-{name}.record"
        with atomic_path(target) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
            crops = (mined_crops(files, detector, args.threshold) if detector
                     else crops_from_records(files, args.per_image))
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


if __name__ == "__main__":
    sys.exit(run_main(main))
