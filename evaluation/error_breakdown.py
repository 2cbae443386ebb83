"""What the detections at the operating threshold get wrong, by kind.

AP says how well a model ranks; it does not say why it loses. Two models with the
same AP can fail in different ways: one fires on chair legs, the other boxes a
finger inside a hand that it also finds whole. The kinds need different fixes
(hard negatives against background; crop augmentation against part-of-hand
boxes), so every evaluation counts them, in the spirit of TIDE (Bolya et al.,
2020), at the score a game uses (`detect`'s default 0.5):

  * found: a labelled hand matched at IoU >= 0.5 (greedy by score, as COCO does);
  * duplicate: IoU >= 0.5 with a hand an earlier detection already matched;
  * part_of_hand: at least 80% of the detection lies inside a labelled hand, but
    IoU < 0.5 (a finger, a fist without the rest);
  * mislocated: touches a hand (IoU >= 0.1) without being part of it (hand and
    forearm, two hands in one box);
  * background: IoU < 0.1 with every hand (furniture, faces, elbows).
Detections on `difficult` (ignore) boxes, at IoU >= 0.5 or mostly inside them,
count as none of these, as in coco_metrics. Missed hands are split by COCO's
box-size bands, because small, far hands are where the models differ most.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from detect.detections import SCORE_THRESHOLD, box_overlaps

MATCH_IOU = 0.5
TOUCH_IOU = 0.1
INSIDE = 0.8
KINDS = ("background", "part_of_hand", "mislocated", "duplicate")
SIZE_BANDS = (("small", 0.0, 32.0 ** 2), ("medium", 32.0 ** 2, 96.0 ** 2),
              ("large", 96.0 ** 2, float("inf")))
WORST = 10


def _area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def _size_band(area: float) -> str:
    return next(name for name, low, high in SIZE_BANDS if low <= area < high)


def error_breakdown(groundtruths: Sequence[Mapping[str, Any]],
                    detections: Sequence[Mapping[str, Any]],
                    score_threshold: float = SCORE_THRESHOLD) -> dict:
    """Counts of found / missed hands and of false detections by kind (module docstring),
    over images in the `evaluation` list-of-dicts format (pixel xyxy boxes; one class,
    or every class pooled: a hand box is a hand box whichever hand it is)."""
    dets_by_image = {d["image_id"]: d for d in detections}
    found = 0
    missed = {name: 0 for name, _, _ in SIZE_BANDS}
    hands = {name: 0 for name, _, _ in SIZE_BANDS}
    false = {kind: 0 for kind in KINDS}
    worst: list[dict] = []
    for gt in groundtruths:
        boxes = np.asarray(gt["boxes"], np.float64).reshape(-1, 4)
        ignore = np.asarray(gt.get("difficult", np.zeros(len(boxes), bool)), bool).reshape(-1)
        hand_boxes, ignore_boxes = boxes[~ignore], boxes[ignore]
        det = dets_by_image.get(gt["image_id"], {})
        det_boxes = np.asarray(det.get("boxes", np.zeros((0, 4))), np.float64).reshape(-1, 4)
        scores = np.asarray(det.get("scores", np.zeros(0)), np.float64).reshape(-1)
        matched = np.zeros(len(hand_boxes), bool)
        hand_iou, hand_inside = box_overlaps(det_boxes, hand_boxes)
        ignore_iou, ignore_inside = box_overlaps(det_boxes, ignore_boxes)
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] < score_threshold:
                break
            iou, inside = hand_iou[i], hand_inside[i]
            free = np.where(matched, -1.0, iou)
            if len(free) and free.max() >= MATCH_IOU:
                matched[int(free.argmax())] = True
                continue
            if len(ignore_boxes) and (ignore_iou[i].max() >= MATCH_IOU
                                      or ignore_inside[i].max() >= INSIDE):
                continue
            best_iou = iou.max() if len(iou) else 0.0
            if best_iou >= MATCH_IOU:
                kind = "duplicate"
            elif len(inside) and inside.max() >= INSIDE:
                kind = "part_of_hand"
            elif best_iou >= TOUCH_IOU:
                kind = "mislocated"
            else:
                kind = "background"
            false[kind] += 1
            worst.append({"image_id": gt["image_id"], "score": round(float(scores[i]), 3),
                          "kind": kind, "box": [round(float(v), 1) for v in det_boxes[i]]})
        found += int(matched.sum())
        for box, hit in zip(hand_boxes, matched):
            band = _size_band(_area(box))
            hands[band] += 1
            missed[band] += int(not hit)
    worst.sort(key=lambda w: -w["score"])
    return {"score_threshold": score_threshold, "images": len(groundtruths),
            "hands": sum(hands.values()), "found": found,
            "missed": sum(missed.values()), "missed_by_size": missed, "hands_by_size": hands,
            "false": sum(false.values()), "false_by_kind": false,
            "false_per_image": round(sum(false.values()) / max(1, len(groundtruths)), 4),
            "worst": worst[:WORST]}


def format_breakdown(errors: Mapping[str, Any]) -> str:
    """Two console lines: hands found and missed by size, false detections by kind."""
    by_size = ", ".join(f"{name} {errors['missed_by_size'][name]}/{errors['hands_by_size'][name]}"
                        for name, _, _ in SIZE_BANDS)
    by_kind = ", ".join(f"{kind} {errors['false_by_kind'][kind]}" for kind in KINDS)
    return (f"at score {errors['score_threshold']}: found {errors['found']}/{errors['hands']} hands "
            f"(missed {by_size})\n"
            f"false detections {errors['false']} ({errors['false_per_image']:.3f}/image): {by_kind}")
