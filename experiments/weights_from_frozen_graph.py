#!/usr/bin/env python3
"""Recover a model-only checkpoint from an exported frozen_inference_graph.pb.

Why: averaging experiments need the shipped model's weights as a checkpoint, and
`train_dir/` (where its soup was averaged) does not survive a fresh machine; the
frozen graph in git is the one copy that does. Freezing turns every variable into
a Const named after the op that read it (`.../conv2d/Conv2D/ReadVariableOp/resource`),
and batch norm stays unfolded (`FusedBatchNormV3` keeps scale, offset, mean and
variance as four inputs), so each variable is found by following the op that
consumes it, not by guessing from names alone. The result is checked: the rebuilt
model must give the frozen graph's detections on real images, or nothing is written.

  python3 experiments/weights_from_frozen_graph.py \\
      --frozen exported_models/handtrack_default/frozen_inference_graph.pb \\
      --pipeline exported_models/handtrack_default/pipeline.config \\
      --images "data/egohands_frames/records/eval.record-*" --out train_dir/v4_recovered
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import parse_command_line, run_main  # noqa: E402

# Which inputs of an op are variables, and what the Keras layer calls them.
ROLES = {
    "Conv2D": {1: "kernel"},
    "DepthwiseConv2dNative": {1: "depthwise_kernel"},
    "BiasAdd": {1: "bias"},
    "FusedBatchNormV3": {1: "gamma", 2: "beta", 3: "moving_mean", 4: "moving_variance"},
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--frozen", required=True, help="frozen_inference_graph.pb of a handtrack export")
    p.add_argument("--pipeline", required=True, help="the pipeline.config the model was trained with")
    p.add_argument("--images", nargs="+", required=True,
                   help="TFRecord patterns whose images check the rebuilt model against the graph")
    p.add_argument("--check-images", type=int, default=8, help="how many images to check")
    p.add_argument("--out", required=True, help="folder for the checkpoint (ckpt-1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    return p


def _const_behind(nodes: dict, name: str):
    """The Const a (possibly Identity-wrapped) input comes from, or None."""
    name = name.split(":")[0].lstrip("^")
    while name in nodes and nodes[name].op == "Identity":
        name = nodes[name].input[0].split(":")[0]
    node = nodes.get(name)
    return node if node is not None and node.op == "Const" else None


def variables_in_graph(graph_def) -> dict[str, "np.ndarray"]:
    """{'<op scope>/<role>': value} for every variable an op of ROLES reads."""
    import tensorflow as tf

    nodes = {n.name: n for n in graph_def.node}
    found = {}
    for node in graph_def.node:
        for index, role in ROLES.get(node.op, {}).items():
            const = _const_behind(nodes, node.input[index])
            if const is None:
                continue
            scope = node.name.rsplit("/", 1)[0]
            found[f"{scope}/{role}"] = tf.make_ndarray(const.attr["value"].tensor)
    return found


def match_variables(variables: Sequence, found: dict) -> list:
    """One graph value per model variable: the key that ends with the variable's own
    scope and role (`conv2dbn_block/conv2d/kernel`); exactly one must match."""
    from common.errors import UserError

    values = []
    for var in variables:
        name = var.name.split(":")[0]
        hits = [k for k in found if k == name or k.endswith("/" + name)]
        if len(hits) != 1:
            raise UserError(f"--frozen: variable {name} matches {len(hits)} graph constants "
                            f"({hits[:3]}); is this graph from this --pipeline?")
        value = found[hits[0]]
        if tuple(value.shape) != tuple(var.shape):
            raise UserError(f"--frozen: {name} has shape {value.shape} in the graph, "
                            f"{tuple(var.shape)} in the model built from --pipeline")
        values.append(value)
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    import numpy as np
    import tensorflow as tf

    from common.errors import UserError
    from config.loader import load_pipeline
    from config.paths import expand_patterns
    from detect.detector import Detector
    from detect.detections import Detections
    from export_lib.exporter import inference_fn_from_model
    from export_lib.representative import images_from_tfrecords
    from ssd.builder import build_from_pipeline
    from training.averaging import check_out, write_averaged

    check_out(args.out, args.overwrite)
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(args.frozen).read_bytes())
    pipeline = load_pipeline(args.pipeline)
    model = build_from_pipeline(pipeline)
    values = match_variables(model.variables, variables_in_graph(graph_def))
    for var, value in zip(model.variables, values):
        var.assign(value)

    # The check: the same boxes and scores as the frozen graph, image by image.
    images = images_from_tfrecords(expand_patterns(args.images, "--images", unique=True),
                                   limit=args.check_images)
    rebuilt = inference_fn_from_model(model)
    worst, checked = 0.0, 0
    with contextlib.closing(Detector(args.frozen, tiles="off")) as graph:
        for rgb in images:
            want = graph.detect_rgb(rgb)
            out = {k: v.numpy() for k, v in rebuilt(tf.constant(rgb[None])).items()}
            got = Detections.from_normalized(out["detection_boxes"][0], out["detection_scores"][0],
                                             out["detection_classes"][0] + 1,
                                             np.ravel(out["num_detections"])[0],
                                             rgb.shape[1], rgb.shape[0], graph.label_names)
            if len(got) != len(want):
                raise UserError(f"--frozen: the rebuilt model finds {len(got)} boxes where the "
                                f"graph finds {len(want)}; not written")
            worst = max(worst, float(np.max(np.abs(got.scores - want.scores), initial=0.0)),
                        float(np.max(np.abs(got.boxes - want.boxes), initial=0.0)) / max(rgb.shape))
            checked += 1
    if worst > 1e-4:
        raise UserError(f"--frozen: the rebuilt model differs from the graph by {worst:.2g} "
                        f"in boxes or scores; not written")
    saved = write_averaged(model, args.out, [str(args.frozen)], [1.0], pipeline,
                           overwrite=args.overwrite)
    print(json.dumps({"checkpoint": saved, "variables": len(values), "images_checked": checked,
                      "max_abs_difference": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
