"""False detections per image on hand-free crops of held-out images.

AP rewards ranking; a game reading "is there a hand" needs the model to stay
quiet where there is none. Each held-out image yields up to `per_image` square
crops that touch no box (hands and ignore regions, each grown by `margin`),
taken from the image's own scene (furniture, faces, arms, screens), so the
figure measures the scenes the model will see rather than an unrelated
negative set. A detection at score >= threshold on a crop is a false positive.
`--on faces` counts false detections on faces instead (evaluation/faces.py).

    python3 -m evaluation.false_positives --model exported_models/handtrack_default \\
        --records 'data/webcam_hands/records/eval.record-*' --out fp.json \\
        --groups data/webcam_hands/eval_labels.csv     # also per capture session
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from common.cli import int_at_least, parse_command_line, run_main

CROP_SIDES = (0.5, 0.35, 0.25)   # crop side as a fraction of the image's shorter side
MIN_CROP_PX = 64


def hand_free_crops(height: int, width: int, boxes: np.ndarray, per_image: int = 2,
                    margin: float = 0.1) -> list[tuple[int, int, int, int]]:
    """Up to `per_image` squares (y0, x0, y1, x1) in pixels that overlap no box.

    boxes: [N, 4] normalised (ymin, xmin, ymax, xmax). The largest crop size
    that fits is preferred; several crops are picked far apart. Deterministic.
    """
    grown = _grown_pixel_boxes(height, width, boxes, margin)
    chosen: list[tuple[int, int, int, int]] = []
    for fraction in CROP_SIDES:
        side = int(min(height, width) * fraction)
        if side < MIN_CROP_PX:
            continue
        stride = max(1, side // 4)
        free = [(y, x, y + side, x + side)
                for y in range(0, height - side + 1, stride)
                for x in range(0, width - side + 1, stride)
                if _free((y, x, y + side, x + side), grown)]
        while free and len(chosen) < per_image:
            if not chosen:
                pick = free[len(free) // 2]
            else:   # farthest from the crops already chosen
                pick = max(free, key=lambda c: min(abs(c[0] - o[0]) + abs(c[1] - o[1])
                                                   for o in chosen))
            chosen.append(pick)
            free = [c for c in free if c[2] <= pick[0] or c[0] >= pick[2]
                    or c[3] <= pick[1] or c[1] >= pick[3]]
        if len(chosen) >= per_image:
            break
    return chosen


def _grown_pixel_boxes(height: int, width: int, boxes: np.ndarray,
                       margin: float) -> list[tuple[float, float, float, float]]:
    grown = []
    for ymin, xmin, ymax, xmax in np.asarray(boxes, np.float64).reshape(-1, 4):
        dy, dx = (ymax - ymin) * margin, (xmax - xmin) * margin
        grown.append(((ymin - dy) * height, (xmin - dx) * width,
                      (ymax + dy) * height, (xmax + dx) * width))
    return grown


def _free(crop: tuple[int, int, int, int], grown) -> bool:
    y0, x0, y1, x1 = crop
    return all(y1 <= b[0] or y0 >= b[2] or x1 <= b[1] or x0 >= b[3] for b in grown)


def crops_around(height: int, width: int, boxes: np.ndarray, targets: np.ndarray,
                 margin: float = 0.1, context: Sequence[float] = (3.0, 2.0, 1.5)
                 ) -> list[tuple[int, int, int, int]]:
    """One square (y0, x0, y1, x1) per target that holds it whole with some of its
    surroundings and overlaps no box (grown by `margin`), or none for that target.

    Why: random hand-free crops rarely hold what fools the model (one brown
    armchair in a webcam session scored 0.94); a crop centred on the model's own
    confident false detection on a training image shows it exactly that, framed
    as the detector will see it. targets: [M, 4] pixel (ymin, xmin, ymax, xmax).
    The square's side is `context` times the target's longer side (largest first),
    shifted inside the image; a target no square can isolate is skipped.
    """
    grown = _grown_pixel_boxes(height, width, boxes, margin)
    chosen: list[tuple[int, int, int, int]] = []
    for ty0, tx0, ty1, tx1 in np.asarray(targets, np.float64).reshape(-1, 4):
        cy, cx, longer = (ty0 + ty1) / 2, (tx0 + tx1) / 2, max(ty1 - ty0, tx1 - tx0)
        for factor in context:
            side = int(min(max(longer * factor, MIN_CROP_PX), height, width))
            if side < max(MIN_CROP_PX, longer):
                continue
            y0 = int(min(max(cy - side / 2, 0), height - side))
            x0 = int(min(max(cx - side / 2, 0), width - side))
            crop = (y0, x0, y0 + side, x0 + side)
            if _free(crop, grown):
                chosen.append(crop)
                break
    return chosen


def crops_from_records(files: Sequence[str], per_image: int = 2) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB uint8 crop) for every hand-free crop of every record."""
    from training.inputs import ExampleDecoder

    for name, image, boxes in ExampleDecoder().images(files):
        h, w = image.shape[:2]
        for i, (y0, x0, y1, x1) in enumerate(hand_free_crops(h, w, boxes, per_image)):
            yield f"{name}#{i}", np.ascontiguousarray(image[y0:y1, x0:x1])


def count_false_positives(detector, files: Sequence[str], threshold: float = 0.5,
                          per_image: int = 2, examples_dir: Path | None = None,
                          group_of: Callable[[str], str] | None = None) -> dict:
    """Run `detector.detect_rgb` on every hand-free crop; count detections >= threshold.

    With `examples_dir`, the crops with false detections are saved there with
    the boxes drawn (up to 12), for a person to look at what fooled the model.
    With `group_of` (image name -> its video or session), the counts are also given
    per group: crops of consecutive frames show one object again and again (one
    person's shoulder made 17 of v4's 24 webcam false detections), and a total
    cannot tell that from 24 different objects.
    """
    crops = fps = 0
    worst: list[tuple[float, str]] = []
    by_group: dict[str, dict[str, int]] = {}
    saved = 0
    for name, crop in crops_from_records(files, per_image):
        found = detector.detect_rgb(crop).filter(threshold)
        crops += 1
        fps += len(found)
        if group_of is not None:
            counts = by_group.setdefault(group_of(name.rsplit("#", 1)[0]),
                                         {"crops": 0, "false_positives": 0})
            counts["crops"] += 1
            counts["false_positives"] += len(found)
        if len(found):
            worst.append((float(found.scores.max()), name))
            if examples_dir is not None and saved < 12:
                save_example(examples_dir, name, crop, found)
                saved += 1
    worst.sort(reverse=True)
    result = {"crops": crops, "false_positives": fps, "threshold": threshold,
              "fp_per_image": round(fps / crops, 4) if crops else None,
              "crops_with_fp": len(worst), "top": [{"score": round(s, 3), "crop": n}
                                                   for s, n in worst[:10]]}
    if group_of is not None:   # most false detections first
        result["by_group"] = dict(sorted(by_group.items(),
                                         key=lambda kv: (-kv[1]["false_positives"], kv[0])))
    return result


def groups_from_csv(csv_path: str) -> Callable[[str], str]:
    """Image name -> group, from a labels CSV the importer wrote (<out>/<split>_labels.csv,
    its images in <out>/images/<split>/); an image the CSV lacks is a user error."""
    from common.errors import UserError
    from data_prep.annotations import read_csv

    path = Path(csv_path)
    if not path.name.endswith("_labels.csv"):
        raise UserError(f"--groups: expected the importer's <split>_labels.csv, got {path}")
    images = path.parent / "images" / path.name.removesuffix("_labels.csv")
    groups = {ann.filename: ann.group for ann in read_csv(path, images)}

    def group_of(name: str) -> str:
        if name not in groups:
            raise UserError(f"--groups: {name} is not in {path}")
        return groups[name]
    return group_of


def save_example(folder: Path, name: str, crop_rgb: np.ndarray, found) -> None:
    """PNG of an image with its detections drawn, for a person to look at."""
    import cv2

    from common.atomic import atomic_write_bytes
    from detect.drawing import draw_detections

    bgr = draw_detections(cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR), found)
    ok, png = cv2.imencode(".png", bgr)
    if ok:
        target = folder / (name.replace("/", "_").replace("#", "_") + ".png")
        atomic_write_bytes(target, png.tobytes())


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python3 -m evaluation.false_positives",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="exported model folder or file")
    p.add_argument("--format", default=None, help="exported format (default: the detector's choice)")
    p.add_argument("--records", nargs="+", required=True, help="TFRecord files/globs (held-out images)")
    p.add_argument("--threshold", type=float, default=0.5, help="score that counts as a detection")
    p.add_argument("--per-image", type=int_at_least(1), default=2, help="crops per image")
    p.add_argument("--on", choices=("hand-free", "faces"), default="hand-free",
                   help="hand-free: crops away from every box; faces: detections on faces "
                        "in the whole frame (evaluation/faces.py, needs mtcnn)")
    p.add_argument("--out", required=True, help="JSON file for the counts")
    p.add_argument("--examples", default=None, help="folder for PNGs of crops with false detections")
    p.add_argument("--groups", default=None, metavar="CSV",
                   help="the records' labels CSV as the importer wrote it (e.g. "
                        "data/webcam_hands/eval_labels.csv): also count per video or session")
    return parse_command_line(p, argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from common.atomic import atomic_write_text
    from common.errors import UserError
    from config.paths import expand_patterns
    from detect.detector import Detector

    if not 0.0 < args.threshold <= 1.0:
        raise UserError(f"--threshold must be in (0, 1], got {args.threshold}")
    if args.groups and args.on == "faces":
        raise UserError("--groups counts hand-free crops per group; it cannot go with --on faces")
    files = expand_patterns(args.records, "--records", unique=True)
    group_of = groups_from_csv(args.groups) if args.groups else None
    detector = Detector(args.model, format=args.format)
    examples = Path(args.examples) if args.examples else None
    try:
        if args.on == "faces":
            from evaluation.faces import count_face_false_positives
            result = count_face_false_positives(detector, files, args.threshold,
                                                examples_dir=examples)
            summary = (f"{result['faces']} faces in {result['frames_with_faces']} frames, "
                       f"{result['false_positives']} false detections on them "
                       f"(score >= {args.threshold}): {result['fp_per_face']} per face")
        else:
            result = count_false_positives(detector, files, args.threshold, args.per_image,
                                           examples, group_of)
            summary = (f"{result['crops']} hand-free crops, {result['false_positives']} false "
                       f"detections (score >= {args.threshold}): {result['fp_per_image']} per image")
            if result.get("by_group") and result["false_positives"]:
                group, most = next(iter(result["by_group"].items()))
                summary += (f"; {most['false_positives']} of them in group {group} "
                            f"({most['crops']} crops)")
    finally:
        detector.close()
    result.update(model=str(args.model), format=detector.format, records=args.records)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
