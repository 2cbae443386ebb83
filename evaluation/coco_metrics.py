"""COCO-style detection metrics from plain Python lists, computed by pycocotools.

Why pycocotools rather than our own AP code: the numbers must be comparable with
published COCO/TF-OD results (101-point interpolation, area ranges, maxDets=100),
and re-implementing that invites subtle differences. We only adapt our simple
list-of-dicts API to in-memory COCO datasets and keep pycocotools' stdout chatter
out of the console (it goes to this module's logger at DEBUG).

Difficult boxes: pycocotools' `COCOeval._prepare` overwrites every gt's `ignore`
key with its `iscrowd` flag (`gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']`),
so an `ignore: 1` in the dataset is silently dropped. Marking difficult boxes as
`iscrowd=1` instead would change their IoU to intersection-over-detection-area
and let any number of detections match them. We therefore subclass COCOeval and
re-apply our own `difficult` flag after `_prepare`: a detection matched to a
difficult box is ignored (neither TP nor FP), and a missed difficult box is not
counted as a miss. A second detection on an already-matched difficult box is a
false positive, as for any other COCO ignore region that is not a crowd.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from common.errors import UserError

logger = logging.getLogger(__name__)

# Order of COCOeval.stats for iouType="bbox" (see COCOeval.summarize).
_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
               "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


class _DifficultAwareCOCOeval(COCOeval):
    """COCOeval that treats gt annotations with `difficult=1` as ignore regions.

    See the module docstring for why `ignore`/`iscrowd` in the dataset do not work.
    """

    def _prepare(self) -> None:
        super()._prepare()
        for gts in self._gts.values():
            for gt in gts:
                if gt.get("difficult"):
                    gt["ignore"] = 1


@contextlib.contextmanager
def _pycocotools_output_to_log() -> Iterator[None]:
    """Capture pycocotools' print() calls and log them at DEBUG.

    pycocotools prints progress ("creating index...", "DONE (t=0.01s)") and the
    summary table to stdout; in a training loop that is noise between our own
    log lines. Note: redirect_stdout swaps the process-wide sys.stdout, so other
    threads printing during evaluation are captured too (and logged).
    """
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        text = buf.getvalue().strip()
        if text:
            logger.debug("pycocotools output:\n%s", text)


def _boxes(value: Any, where: str) -> np.ndarray:
    """Return a float64 [N,4] array; an empty list or shape-(0,) array is N=0."""
    arr = np.asarray(value if value is not None else [], dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise UserError(f"{where}: boxes must have shape [N, 4], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{where}: boxes contain NaN or infinity")
    if np.any(arr[:, 2] < arr[:, 0]) or np.any(arr[:, 3] < arr[:, 1]):
        raise UserError(f"{where}: boxes must be (xmin, ymin, xmax, ymax) with "
                        "xmax >= xmin and ymax >= ymin")
    return arr


def _vector(value: Any, n: int, where: str, name: str, dtype: Any) -> np.ndarray:
    """Return a 1-D array of length n, or raise naming the field."""
    arr = np.asarray(value if value is not None else [], dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise UserError(f"{where}: {name} has {arr.shape[0]} entries but there are {n} boxes")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{where}: {name} contain NaN or infinity")
    if dtype is int:
        if np.any(arr != np.round(arr)):
            raise UserError(f"{where}: {name} must be whole numbers")
        return arr.astype(np.int64)
    return arr.astype(dtype)


def _check_classes(classes: np.ndarray, num_classes: int, where: str) -> None:
    bad = classes[(classes < 1) | (classes > num_classes)]
    if bad.size:
        raise UserError(f"{where}: class {int(bad[0])} is outside 1..{num_classes} "
                        "(classes are 1-based indices into class_names)")


def _xywh(box: np.ndarray) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def _coco_from_dataset(dataset: dict) -> COCO:
    """Build a COCO api object from an in-memory dict (COCO() only reads files)."""
    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _mean_valid(values: np.ndarray) -> float:
    """COCO's convention: average entries > -1; -1 when there are none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _ap50_interval(evaluator: COCOeval, samples: int, seed: int) -> list[float]:
    """95% percentile-bootstrap interval of AP@0.5 over the evaluated images.

    Why: held-out sets here are 100-400 images, so two models 0.007 apart in AP@0.5
    may not differ at all, and a model choice should not rest on such a gap.
    Sample s redraws the images with replacement (the s-th
    `default_rng(seed).integers(0, n, n)`) and re-runs pycocotools' own
    `accumulate` on the per-image matches `evaluate` already made (matching is
    per image, so it does not change), so the interval is COCO's AP, not a second
    implementation of it. Frames of one video are not independent: the interval is
    a lower bound on the uncertainty about an unseen video.
    """
    pe = evaluator._paramsEval
    num_images, num_areas = len(pe.imgIds), len(pe.areaRng)
    area_all = list(evaluator.params.areaRngLbl).index("all")
    params = copy.deepcopy(evaluator.params)
    params.areaRng, params.areaRngLbl, params.maxDets = [params.areaRng[area_all]], ["all"], [100]
    params.imgIds = list(range(num_images))   # distinct ids: a redrawn image counts twice
    boot = copy.copy(evaluator)
    boot._paramsEval = copy.deepcopy(pe)
    boot._paramsEval.imgIds = params.imgIds
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        draw = rng.integers(0, num_images, num_images)
        # accumulate reads evalImgs[k * areas * images + area * images + image] and,
        # with params' single area range, takes area slot 0.
        layout: list[Any] = [None] * (len(pe.catIds) * num_areas * num_images)
        for k in range(len(pe.catIds)):
            src, dst = (k * num_areas + area_all) * num_images, k * num_areas * num_images
            for j, i in enumerate(draw):
                layout[dst + j] = evaluator.evalImgs[src + i]
        boot.evalImgs = layout
        with _pycocotools_output_to_log():
            boot.accumulate(params)
        values.append(_mean_valid(np.asarray(boot.eval["precision"])[0, :, :, 0, 0]))
    return [float(v) for v in np.percentile(values, [2.5, 97.5])]


def compute_metrics(groundtruths: Sequence[Mapping[str, Any]],
                    detections: Sequence[Mapping[str, Any]],
                    class_names: Sequence[str], bootstrap: int = 0,
                    seed: int = 0) -> dict[str, Any]:
    """Evaluate detections against groundtruth with COCO's bbox protocol.

    Args:
      groundtruths: one dict per eval image: `image_id` (str or int, unique),
        `height`, `width`, `boxes` [N,4] pixel (xmin, ymin, xmax, ymax),
        `classes` [N] 1-based, optional `difficult` [N] bool. Images with no
        boxes are valid: every detection on them is a false positive.
      detections: dicts with `image_id` (must appear in groundtruths), `boxes`
        [M,4] pixel xyxy, `scores` [M], `classes` [M] 1-based. Images without an
        entry simply have no detections; several entries for one image are
        concatenated. COCO keeps at most 100 detections per image and class.
      class_names: names for classes 1..K, in order.

    Returns a dict with COCO's `AP` (IoU .5:.95), `AP50`, `AP75`, `APs/APm/APl`,
    `AP50s/AP50m/AP50l` (AP@0.5 per box size),
    `AR1/AR10/AR100`, `ARs/ARm/ARl` (-1 where COCO has nothing to average, e.g.
    no small objects, or no groundtruth at all), `num_images`,
    `num_groundtruth` (including difficult), `num_difficult`, `num_detections`,
    `per_class` ({name: {AP50, AP, num_groundtruth}}, only when K > 1;
    num_groundtruth there excludes difficult boxes; a class with no groundtruth
    gets AP -1 and, as in COCO, its detections affect nothing),
    and `pr_curve` = {`iou`: 0.5, `recall`: [101] array, `precision`: {name:
    [101] array}}: COCO's interpolated precision at the recall thresholds
    0, 0.01, ..., 1 (area all, maxDets 100; -1 for a class without groundtruth).
    With `bootstrap` > 0 also `AP50_ci95` = [low, high]: the 95% interval of
    AP@0.5 over that many redraws of the images (seeded; see _ap50_interval).
    """
    names = [str(n) for n in class_names]
    if not names:
        raise UserError("class_names is empty")
    num_classes = len(names)
    if len(groundtruths) == 0:
        raise UserError("no groundtruth images to evaluate")

    images: list[dict] = []
    gt_anns: list[dict] = []
    image_index: dict[Any, int] = {}
    max_gt_coord = 0.0
    max_image_side = 0
    for gt in groundtruths:
        image_id = gt["image_id"]
        where = f"groundtruth for image {image_id!r}"
        if image_id in image_index:
            raise UserError(f"{where}: image_id appears more than once")
        coco_image_id = len(images) + 1  # COCO ids are ints; our ids may be str
        image_index[image_id] = coco_image_id
        height, width = int(gt["height"]), int(gt["width"])
        images.append({"id": coco_image_id, "file_name": str(image_id),
                       "height": height, "width": width})
        max_image_side = max(max_image_side, height, width)

        boxes = _boxes(gt.get("boxes"), where)
        n = boxes.shape[0]
        classes = _vector(gt.get("classes"), n, where, "classes", int)
        _check_classes(classes, num_classes, where)
        difficult_raw = gt.get("difficult")
        difficult = (np.zeros(n, dtype=bool) if difficult_raw is None
                     else _vector(difficult_raw, n, where, "difficult", bool))
        if n:
            max_gt_coord = max(max_gt_coord, float(boxes.max()))
        for box, cls, diff in zip(boxes, classes, difficult):
            xywh = _xywh(box)
            gt_anns.append({
                "id": len(gt_anns) + 1,  # must be >= 1: COCOeval uses 0 for "unmatched"
                "image_id": coco_image_id,
                "category_id": int(cls),
                "bbox": xywh,
                "area": xywh[2] * xywh[3],
                "iscrowd": 0,
                "difficult": int(diff),
            })

    if gt_anns and max_gt_coord <= 1.5 and max_image_side > 2:
        logger.warning("all groundtruth boxes lie within [0, 1.5] although images are "
                       "up to %d px: are they normalized? compute_metrics expects pixels",
                       max_image_side)

    dt_anns: list[dict] = []
    per_image_class_counts: dict[tuple[int, int], int] = {}
    for det in detections:
        image_id = det["image_id"]
        where = f"detections for image {image_id!r}"
        if image_id not in image_index:
            raise UserError(f"{where}: image_id is not among the groundtruth images")
        coco_image_id = image_index[image_id]
        boxes = _boxes(det.get("boxes"), where)
        n = boxes.shape[0]
        scores = _vector(det.get("scores"), n, where, "scores", np.float64)
        classes = _vector(det.get("classes"), n, where, "classes", int)
        _check_classes(classes, num_classes, where)
        for box, score, cls in zip(boxes, scores, classes):
            xywh = _xywh(box)
            key = (coco_image_id, int(cls))
            per_image_class_counts[key] = per_image_class_counts.get(key, 0) + 1
            dt_anns.append({
                "id": len(dt_anns) + 1,  # must be >= 1, see above
                "image_id": coco_image_id,
                "category_id": int(cls),
                "bbox": xywh,
                "area": xywh[2] * xywh[3],
                "score": float(score),
                "iscrowd": 0,
            })
    crowded = sum(1 for c in per_image_class_counts.values() if c > 100)
    if crowded:
        logger.warning("%d image/class pairs have more than 100 detections; COCO "
                       "evaluates only the 100 highest-scoring of each", crowded)

    categories = [{"id": i + 1, "name": name} for i, name in enumerate(names)]
    with _pycocotools_output_to_log():
        # Built directly rather than via COCO.loadRes, which fails on an empty
        # result list and recomputes fields we already have.
        coco_gt = _coco_from_dataset({"images": images, "categories": categories,
                                      "annotations": gt_anns})
        coco_dt = _coco_from_dataset({"images": list(images), "categories": categories,
                                      "annotations": dt_anns})
        evaluator = _DifficultAwareCOCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()

    params = evaluator.params
    if not np.isclose(params.iouThrs[0], 0.5) or list(params.maxDets) != [1, 10, 100]:
        raise RuntimeError("unexpected pycocotools parameters; metrics would be mislabelled")
    m100 = list(params.maxDets).index(100)
    area_all = list(params.areaRngLbl).index("all")
    # precision: [iouThr T, recallThr R, class K, area A, maxDets M]
    precision = np.asarray(evaluator.eval["precision"])

    metrics: dict[str, Any] = {name: float(v) for name, v in zip(_STAT_NAMES, evaluator.stats)}
    # AP@0.5 per COCO box size (small < 32^2 px <= medium < 96^2 px <= large):
    # how far and near hands fare, at the IoU the model card reports.
    for label, key in (("small", "AP50s"), ("medium", "AP50m"), ("large", "AP50l")):
        metrics[key] = _mean_valid(precision[0, :, :, list(params.areaRngLbl).index(label), m100])
    metrics["num_images"] = len(images)
    metrics["num_groundtruth"] = len(gt_anns)
    metrics["num_difficult"] = sum(a["difficult"] for a in gt_anns)
    metrics["num_detections"] = len(dt_anns)

    gt_per_class = np.bincount([a["category_id"] for a in gt_anns if not a["difficult"]],
                               minlength=num_classes + 1)
    if num_classes > 1:
        metrics["per_class"] = {
            name: {
                "AP50": _mean_valid(precision[0, :, k, area_all, m100]),
                "AP": _mean_valid(precision[:, :, k, area_all, m100]),
                "num_groundtruth": int(gt_per_class[k + 1]),
            }
            for k, name in enumerate(names)
        }
    if bootstrap > 0:
        metrics["AP50_ci95"] = _ap50_interval(evaluator, bootstrap, seed)
    metrics["pr_curve"] = {
        "iou": float(params.iouThrs[0]),
        "recall": np.asarray(params.recThrs, dtype=np.float64).copy(),
        "precision": {name: precision[0, :, k, area_all, m100].astype(np.float64)
                      for k, name in enumerate(names)},
    }
    logger.debug("evaluated %d images, %d groundtruth, %d detections: AP50=%.4f AP=%.4f",
                 metrics["num_images"], metrics["num_groundtruth"],
                 metrics["num_detections"], metrics["AP50"], metrics["AP"])
    return metrics
