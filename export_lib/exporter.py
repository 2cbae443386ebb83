"""Export a detection model to every serving format, atomically, and verify them.

Why one generic exporter: the detection side (frozen graph, SavedModel, TFLite
float and int8) must not care how the model was built. It only needs an
`inference_fn(images) -> OD-API detections` that accepts a uint8 (or float32)
pixel batch [B, H, W, 3]; `inference_fn_from_model` builds one from any model
with the preprocess / __call__ / postprocess trio (the SSD model, the tests'
tiny detector). Every format is traced from that same function, so they can
only differ by conversion (float rounding; int8 quantisation, measured).

Atomicity: everything is written into `<out>.tmp-XXXX` beside the target and
renamed into place at the end, so `exported_models/NAME` is either absent, the
old export, or a complete new one; never half-written.

model.onnx (export_lib/onnx_export.py) is converted from the written frozen
graph, so it is the same function; it stops before NMS, which its Detector
backend and examples/cpp/ run with OpenCV.

After writing, every format is loaded through `detect.Detector` (the code the
CLIs use) and run on the verification images; agreement with the frozen graph
is recorded in `export_info.json` (float formats should match to rounding,
int8 within INT8_TOLERANCE; outside that a warning is logged, the export kept).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import cv2
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from common.atomic import atomic_dir
from common.errors import UserError
from detect.detector import FORMAT_FILES, FORMATS, OUTPUT_NAMES, Detector
from data_prep.label_map import write_label_map
from export_lib import tflite_convert
from export_lib.compare import Agreement
from ssd import padding

log = logging.getLogger(__name__)

InferenceFn = Callable[[tf.Tensor], Mapping[str, tf.Tensor]]

# What "agrees with the frozen graph" means, recorded in export_info.json with the
# measured numbers. Matched on detections with score >= COMPARE_MIN_SCORE, on
# frames already at the model size (see verify_formats). Measured on 60 training
# frames: float TFLite and ONNX against the frozen graph, min IoU 0.99999 and
# max |dscore| 2e-6 for v2 and l_ij_averaged; int8 min IoU 0.85 / 0.73, mean 0.96,
# max |dscore| 0.054 / 0.040. The weight means v3 (o_m_weighted) and v4 (w_osv_soup)
# are outside in int8: one of 83 / 79 detections 0.27 / 0.34 apart in score (recorded
# in their export_info.json).
FLOAT_TOLERANCE = {"min_iou": 0.999, "mean_iou": 0.9999, "max_score_delta": 0.001}
INT8_TOLERANCE = {"min_iou": 0.7, "mean_iou": 0.9, "max_score_delta": 0.06}
COMPARE_MIN_SCORE = 0.3
EXPORT_MARKER = "export_info.json"  # written last: marks a finished handtrack export


def inference_fn_from_model(model: Any) -> InferenceFn:
    """preprocess -> model(x, training=False) -> postprocess, as one callable; the
    model's own `detect` where it has one (SSDDetector: it also maps the boxes of a
    picture it padded back to that picture, ssd/padding.py).

    `model.preprocess` must accept uint8 and float32 pixel batches (a tf.cast
    to float32 first does that).
    """
    if hasattr(model, "detect"):
        return model.detect

    def inference_fn(images: tf.Tensor) -> Mapping[str, tf.Tensor]:
        x = model.preprocess(images)
        return model.postprocess(model(x, training=False))
    return inference_fn


def _serving_outputs(inference_fn: InferenceFn, images: tf.Tensor,
                     class_id_offset: float) -> dict[str, tf.Tensor]:
    """Call the model and name the four outputs exactly as the contract says."""
    det = inference_fn(images)
    missing = [n for n in OUTPUT_NAMES if n not in det]
    if missing:
        raise ValueError(f"inference_fn must return {OUTPUT_NAMES}; missing {missing}")
    out = {n: tf.cast(det[n], tf.float32) for n in OUTPUT_NAMES}
    out["detection_classes"] = out["detection_classes"] + class_id_offset
    return {n: tf.identity(out[n], name=n) for n in OUTPUT_NAMES}


def _concrete(inference_fn: InferenceFn, spec: tf.TensorSpec, class_id_offset: float,
              arg_name: str) -> tuple[tf.types.experimental.ConcreteFunction, tf.Module]:
    """Trace for `spec`; return the concrete function and a tf.Module that tracks
    the variables it captured (what tf.saved_model.save needs, without having to
    serialise the model object itself)."""
    def serve(x):
        return _serving_outputs(inference_fn, x, class_id_offset)
    serve.__name__ = "serve"
    fn = tf.function(serve, input_signature=[tf.TensorSpec(spec.shape, spec.dtype, arg_name)])
    cf = fn.get_concrete_function()
    root = tf.Module()
    root.captured_variables = list(cf.variables)
    root.serve = fn
    return cf, root


def write_frozen_graph(inference_fn: InferenceFn, path: Path, class_id_offset: float = 1.0) -> None:
    """frozen_inference_graph.pb: input image_tensor:0 uint8 [1, H, W, 3], any H, W."""
    cf, _ = _concrete(inference_fn, tf.TensorSpec([1, None, None, 3], tf.uint8),
                      class_id_offset, "image_tensor")
    frozen = convert_variables_to_constants_v2(cf)
    gd = frozen.graph.as_graph_def()
    names = {n.name for n in gd.node}
    assert "image_tensor" in names and all(n in names for n in OUTPUT_NAMES), names
    path.write_bytes(gd.SerializeToString())


def write_saved_model(inference_fn: InferenceFn, path: Path, class_id_offset: float = 1.0,
                      shape: Sequence[int | None] = (1, None, None, 3)) -> None:
    """SavedModel with serving_default(input_tensor uint8 [1, None, None, 3])."""
    cf, root = _concrete(inference_fn, tf.TensorSpec(shape, tf.uint8), class_id_offset,
                         "input_tensor")
    tf.saved_model.save(root, str(path), signatures={"serving_default": cf})


def _tflite_ops(model_bytes: bytes) -> dict[str, str]:
    """Op name -> dtypes of its first input; documents what stayed float in int8."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_content=model_bytes)
        details = it.get_tensor_details()
        ops: dict[str, set[str]] = {}
        for op in it._get_ops_details():  # private but stable; only for the report
            ins = [i for i in op["inputs"] if i >= 0]
            dt = np.dtype(details[ins[0]]["dtype"]).name if ins else "-"
            ops.setdefault(op["op_name"], set()).add(dt)
        return {k: ",".join(sorted(v)) for k, v in sorted(ops.items())}
    except Exception as exc:  # report only
        return {"unavailable": str(exc)}


def write_tflite(inference_fn: InferenceFn, path: Path, input_size: tuple[int, int], *,
                 int8: bool = False, representative: Sequence[np.ndarray] = (),
                 class_id_offset: float = 1.0) -> dict[str, Any]:
    """model.tflite / model_int8.tflite: input uint8 [1, h, w, 3] raw RGB pixels.

    int8: weights and activations int8 (post-training full-integer quantisation,
    calibrated on `representative` images already at input_size). Ops without an
    int8 kernel (NON_MAX_SUPPRESSION_V5) stay float: TFLITE_BUILTINS is allowed
    beside TFLITE_BUILTINS_INT8. Outputs stay float32 (inference_output_type),
    so consumers read every format the same way. Returns report info.
    """
    h, w = input_size
    if int8 and not len(representative):
        raise UserError("int8 export needs representative images (--representative-data)")
    with tempfile.TemporaryDirectory(prefix="tflite-src-", dir=path.parent) as src:
        write_saved_model(inference_fn, Path(src) / "sm", class_id_offset, shape=(1, h, w, 3))
        if not int8:
            try:
                tflite_convert.convert(str(Path(src) / "sm"), str(path))
            except Exception as exc:
                raise RuntimeError(
                    "TFLite conversion failed. If an op is unsupported, use "
                    "ssd.postprocess.batched_nms (TFLite NMS V5 builtin) instead of "
                    f"combined_non_max_suppression. Converter said: {exc}") from exc
        else:
            calib = Path(src) / "calibration.npy"
            np.save(calib, np.stack(list(representative)).astype(np.uint8))
            _convert_in_child(Path(src) / "sm", path, calib)
    data = path.read_bytes()
    ops = _tflite_ops(data)
    info: dict[str, Any] = {"bytes": len(data), "ops": ops}
    if int8:
        info["float_ops"] = sorted(k for k, v in ops.items() if "float32" in v
                                   and k not in ("QUANTIZE", "DEQUANTIZE", "DELEGATE"))
    return info


def _convert_in_child(saved_model: Path, out: Path, calibration: Path) -> None:
    """int8 conversion in a child process: a converter crash becomes an error here."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = "import sys; from export_lib.tflite_convert import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, str(saved_model), str(out),
                        "--int8", str(calibration)],
                       cwd=root, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not out.is_file():
        tail = "\n".join(l for l in r.stderr.splitlines() if l.strip()
                         and not l.startswith(("W0000", "I0000")))[-1500:]
        crashed = r.returncode < 0
        raise RuntimeError(
            f"TFLite int8 conversion {'crashed (signal ' + str(-r.returncode) + ')' if crashed else 'failed'}"
            ". A known cause is a tf.map_fn / while loop in postprocess (TF's calibrator "
            "segfaults on it): run NMS per image over the static batch instead, e.g. "
            f"ssd.postprocess.batched_nms. Converter output:\n{tail}")


def _to_model_size(img: np.ndarray, input_size: tuple[int, int],
                   pad_narrower_images: bool = False) -> np.ndarray:
    """The same padding and resize the Detector applies before a TFLite or ONNX run
    (ssd/padding.py, then cv2 bilinear)."""
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise UserError(f"representative images must be uint8 [H, W, 3], got "
                        f"{img.dtype} {list(img.shape)}")
    if pad_narrower_images:
        img = padding.pad_columns(img, input_size)[0]
    h, w = input_size
    if img.shape[:2] == (h, w):
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, str]
    agreement: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def verify_formats(export_dir: Path, images_rgb: Sequence[np.ndarray],
                   formats: Sequence[str] = FORMATS, reference: str = "frozen",
                   num_threads: int | None = None) -> dict[str, Agreement]:
    """Run every format through `Detector` on the same RGB images; compare to reference.

    The images are first resized to a fixed-size format's input (as the Detector
    does before a TFLite or ONNX run), so every format sees the same pixels and the
    check measures the conversion alone. On full-size frames the frozen graph
    resizes in float inside the graph where the Detector resizes with OpenCV and
    rounds to uint8 for TFLite: l_ij_averaged's scores moved by up to 0.047 from
    that alone (2e-6 on identical pixels), which said nothing about its export.
    """
    detectors = {f: Detector(export_dir, format=f, num_threads=num_threads, tiles="off")
                 for f in [reference] + [f for f in formats if f != reference]}
    try:
        size = next((d.input_size for d in detectors.values() if d.input_size), None)
        if size is not None:
            pad = detectors[reference].pad_narrower_images
            images_rgb = [_to_model_size(img, size, pad) for img in images_rgb]
        dets = {f: [d.detect_rgb(img) for img in images_rgb] for f, d in detectors.items()}
    finally:
        for d in detectors.values():
            d.close()
    result = {}
    for f in formats:
        if f == reference:
            continue
        agg = Agreement()
        for ref, other in zip(dets[reference], dets[f]):
            agg.add(ref, other, min_score=COMPARE_MIN_SCORE)
        result[f] = agg
    return result


def export_all(inference_fn: InferenceFn, out_dir: str | os.PathLike, *,
               input_size: tuple[int, int],
               representative_images: Iterable[np.ndarray],
               label_names: Sequence[str],
               pipeline_config_text: str | None = None,
               metrics: Mapping[str, Any] | None = None,
               num_representative: int = 100,
               num_verify: int = 10,
               class_id_offset: float = 1.0,
               formats: Sequence[str] = FORMATS,
               overwrite: bool = False,
               pad_narrower_images: bool = False) -> ExportResult:
    """Write every format of `inference_fn` to `out_dir` (atomically) and verify them.

    inference_fn: images uint8/float32 [B, H, W, 3] RGB pixels -> dict with
      detection_boxes [B,N,4] normalised yxyx, detection_scores [B,N],
      detection_classes [B,N] (0-based; `class_id_offset` is added, OD-API
      convention), num_detections [B].
    input_size: (h, w) of the model; the fixed TFLite input size.
    pad_narrower_images: the model pads narrower pictures (ssd/padding.py): recorded in
      export_info.json, where the Detector reads it before its own resize for TFLite
      and ONNX; the graph formats pad inside `inference_fn`.
    representative_images: RGB uint8 [H, W, 3] images (any size); the first
      `num_representative` calibrate int8, the first `num_verify` are used to
      compare formats.
    """
    t0 = time.monotonic()
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or "frozen" not in formats:
        raise ValueError(f"formats must include 'frozen' and be among {FORMATS}: {formats}")
    final = Path(out_dir)
    if final.exists() and not overwrite:
        raise UserError(f"{final} already exists; pass --overwrite to replace it")
    check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)

    images: list[np.ndarray] = []
    for img in representative_images:
        if len(images) >= max(num_representative, num_verify):
            break
        images.append(np.asarray(img))
    calib = [_to_model_size(img, input_size, pad_narrower_images)
             for img in images[:num_representative]]
    verify = images[:num_verify]

    with atomic_dir(final, replace=True) as tmp:
        info: dict[str, Any] = {
            "input_size": list(input_size), "labels": list(label_names),
            "pad_narrower_images": bool(pad_narrower_images),
            "formats": {}, "tensorflow": tf.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "representative_images": len(calib),
        }
        log.info("writing frozen graph")
        write_frozen_graph(inference_fn, tmp / FORMAT_FILES["frozen"], class_id_offset)
        if "saved_model" in formats:
            log.info("writing SavedModel")
            write_saved_model(inference_fn, tmp / FORMAT_FILES["saved_model"], class_id_offset)
        if "tflite" in formats:
            log.info("converting TFLite float")
            info["formats"]["tflite"] = write_tflite(
                inference_fn, tmp / FORMAT_FILES["tflite"], input_size,
                class_id_offset=class_id_offset)
        if "tflite_int8" in formats:
            log.info("converting TFLite int8 (%d calibration images)", len(calib))
            info["formats"]["tflite_int8"] = write_tflite(
                inference_fn, tmp / FORMAT_FILES["tflite_int8"], input_size, int8=True,
                representative=calib, class_id_offset=class_id_offset)
        if "onnx" in formats:
            log.info("converting the frozen graph to ONNX (tf2onnx)")
            from export_lib.onnx_export import frozen_graph_to_onnx

            info["formats"]["onnx"] = frozen_graph_to_onnx(
                tmp / FORMAT_FILES["frozen"], tmp / FORMAT_FILES["onnx"], labels=label_names)
        write_label_map(tmp / "label_map.pbtxt", list(label_names))
        if pipeline_config_text is not None:
            (tmp / "pipeline.config").write_text(pipeline_config_text)
        if metrics is not None:
            (tmp / "metrics.json").write_text(json.dumps(dict(metrics), indent=2) + "\n")

        agreement: dict[str, dict] = {}
        if verify:
            log.info("verifying formats on %d images", len(verify))
            for f, agg in verify_formats(tmp, verify, formats).items():
                tol = INT8_TOLERANCE if f == "tflite_int8" else FLOAT_TOLERANCE
                ok = agg.within(**tol)
                agreement[f] = {**agg.to_json(), "tolerance": tol, "within_tolerance": ok}
                if not ok:
                    # Not fatal: an untrained model's many tied scores make NMS pick
                    # different (equally scored) boxes per runtime. Recorded and shown.
                    log.warning("%s disagrees with the frozen graph beyond the stated "
                                "tolerance: %s", f, agreement[f])
        info["agreement_vs_frozen"] = agreement
        info["compare_min_score"] = COMPARE_MIN_SCORE
        (tmp / EXPORT_MARKER).write_text(json.dumps(info, indent=2) + "\n")
    files = {f: str(final / FORMAT_FILES[f]) for f in formats}
    return ExportResult(final, files, agreement, time.monotonic() - t0)


def check_replaceable(final: Path) -> None:
    """--overwrite replaces only an earlier export: a folder holding our marker
    file (export_info.json, written last). Any other folder, e.g. one holding
    several models, or a file, is refused rather than wiped."""
    if not final.exists():
        return
    if not final.is_dir():
        raise UserError(f"--out {final} is a file, not an export folder; choose another --out")
    if not (final / EXPORT_MARKER).is_file():
        raise UserError(f"--out {final} exists and is not a handtrack export (no "
                        f"{EXPORT_MARKER}); --overwrite only replaces an earlier export, "
                        f"choose another --out")


def export_model(model: Any, out_dir: str | os.PathLike, **kwargs: Any) -> ExportResult:
    """`export_all` for a model with preprocess / __call__ / postprocess."""
    config = getattr(model, "config", None)
    kwargs.setdefault("pad_narrower_images", bool(getattr(config, "pad_narrower_images", False)))
    return export_all(inference_fn_from_model(model), out_dir, **kwargs)
