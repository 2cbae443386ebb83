#!/usr/bin/env python3
"""Hand-free crops of the TRAINING images as negative records (no boxes).

Why: v2 fires on faces, necks and dark objects that a crop shows large (see
experiments/d_v2_all_sets/false_positive_examples). The OD API's hard example
miner only sees negatives inside images that also hold hands; crops without
any hand, from the same scenes, teach "nothing here" directly. Only training
images are cut, so the held-out false-positive figures stay honest.

    python3 experiments/make_negatives.py --out data/negatives
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
    args = p.parse_args(argv)
    import cv2
    import tensorflow as tf

    from common.atomic import atomic_path
    from data_prep.annotations import ImageAnn
    from data_prep.tfrecords import build_example
    from evaluation.false_positives import crops_from_records

    out = Path(args.out) / "records"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in SETS:
        files = sorted(glob.glob(f"{args.data}/{name}/records/train.record-*"))
        target = out / f"train-{name}.record"
        with atomic_path(target) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
            for crop_name, crop in crops_from_records(files, args.per_image):
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 92])
                h, w = crop.shape[:2]
                ann = ImageAnn(f"neg_{name}_{crop_name.replace('#', '_')}", target, w, h,
                               f"neg_{name}", [])
                writer.write(build_example(ann, jpeg.tobytes(), "jpeg", {"hand": 1})
                             .SerializeToString())
                total += 1
        print(f"{target}: negatives from {name}")
    print(f"{total} negative crops in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
