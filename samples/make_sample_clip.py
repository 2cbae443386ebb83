#!/usr/bin/env python3
"""Build samples/hands_sample.mp4 from real frames in ../shared/data (see ATTRIBUTION.md).

Both parts come from groups held out of the shipped model's training (webcam
session 996, EgoHands video CARDS_OFFICE_S_B), so the demo shows the detector
on people and scenes it never saw.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2

SIZE = (320, 240)
FPS = 10


def center_crop_4x3(image):
    h, w = image.shape[:2]
    new_w = min(w, h * 4 // 3)
    x0 = (w - new_w) // 2
    return image[:, x0:x0 + new_w]


def frames(shared: Path):
    webcam = sorted((shared / "webcam_hands" / "images").glob("996_pic*.jpg"))
    yield from webcam[:80]
    ego = sorted((shared / "egohands_frames" / "images").glob("CARDS_OFFICE_S_B_frame_*.jpg"))
    yield from ego[:40]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "hands_sample.mp4"))
    args = p.parse_args()
    tmp = Path(args.out).with_suffix(".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    count = 0
    for path in frames(Path(args.shared)):
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"error: {path}: cannot read")
        writer.write(cv2.resize(center_crop_4x3(image), SIZE, interpolation=cv2.INTER_AREA))
        count += 1
    writer.release()
    tmp.replace(args.out)
    print(f"wrote {args.out}: {count} frames, {count / FPS:.1f} s at {FPS} fps, {SIZE[0]}x{SIZE[1]}")


if __name__ == "__main__":
    main()
