"""End-to-end proof of the detection-checkpoint mapping, anchors, box decoding and NMS.

The COCO SSD-MobileNet v1 0.75 checkpoint in ../shared must reproduce the
detections the original model made on table.jpg (table_results.txt). The
reference was made on Android by drawing the 640x480 picture onto a 300x300
canvas without filtering, i.e. nearest-neighbour sampling src = floor(dst*640/300).
"""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
cv2 = pytest.importorskip("cv2")

from ssd.specs import SsdConfig
from ssd.model import SSDDetector
from training.checkpoints import restore_zoo_checkpoint


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.fixture(scope="module")
def coco_dir(shared_dir):
    path = shared_dir / "weights" / "ssd_mobilenet_v1_0.75_depth_coco"
    if not (path / "model.ckpt.index").exists():
        pytest.skip("COCO checkpoint not in ../shared")
    return path


def test_coco_checkpoint_reproduces_reference_detections(coco_dir):
    model = SSDDetector(SsdConfig(num_classes=90, depth_multiplier=0.75, min_depth=16))
    report = restore_zoo_checkpoint(model, coco_dir / "model.ckpt", "detection")
    assert len(report.restored) == 199 and not report.skipped

    image = cv2.cvtColor(cv2.imread(str(coco_dir / "table.jpg")), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    rows = np.floor(np.arange(300) * height / 300).astype(int)
    cols = np.floor(np.arange(300) * width / 300).astype(int)
    resized = image[rows][:, cols].astype(np.float32)
    out = model.postprocess(model(resized[None] * (2.0 / 255.0) - 1.0, training=False))

    labels = (coco_dir / "labelmap.txt").read_text().splitlines()
    n = int(out["num_detections"][0])
    found = []
    for i in range(n):
        ymin, xmin, ymax, xmax = out["detection_boxes"][0, i].numpy() * [height, width, height, width]
        found.append((labels[int(out["detection_classes"][0, i]) + 1].replace(" ", "_"),
                      (xmin, ymin, xmax, ymax), float(out["detection_scores"][0, i])))

    for line in (coco_dir / "table_results.txt").read_text().splitlines():
        name, *box, score = line.split()
        box, score = [float(v) for v in box], float(score)
        matches = [(iou(box, b), s) for label, b, s in found if label == name]
        best = max(matches, default=(0.0, 0.0))
        assert best[0] >= 0.8 and abs(best[1] - score) <= 0.06, (name, best, score)
