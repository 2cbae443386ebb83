"""model.onnx: the network as ONNX, for ONNX Runtime (Python) and OpenCV's dnn module (C++).

Why the graph stops before NMS: C++ games link OpenCV, and OpenCV's ONNX
importer (4.6, what Debian/Ubuntu ship) cannot load dynamic input shapes nor
`NonMaxSuppression`. So model.onnx holds everything up to NMS, at the fixed
model input size:

  input   image    float32 [1, 3, H, W]  RGB pixels 0..255, already resized to
                                         the model size (bilinear, like TFLite)
  outputs boxes    float32 [1, A, 4]  per anchor, normalised (ymin, xmin, ymax, xmax), clipped
          scores   float32 [1, A, C]  per anchor and class (no background column)

and NMS runs outside, in `detect.onnx_nms` (Python) and with cv::dnn::NMSBoxes
(examples/cpp/): the same algorithm and parameters, so both print the same
boxes. The parameters come from the frozen graph's NonMaxSuppressionV5 node
(iou threshold, max detections, score threshold) and travel in the ONNX
metadata (`nms_iou_threshold`, `nms_max_detections`, `nms_score_threshold`,
`labels`). NCHW input because that is what cv::dnn::blobFromImage makes.

Why from the frozen graph: it is the contract every export has (and the only
thing left of the shipped model, which has no checkpoint in the repo), so one
converter serves export.py and re-converting an existing export
(`python3 -m export_lib.onnx_export EXPORT_DIR`). The cut points are found
by graph structure, not by name (see `_graph_cut`). tf2onnx does the conversion.

Weights stay float32: OpenCV 4.6 cannot read float16 initializers (measured:
"Unsupported data type: FLOAT16"), so a half-size file would defeat the C++ use.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.atomic import atomic_path
from common.errors import UserError
from common.frozen_graph import read_graph_def

log = logging.getLogger(__name__)

# Opset 10: OpenCV 4.6 reads Clip (Relu6), Squeeze and ReduceMax only in their
# attribute forms, which opset 11+ replaced by inputs.
OPSET = 10
INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "scores")


def _graph_cut(graph_def: Any) -> tuple[Any, dict[str, Any]]:
    """Frozen detection GraphDef -> (graph image -> boxes [1, A, 4], scores [1, A, C]; NMS params).

    Cut points are found by structure, not by name, so any model that uses the
    Faster R-CNN box coder and `ssd.postprocess.batched_nms` converts (the SSD
    and the tests' tiny detector build these differently):
      * input: the output of the single ResizeBilinear (the fixed-size resize);
      * scores: what the NMS's best-score `Max` reduces, [A, C];
      * box encodings: the tensor unstacked into (ty, tx, th, tw), each divided
        by a constant scale factor (RealDiv);
      * anchors: the unclipped decoded boxes for all-zero encodings (a box coder
        decodes 0 to the anchor itself), computed once here with TensorFlow.
    The decoder is then rebuilt on [1, A, 2] slices, because OpenCV 4.6 rejects
    the 1-D tensors TF's decoder uses.
    """
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    nodes = {n.name: n for n in graph_def.node}
    consumers: dict[str, list[Any]] = {}
    for n in graph_def.node:
        for i in n.input:
            consumers.setdefault(i.lstrip("^").split(":")[0], []).append(n)

    def node_of(tensor: str) -> Any:
        return nodes[tensor.lstrip("^").split(":")[0]]

    def tname(tensor: str) -> str:
        return tensor if ":" in tensor else f"{tensor}:0"

    def only(op_types: tuple[str, ...], what: str) -> Any:
        found = [n for n in graph_def.node if n.op in op_types]
        if len(found) != 1:
            raise UserError(f"ONNX export needs a graph with one {what} "
                            f"({'/'.join(op_types)}); found {len(found)}")
        return found[0]

    def value(tensor: str) -> np.ndarray:
        return tensor_util.MakeNdarray(node_of(tensor).attr["value"].tensor)

    nms = only(("NonMaxSuppressionV5", "NonMaxSuppressionV4", "NonMaxSuppressionV3"),
               "single-class NMS (ssd.postprocess.batched_nms)")
    resize = only(("ResizeBilinear",), "input resize")
    best = node_of(nms.input[1])
    if best.op != "Max":
        raise UserError(f"ONNX export: NMS scores come from {best.op}, expected Max")
    scores_name = tname(best.input[0])
    # Unclipped decoded boxes: walk back from the NMS boxes through clip/slice ops.
    d = node_of(nms.input[0])
    while d.op in ("Maximum", "Minimum", "StridedSlice", "Identity"):
        d = node_of(d.input[0])
    decoded_name = f"{d.name}:0"
    enc_name, scales = None, None
    for n in graph_def.node:
        if n.op != "Unpack":
            continue
        divs = {}
        for c in consumers.get(n.name, []):
            if c.op == "RealDiv" and node_of(c.input[1]).op == "Const":
                k = int(c.input[0].split(":")[1]) if ":" in c.input[0] else 0
                divs[k] = float(value(c.input[1]))
        if sorted(divs) == [0, 1, 2, 3]:
            src = node_of(n.input[0])
            enc_name = tname(src.input[0]) if src.op == "Transpose" else tname(n.input[0])
            scales = [divs[k] for k in range(4)]
    if enc_name is None:
        raise UserError("ONNX export: no Faster R-CNN box decoder (unstack + scale "
                        "factors) found in the frozen graph")

    def rounded(v: Any) -> float:
        return float(f"{float(v):.7g}")  # float32 0.6 -> 0.6, not 0.6000000238

    params = {"nms_max_detections": int(value(nms.input[2])),
              "nms_iou_threshold": rounded(value(nms.input[3])),
              "nms_score_threshold": rounded(value(nms.input[4]))}
    h, w = (int(v) for v in value(resize.input[1]))
    params["input_height"], params["input_width"] = h, w

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, h, w, 3], name=INPUT_NAME)
        enc, probs, decoded = tf.import_graph_def(
            graph_def, input_map={f"{resize.name}:0": image},
            return_elements=[enc_name, scores_name, decoded_name], name="net")
        with tf.compat.v1.Session(graph=graph) as sess:
            anchors = sess.run(decoded, {image: np.zeros([1, h, w, 3], np.float32),
                                         enc: np.zeros(enc.shape, np.float32)})
        anchors = np.asarray(anchors, np.float64).reshape(-1, 4)  # ymin xmin ymax xmax
        num = anchors.shape[0]
        hw = np.stack([anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]], 1)
        yx = anchors[:, :2] + hw / 2
        # Every tensor keeps a batch axis and every constant has the full [1, A, 2]
        # shape: OpenCV 4.6 fails on 2-D element-wise ops with constants and on
        # broadcasting a [4] vector (measured), not on same-shape 3-D operands.
        e = tf.reshape(enc, [1, num, 4])
        center_scale = tf.constant((hw / np.array(scales[:2]))[None], tf.float32)
        size_scale = tf.constant(np.broadcast_to(1.0 / np.array(scales[2:]), (1, num, 2)),
                                 tf.float32)
        center = e[:, :, 0:2] * center_scale + tf.constant(yx[None], tf.float32)
        half = tf.exp(e[:, :, 2:4] * size_scale) * tf.constant((hw / 2)[None], tf.float32)
        raw = tf.concat([center - half, center + half], axis=2)
        # clip to [0, 1] as relu(x) - relu(x - 1): exact in range, and OpenCV 4.6
        # cannot read the Min/Max-with-constant that tf.clip_by_value becomes.
        tf.identity(tf.nn.relu(raw) - tf.nn.relu(raw - 1.0), name=OUTPUT_NAMES[0])
        classes = int(probs.shape[-1])
        tf.identity(tf.reshape(probs, [1, num, classes]), name=OUTPUT_NAMES[1])
    gd = tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(), list(OUTPUT_NAMES))
    return gd, params


def frozen_graph_to_onnx(frozen_pb: str | os.PathLike, out: str | os.PathLike, *,
                         labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Convert an export's frozen_inference_graph.pb to model.onnx (atomically).

    Returns the info recorded in export_info.json (NMS params, input size, bytes).
    """
    import onnx
    import tf2onnx

    cut, params = _graph_cut(read_graph_def(frozen_pb))
    model, _ = tf2onnx.convert.from_graph_def(
        cut, input_names=[f"{INPUT_NAME}:0"], output_names=[f"{n}:0" for n in OUTPUT_NAMES],
        opset=OPSET, inputs_as_nchw=[f"{INPUT_NAME}:0"])
    # tf2onnx keeps TF's ":0" suffixes; plain names are friendlier for C++ callers.
    renames = {f"{INPUT_NAME}:0": INPUT_NAME, **{f"{n}:0": n for n in OUTPUT_NAMES}}
    for node in model.graph.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
        node.output[:] = [renames.get(o, o) for o in node.output]
    for v in list(model.graph.input) + list(model.graph.output):
        v.name = renames.get(v.name, v.name)
    meta = {**params, "box_format": "ymin,xmin,ymax,xmax normalised",
            "input_format": "NCHW float32 RGB 0..255 at input size",
            "labels": ",".join(labels or [])}
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.checker.check_model(model)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
    info = {**params, "bytes": Path(out).stat().st_size, "opset": OPSET,
            "tf2onnx": tf2onnx.__version__}
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """`python3 -m export_lib.onnx_export EXPORT_DIR`: add model.onnx to an existing export.

    For exports made before export.py wrote ONNX (the shipped model has no
    checkpoint in the repo, only its frozen graph). With --verify-images the
    new format is compared with the frozen graph exactly as export.py does, and
    export_info.json gains the result.
    """
    import json

    from common.atomic import atomic_write_text
    from common.cli import int_at_least, parse_command_line

    p = argparse.ArgumentParser(description="Add model.onnx to an existing export dir "
                                            "(converted from its frozen graph).")
    p.add_argument("export_dir", help="export dir holding frozen_inference_graph.pb")
    p.add_argument("--verify-images", nargs="+", default=None, metavar="IMAGE",
                   help="images (jpg/png) to compare ONNX with the frozen graph on; the "
                        "result goes into export_info.json")
    p.add_argument("--num-verify", type=int_at_least(1), default=60,
                   help="use at most this many of --verify-images")
    args = parse_command_line(p, argv)
    from data_prep.label_map import read_label_map
    from detect.detector import FORMAT_FILES

    d = Path(args.export_dir)
    frozen = d / FORMAT_FILES["frozen"]
    if not frozen.is_file():
        raise UserError(f"export_dir {d}: no {frozen.name}")
    labels = read_label_map(d / "label_map.pbtxt") if (d / "label_map.pbtxt").is_file() else None
    out = d / FORMAT_FILES["onnx"]
    info = frozen_graph_to_onnx(frozen, out, labels=labels)
    print(f"wrote {out} ({info['bytes'] / 1e6:.1f} MB)")
    info_path = d / "export_info.json"
    export_info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    export_info.setdefault("formats", {})["onnx"] = info
    if args.verify_images:
        import cv2

        from export_lib.exporter import COMPARE_MIN_SCORE, FLOAT_TOLERANCE, verify_formats

        images = []
        for path in args.verify_images[:args.num_verify]:
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            if bgr is None:
                raise UserError(f"--verify-images: cannot read {path}")
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        agg = verify_formats(d, images, formats=("frozen", "onnx"))["onnx"]
        ok = agg.within(**FLOAT_TOLERANCE)
        export_info.setdefault("agreement_vs_frozen", {})["onnx"] = {
            **agg.to_json(), "tolerance": FLOAT_TOLERANCE, "within_tolerance": ok,
            "images": len(images), "compare_min_score": COMPARE_MIN_SCORE}
        print(f"onnx vs frozen on {len(images)} images: matched {agg.matched}, min IoU "
              f"{agg.min_iou:.3f}, max |dscore| {agg.max_score_delta:.4f}: "
              f"{'within' if ok else 'OUTSIDE'} tolerance")
    atomic_write_text(info_path, json.dumps(export_info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    from common.cli import run_main

    sys.exit(run_main(main))
