"""A tiny stand-in for the real SSD model, with the same three-method interface.

The export and detection code must not depend on the real model (it is being
written in parallel and is slow to build), so tests use this: real tf_keras
variables, real anchors + box decoding + NMS, 32x32 input, milliseconds per
frame. Its hand score is driven by the *red* channel only (bright red or white
cells score high, pure blue/green cells score ~0), which lets a test prove the
Detector converts OpenCV's BGR to the model's RGB exactly once.

Interface (the one `export_lib.make_inference_fn` expects):
  preprocess(uint8 [B,H,W,3]) -> float32 [B,32,32,3] in [-1, 1] (bilinear resize)
  __call__(x, training=False) -> {"box_encodings": [B,A,4], "class_logits": [B,A,2]}
  postprocess(outputs) -> OD-API detections, 0-based float classes
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras
from official.vision.utils.object_detection import box_list, faster_rcnn_box_coder

from ssd.postprocess import batched_nms

INPUT_SIZE = (32, 32)
GRID = 4  # 4x4 cells of 8x8 pixels, one anchor per cell


BOX_CODER_SCALES = [10.0, 10.0, 5.0, 5.0]  # the OD API's faster_rcnn_box_coder defaults


def _anchors() -> np.ndarray:
    """One anchor per cell, corners (ymin, xmin, ymax, xmax) normalised, as BoxList takes."""
    c = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    yc, xc = np.meshgrid(c, c, indexing="ij")
    half = np.full_like(yc, 0.5 / GRID)
    return np.stack([(yc - half).ravel(), (xc - half).ravel(),
                     (yc + half).ravel(), (xc + half).ravel()], axis=-1)


def decode_boxes(box_encodings: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """The official Faster R-CNN box coder (as ssd.model uses): box_encodings [B, A, 4]
    (ty, tx, th, tw), anchor corners [A, 4] -> boxes [B, A, 4] (ymin, xmin, ymax, xmax)."""
    batch = tf.shape(box_encodings)[0]
    coder = faster_rcnn_box_coder.FasterRcnnBoxCoder(BOX_CODER_SCALES)
    decoded = coder.decode(tf.reshape(box_encodings, [-1, 4]),
                           box_list.BoxList(tf.tile(anchors, [batch, 1]))).get()
    return tf.reshape(decoded, [batch, -1, 4])


class TinyDetector(tf_keras.Model):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.pool = tf_keras.layers.AveragePooling2D(INPUT_SIZE[0] // GRID)
        self.cls = tf_keras.layers.Conv2D(2, 1, name="cls")
        self.box = tf_keras.layers.Conv2D(4, 1, name="box")
        self.anchors = tf.constant(_anchors())
        self.build((None, *INPUT_SIZE, 3))
        # Fixed weights: logit(hand) = 10*R + 4 with R the cell's mean red in [-1, 1];
        # background logit 0. Box offsets: small seeded weights so boxes move a bit.
        w = np.zeros((1, 1, 3, 2), np.float32)
        w[0, 0, 0, 1] = 10.0
        self.cls.set_weights([w, np.array([0.0, 4.0], np.float32)])
        rng = np.random.default_rng(seed)
        self.box.set_weights([rng.normal(0, 0.3, (1, 1, 3, 4)).astype(np.float32),
                              np.zeros(4, np.float32)])

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.image.resize(tf.cast(images, tf.float32), INPUT_SIZE, method="bilinear")
        return x / 127.5 - 1.0

    def call(self, x: tf.Tensor, training: bool = False) -> dict[str, tf.Tensor]:
        f = self.pool(x)
        b = tf.shape(x)[0] if x.shape[0] is None else x.shape[0]
        return {
            "box_encodings": tf.reshape(self.box(f), [b, GRID * GRID, 4]),
            "class_logits": tf.reshape(self.cls(f), [b, GRID * GRID, 2]),
        }

    def postprocess(self, outputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        boxes = decode_boxes(outputs["box_encodings"], self.anchors)
        scores = tf.sigmoid(outputs["class_logits"][..., 1:])
        return batched_nms(boxes, scores, max_detections=10, iou_threshold=0.5,
                           score_threshold=0.05)


def moving_rectangle_frames(n: int = 30, width: int = 160, height: int = 120,
                            color: tuple[int, int, int] = (255, 255, 255)) -> list[np.ndarray]:
    """BGR frames with a bright 40x40 rectangle sliding left to right."""
    frames = []
    for i in range(n):
        f = np.full((height, width, 3), 20, np.uint8)
        x = int(i * (width - 40) / max(n - 1, 1))
        y = height // 2 - 20
        f[y:y + 40, x:x + 40] = color
        frames.append(f)
    return frames


_EXPORT_CACHE: dict[str, object] = {}


def tiny_export_dir():
    """Export TinyDetector once per test session (every format) and return the dir.

    Cached at module level (not a pytest fixture) so several test files share
    one export; the temp dir is removed at interpreter exit.
    """
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    if "dir" not in _EXPORT_CACHE:
        from export_lib import export_model

        root = Path(tempfile.mkdtemp(prefix="tiny-export-"))
        atexit.register(shutil.rmtree, root, True)
        frames_rgb = [f[..., ::-1].copy() for f in moving_rectangle_frames(20)]
        result = export_model(TinyDetector(), root / "tiny", input_size=INPUT_SIZE,
                              representative_images=frames_rgb, label_names=["hand"],
                              pipeline_config_text="# tiny test model\n",
                              metrics={"mAP": 0.5}, num_verify=5)
        _EXPORT_CACHE["dir"] = result.out_dir
        _EXPORT_CACHE["result"] = result
    return _EXPORT_CACHE["dir"]


def write_video(path, frames, fps: float = 30.0) -> None:
    """Write BGR frames as an mp4v video (what the CLI tests read back)."""
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), path
    for f in frames:
        writer.write(f)
    writer.release()
