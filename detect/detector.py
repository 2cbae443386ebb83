"""Load any exported format and turn a BGR frame into pixel-space Detections.

One class, `Detector`, hides the four export formats behind `detector(frame)`:

  frozen       frozen_inference_graph.pb   tf.compat.v1 graph import + Session
  saved_model  saved_model/                tf.saved_model.load, serving_default
  tflite       model.tflite                LiteRT interpreter (XNNPACK)
  tflite_int8  model_int8.tflite           LiteRT interpreter, full-integer model
  onnx         model.onnx                  ONNX Runtime + OpenCV NMS (detect/onnx_backend.py)

Colour order: OpenCV frames are BGR, the models were trained on RGB. The
conversion happens exactly once, in `Detector.__call__` (cv2.cvtColor);
`Detector.detect_rgb` is the entry point for callers that already hold RGB.
Nothing else in detect/ converts colour.

Threads: one Detector is shared by all pipeline workers (loading one model per
worker would multiply memory and start-up time). `Session.run` and SavedModel
signature calls are thread-safe and run concurrently. A TFLite interpreter is
not thread-safe, so its set-input/invoke/get-output section is guarded by a
lock; workers still overlap everything around it (resize, colour conversion,
box conversion, drawing), and XNNPACK spreads one invoke over `num_threads`
cores. TensorFlow is imported lazily, so a TFLite-only run never loads it.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from common.errors import UserError
from common.frozen_graph import read_graph_def
from detect.detections import Detections
from ssd import padding

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path("exported_models/handtrack_default")
FORMATS = ("frozen", "saved_model", "tflite", "tflite_int8", "onnx")
FORMAT_FILES = {
    "frozen": "frozen_inference_graph.pb",
    "saved_model": "saved_model",
    "tflite": "model.tflite",
    "tflite_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}
# Picked for an export dir when no format is given. int8 first: on the shipped
# hand model it scores the same held-out AP@0.5 as float (0.987 vs 0.986 webcam,
# 0.999 vs 0.999 close-up; exported_models/handtrack_default/README.md) and runs
# several times faster on a CPU; then TFLite float; both need no TensorFlow import.
PREFERENCE = ("tflite_int8", "tflite", "onnx", "saved_model", "frozen")
# Wide frames (16:9 cameras, Google Glass video) are squashed into the square
# input, which makes hands narrow and far hands tiny. TILES="auto" also runs the
# model on the two frame-high squares at the left and right ends of a frame at
# least WIDE_ASPECT wide, and merges the three views, at three times the model
# time on such frames (4:3 and square frames are unchanged). It is off by default:
# over the four EgoHands videos, each held out in turn (exported_models/
# handtrack_default/README.md), it lifted AP@0.5 on one video (office, 0.644 ->
# 0.802) and lowered it on the other three (by 0.034-0.059), 0.741 -> 0.746 on
# average: no gain worth three times the time.
TILES = ("auto", "off")
DEFAULT_TILES = "off"
WIDE_ASPECT = 1.5
TILES_HELP = (f"auto: frames at least {WIDE_ASPECT:g}x as wide as high (16:9 video) are also "
              f"read as their two end squares, at 3x the model time (helped on one of four "
              f"unseen egocentric videos, hurt on three); off: one model pass per frame")
# Boxes of one hand from two views differ more than duplicates within one view.
TILE_MERGE_IOU = 0.5
# A tile detection touching the tile's inner edge is a cut hand; the other
# views see it whole.
TILE_EDGE_PX = 2.0
OUTPUT_NAMES = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
LABEL_MAP_NAME = "label_map.pbtxt"
EXPORT_INFO_NAME = "export_info.json"


def resolve_model(path: str | os.PathLike, format: str | None = None) -> tuple[str, Path]:
    """Map `--model` (+ optional `--format`) to (format, concrete file or dir)."""
    if format is not None and format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    p = Path(path)
    if not p.exists():
        raise UserError(f"model not found: {p} (export one with export.py, or pass --model)")
    if p.is_dir() and (p / "saved_model.pb").is_file():
        if format not in (None, "saved_model"):
            raise UserError(f"--model {p} is a SavedModel dir, but --format {format} was given")
        return "saved_model", p
    if p.is_dir():
        present = [f for f in FORMATS if (p / FORMAT_FILES[f]).exists()]
        if format is not None:
            if format not in present:
                raise UserError(f"{p} has no {format} model ({FORMAT_FILES[format]}); "
                                f"present: {', '.join(present) or 'none'}")
            return format, p / FORMAT_FILES[format]
        for f in PREFERENCE:
            if f in present:
                return f, p / FORMAT_FILES[f]
        raise UserError(f"{p} holds no exported model (expected one of "
                        f"{', '.join(FORMAT_FILES.values())})")
    if p.suffix == ".pb":
        guessed = "frozen"
    elif p.suffix == ".tflite":
        guessed = "tflite_int8" if "int8" in p.name else "tflite"
    elif p.suffix == ".onnx":
        guessed = "onnx"
    else:
        raise UserError(f"--model {p}: not an export dir, SavedModel dir, .pb, .tflite "
                        "or .onnx file")
    if format is not None and format != guessed and {format, guessed} != {"tflite", "tflite_int8"}:
        raise UserError(f"--model {p} is a {guessed} model, but --format {format} was given")
    return format or guessed, p


def _beside_model(model_path: Path, name: str) -> Path | None:
    """The export's own file `name`: in the export dir, or beside a model file in it."""
    for d in (model_path if model_path.is_dir() else model_path.parent,
              model_path.parent, model_path.parent.parent):
        if (d / name).is_file():
            return d / name
    return None


def _find_label_names(model_path: Path) -> list[str] | None:
    from data_prep.label_map import read_label_map

    path = _beside_model(model_path, LABEL_MAP_NAME)
    return read_label_map(path) if path is not None else None


def _pads_narrower_images(model_path: Path) -> bool:
    """Whether the export pads narrower pictures (ssd/padding.py), from its
    export_info.json; a model file without one (or an older export) does not."""
    path = _beside_model(model_path, EXPORT_INFO_NAME)
    if path is None:
        return False
    try:
        return bool(json.loads(path.read_text()).get("pad_narrower_images", False))
    except (OSError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: not a readable export_info.json ({exc})") from None


class _FrozenGraph:
    def __init__(self, path: Path, num_threads: int | None) -> None:
        import tensorflow as tf

        gd = read_graph_def(path)
        self.graph = tf.Graph()
        with self.graph.as_default():
            try:
                tf.compat.v1.import_graph_def(gd, name="")
            except (ValueError, tf.errors.OpError) as exc:  # e.g. an op this TF lacks
                raise UserError(f"{path}: cannot load this graph with TensorFlow "
                                f"{tf.__version__} ({str(exc).splitlines()[0][:200]})") from None
        try:
            self.input = self.graph.get_tensor_by_name("image_tensor:0")
            self.fetch = [self.graph.get_tensor_by_name(f"{n}:0") for n in OUTPUT_NAMES]
        except KeyError as exc:
            raise UserError(f"{path}: not an exported detection graph ({exc})") from None
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=num_threads or 0)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        self.input_size = None

    def run(self, rgb: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.fetch, {self.input: rgb[None]})

    def close(self) -> None:
        self.session.close()


class _SavedModel:
    def __init__(self, path: Path, num_threads: int | None) -> None:
        import tensorflow as tf

        self._tf = tf
        try:
            self.loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # noqa: BLE001 - corrupt protobuf, missing variables, bad op
            raise UserError(f"{path}: cannot load SavedModel ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200] if str(exc) else 'corrupt'})") from None
        try:
            self.fn = self.loaded.signatures["serving_default"]
        except KeyError:
            raise UserError(f"{path}: SavedModel has no 'serving_default' signature") from None
        self.input_size = None

    def run(self, rgb: np.ndarray) -> list[np.ndarray]:
        out = self.fn(input_tensor=self._tf.constant(rgb[None]))
        return [out[n].numpy() for n in OUTPUT_NAMES]

    def close(self) -> None:
        pass


class _TFLite:
    def __init__(self, path: Path, num_threads: int | None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path),
                                           num_threads=num_threads or os.cpu_count() or 1)
        except ValueError as exc:
            raise UserError(f"{path}: not a TFLite model ({exc})") from None
        self.runner = self.interpreter.get_signature_runner("serving_default")
        (name, detail), = self.runner.get_input_details().items()
        self.input_name = name
        _, h, w, _ = (int(v) for v in detail["shape"])
        self.input_size = (h, w)
        self.input_dtype = detail["dtype"]
        scale, zero = detail.get("quantization", (0.0, 0))
        # Our exports take raw uint8 pixels; a model whose input is quantised with
        # other parameters gets pixels mapped to its scale here.
        self.quant = (scale, zero) if scale and (scale, zero) != (1.0, 0) else None
        self.lock = threading.Lock()

    def run(self, rgb: np.ndarray) -> list[np.ndarray]:
        h, w = self.input_size
        if rgb.shape[:2] != (h, w):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        x = rgb[None]
        if self.quant is not None:
            scale, zero = self.quant
            info = np.iinfo(self.input_dtype)
            x = np.clip(np.rint(x / scale + zero), info.min, info.max)
        x = x.astype(self.input_dtype, copy=False)
        with self.lock:
            out = self.runner(**{self.input_name: x})
        return [out[n] for n in OUTPUT_NAMES]

    def close(self) -> None:
        pass


def _onnx_backend(path: Path, num_threads: int | None):
    from detect.onnx_backend import OnnxBackend  # onnxruntime only when asked for

    return OnnxBackend(path, num_threads)


_BACKENDS = {"frozen": _FrozenGraph, "saved_model": _SavedModel,
             "tflite": _TFLite, "tflite_int8": _TFLite, "onnx": _onnx_backend}


class Detector:
    """A loaded exported model: `detector(frame_bgr) -> Detections` (pixel coords).

    model: export dir (format picked by PREFERENCE unless `format` is given), a
    SavedModel dir, or a .pb / .tflite file. num_threads: TFLite interpreter
    threads (default: all cores) and frozen-graph intra-op threads. tiles: "off"
    runs the model once per frame whatever its shape, "auto" also looks at the two
    end squares of frames at least WIDE_ASPECT wide (see TILES above).
    """

    def __init__(self, model: str | os.PathLike = DEFAULT_MODEL, format: str | None = None,
                 num_threads: int | None = None,
                 label_names: Sequence[str] | None = None, tiles: str = DEFAULT_TILES) -> None:
        if tiles not in TILES:
            raise UserError(f"--tiles must be one of {', '.join(TILES)}, got {tiles!r}")
        self.tiles = tiles
        self.format, self.path = resolve_model(model, format)
        self.label_names = list(label_names) if label_names is not None \
            else _find_label_names(self.path)
        self._backend = _BACKENDS[self.format](self.path, num_threads)
        # The graph formats pad inside the graph; TFLite and ONNX take pixels at the
        # model size, so the padding is done here, before their resize.
        self.pad_narrower_images = _pads_narrower_images(self.path)
        log.info("loaded %s model %s", self.format, self.path)

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(h, w) the frame is resized to before inference (TFLite), None = any size."""
        return self._backend.input_size

    def detect_rgb(self, rgb: np.ndarray) -> Detections:
        """All detections the model returns for an RGB uint8 [H, W, 3] image."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
                or rgb.shape[2] != 3:
            raise ValueError(f"expected a uint8 [H, W, 3] image, got "
                             f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
        h, w = rgb.shape[:2]
        found = self._run(rgb)
        if self.tiles == "auto" and w >= WIDE_ASPECT * h:
            found = self._with_tiles(rgb, found)
        return found

    def _run(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        size = self.input_size
        if self.pad_narrower_images and size is not None:
            padded, left, total = padding.pad_columns(rgb, size)
            boxes, scores, classes, num = self._backend.run(padded)
            boxes = padding.boxes_out_of_padded(boxes, w, left, total)
        else:
            boxes, scores, classes, num = self._backend.run(rgb)
        return Detections.from_normalized(boxes[0], scores[0], classes[0], np.ravel(num)[0],
                                          w, h, self.label_names)

    def _with_tiles(self, rgb: np.ndarray, full: Detections) -> Detections:
        """`full` plus the detections of the left and right h x h squares, merged by NMS."""
        h, w = rgb.shape[:2]
        parts = [full]
        for x0, edge_column, inner_edge in ((0, 2, float(h)), (w - h, 0, 0.0)):
            tile = self._run(np.ascontiguousarray(rgb[:, x0:x0 + h]))
            tile = tile.take(np.abs(tile.boxes[:, edge_column] - inner_edge) > TILE_EDGE_PX)
            parts.append(dataclasses.replace(tile, boxes=tile.boxes + np.float32([x0, 0, x0, 0])))
        merged = Detections.concatenate(parts)
        b = merged.boxes.astype(np.float64)
        rects = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        return merged.take(cv2.dnn.NMSBoxes(rects, merged.scores, 0.0, TILE_MERGE_IOU,
                                            top_k=max(len(p) for p in parts)))

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        """Detections for an OpenCV BGR frame: the one BGR->RGB conversion happens here."""
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 \
                or frame_bgr.shape[2] != 3:
            raise ValueError(f"expected a BGR [H, W, 3] frame, got "
                             f"{getattr(frame_bgr, 'shape', type(frame_bgr))}")
        return self.detect_rgb(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        self._backend.close()

    def __repr__(self) -> str:
        return f"Detector(format={self.format!r}, path='{self.path}')"
