"""Run a model over eval records and score it with pycocotools (via `evaluation`).

The TensorFlow half of evaluation (evaluate.py and train.py --eval-every use it);
`evaluation/__init__.py` does not import it, so `import evaluation` stays TensorFlow-free.

Images are resized to the model's input size in tf.data and batched; boxes
come back normalised and are scaled to each image's original pixels, so the
groundtruth is scored at the resolution it was labelled in.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.errors import UserError
from config import paths
from data_prep.label_map import read_label_map
from detect.detections import SCORE_THRESHOLD
from evaluation import compute_metrics, format_summary, plot_pr_curves, write_metrics_json
from evaluation.error_breakdown import error_breakdown, format_breakdown
from ssd import padding
from ssd.model import preprocess_images
from training.inputs import ExampleDecoder

log = logging.getLogger(__name__)


def eval_record_patterns(pipeline, split_name: str = "eval") -> list[str]:
    """The eval_input_reader paths, or the same paths with `eval` swapped for `test`."""
    readers = list(pipeline.eval_input_reader)
    if not readers:
        raise UserError("eval_input_reader: not set in the pipeline config")
    patterns = list(readers[0].tf_record_input_reader.input_path)
    if split_name == "eval":
        return patterns
    swapped = [re.sub(r"(^|/)eval(?=[._-])", rf"\g<1>{split_name}", p) for p in patterns]
    if swapped == patterns:
        raise UserError(f"--split {split_name}: cannot derive {split_name} records from "
                        f"eval_input_reader paths {patterns}; pass --records")
    return swapped


def label_names(pipeline) -> list[str]:
    readers = list(pipeline.eval_input_reader)
    reader, field = ((readers[0], "eval_input_reader") if readers and readers[0].label_map_path
                     else (pipeline.train_input_reader, "train_input_reader"))
    if not reader.label_map_path:
        return [f"class_{i}" for i in range(1, pipeline.model.ssd.num_classes + 1)]
    path = paths.label_map_path(reader, field)
    if not path.exists():
        raise UserError(f"{field}.label_map_path: {path} does not exist")
    return read_label_map(path)


def _groundtruth(image_id: str, height: int, width: int, boxes, classes, ignore) -> dict:
    """Normalised (ymin, xmin, ymax, xmax) record boxes -> the `evaluation` pixel xyxy format."""
    valid = classes > 0   # padded rows have class 0
    scale = np.array([width, height, width, height], np.float32)
    return {"image_id": image_id, "height": height, "width": width,
            "boxes": boxes[valid][:, [1, 0, 3, 2]] * scale,
            "classes": classes[valid], "difficult": ignore[valid]}


def run_exported(detector, files: Sequence[str], max_examples: int = 0):
    """Like run_detector, for an exported model loaded by `detect.Detector` (any format)."""
    ds = tf.data.TFRecordDataset(list(files))
    if max_examples:
        ds = ds.take(max_examples)
    ds = ds.map(ExampleDecoder(), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    for counter, ex in enumerate(ds):
        rgb = ex["image"].numpy()
        h, w = rgb.shape[:2]
        image_id = f"{counter}:{ExampleDecoder.name(ex['filename'], ex['source_id'])}"
        det = detector.detect_rgb(rgb)
        yield (_groundtruth(image_id, h, w, ex["boxes"].numpy(), ex["classes"].numpy(),
                            ex["ignore"].numpy()),
               {"image_id": image_id, "boxes": det.boxes, "scores": det.scores,
                "classes": det.classes.astype(np.int64)})


def run_detector(model, files: Sequence[str], batch_size: int = 8, max_examples: int = 0):
    """Yield (groundtruth, detection) dicts in the `evaluation` list-of-dicts format."""
    decoder = ExampleDecoder()
    size = model.config.input_size

    def prepare(serialized):
        ex = decoder(serialized)
        shape = tf.shape(ex["image"])
        image, left, total = ex["image"], 0, shape[1]
        if model.config.pad_narrower_images:
            image, left, total = padding.pad_columns(image, size)
        return {"image": preprocess_images(image[None], size)[0], "left": left, "total": total,
                "height": shape[0], "width": shape[1], "source_id": ex["source_id"],
                "filename": ex["filename"]}, ex["boxes"], ex["classes"], ex["ignore"]

    ds = tf.data.TFRecordDataset(list(files))
    if max_examples:
        ds = ds.take(max_examples)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)

    @tf.function
    def detect(images):
        return model.postprocess(model(images, training=False))

    counter = 0
    for features, boxes, classes, ignore in ds:
        out = {k: v.numpy() for k, v in detect(features["image"]).items()}
        for i in range(features["image"].shape[0]):
            h, w = int(features["height"][i]), int(features["width"][i])
            scale = np.array([w, h, w, h], np.float32)
            n = int(out["num_detections"][i])
            det_boxes = padding.boxes_out_of_padded(out["detection_boxes"][i, :n], w,
                                                    int(features["left"][i]), int(features["total"][i]))
            det_boxes = det_boxes[:, [1, 0, 3, 2]] * scale
            name = ExampleDecoder.name(features["filename"][i], features["source_id"][i])
            image_id = f"{counter}:{name}"
            counter += 1
            yield (_groundtruth(image_id, h, w, boxes[i].numpy(), classes[i].numpy(),
                                ignore[i].numpy()),
                   {"image_id": image_id, "boxes": det_boxes,
                    "scores": out["detection_scores"][i, :n],
                    "classes": out["detection_classes"][i, :n].astype(np.int64) + 1})


def evaluate_model(pipeline, model, out_dir: Path | None, split_name: str = "eval",
                   records: Sequence[str] | None = None, max_examples: int = 0,
                   extra: dict | None = None, detector=None, bootstrap: int = 0,
                   score_threshold: float = SCORE_THRESHOLD) -> dict:
    """Score `model` (an SSDDetector) or, when given, `detector` (a detect.Detector
    over an exported model) on the eval records; write metrics.json + pr_curve.png.
    bootstrap: image redraws for AP@0.5's 95% interval (0: none). score_threshold:
    where `errors` (evaluation.error_breakdown) counts found hands and false detections."""
    patterns = list(records) if records else eval_record_patterns(pipeline, split_name)
    files = paths.expand_patterns(patterns, "eval records", unique=True)
    if not max_examples and pipeline.eval_config.num_examples:
        max_examples = pipeline.eval_config.num_examples
    names = label_names(pipeline)
    started = time.time()
    pairs = (run_exported(detector, files, max_examples) if detector is not None
             else run_detector(model, files, max_examples=max_examples))
    groundtruths, detections = [], []
    for gt, det in tqdm(pairs, desc=f"eval[{split_name}]", unit="img", disable=None):
        groundtruths.append(gt)
        detections.append(det)
    if not groundtruths:
        raise UserError(f"eval records {patterns}: no examples")
    metrics = compute_metrics(groundtruths, detections, names, bootstrap=bootstrap)
    metrics["errors"] = error_breakdown(groundtruths, detections, score_threshold)
    elapsed = time.time() - started
    log.info("evaluation on %d %s images (%.1f s):\n%s\n%s", len(groundtruths), split_name,
             elapsed, format_summary(metrics), format_breakdown(metrics["errors"]))
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        info = {"split": split_name, "records": patterns, "num_images": len(groundtruths),
                "eval_seconds": round(elapsed, 1), **(extra or {})}
        write_metrics_json(metrics, out_dir / "metrics.json", extra=info)
        plot_pr_curves(metrics, out_dir / "pr_curve.png", title=f"{split_name}: AP@0.5")
        log.info("wrote %s and %s", out_dir / "metrics.json", out_dir / "pr_curve.png")
    return metrics
