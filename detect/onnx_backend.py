"""The `onnx` format: model.onnx in ONNX Runtime, NMS with OpenCV, as examples/cpp/ does.

model.onnx stops before NMS (export_lib/onnx_export.py says why: OpenCV 4.6's
importer, the library C++ games link, cannot load NMS). The Python Detector
and the C++ example therefore run the same two steps: the network (ONNX
Runtime here, cv::dnn there) and `cv::dnn::NMSBoxes` with the parameters the
export recorded in the model's metadata. Same algorithm, same parameters, same
boxes; the format agreement check in export.py compares the result with the
frozen graph's TF NMS.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from common.errors import UserError


def nms(boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float,
        score_threshold: float, max_detections: int) -> list[np.ndarray]:
    """boxes [A, 4] normalised yxyx, scores [A, C] -> OD-API outputs for one image.

    Class-agnostic like ssd.postprocess: each anchor keeps its best class.
    Returns [boxes [1, N, 4], scores [1, N], classes [1, N] (1-based float), num [1]],
    the frozen graph's output contract.
    """
    best = scores.max(axis=1)
    cls = scores.argmax(axis=1).astype(np.float32) + 1.0  # label-map ids, as exports give
    b = boxes.astype(np.float64)
    rects = np.stack([b[:, 1], b[:, 0], b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]], axis=1)
    keep = cv2.dnn.NMSBoxes(rects, best.astype(np.float32), score_threshold,
                            iou_threshold, top_k=max_detections)
    keep = np.asarray(keep, np.int64).reshape(-1)[:max_detections]
    return [boxes[keep][None].astype(np.float32), best[keep][None].astype(np.float32),
            cls[keep][None], np.array([len(keep)], np.float32)]


class OnnxBackend:
    """ONNX Runtime session on model.onnx; `run(rgb)` -> the four OD-API outputs."""

    def __init__(self, path: Path, num_threads: int | None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads or os.cpu_count() or 1
        try:
            self.session = ort.InferenceSession(str(path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise UserError(f"{path}: not a loadable ONNX model ({exc})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.params = dict(iou_threshold=float(meta["nms_iou_threshold"]),
                               score_threshold=float(meta["nms_score_threshold"]),
                               max_detections=int(meta["nms_max_detections"]))
        except KeyError as exc:
            raise UserError(f"{path}: no NMS parameters in the ONNX metadata ({exc}); "
                            "export it with export.py or python3 -m export_lib.onnx_export"
                            ) from None
        _, _, h, w = self.session.get_inputs()[0].shape
        self.input_size = (int(h), int(w))
        self.input_name = self.session.get_inputs()[0].name
        # InferenceSession.run is thread-safe; the lock only keeps two workers from
        # oversubscribing the cores with two intra-op pools (as TFLite's does).
        self.lock = threading.Lock()

    def run(self, rgb: np.ndarray) -> list[np.ndarray]:
        h, w = self.input_size
        if rgb.shape[:2] != (h, w):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32)
        with self.lock:
            boxes, scores = self.session.run(None, {self.input_name: x})
        return nms(boxes[0], scores[0], **self.params)

    def close(self) -> None:
        pass
