"""Weights of an exported handtrack model, read back from its frozen graph.

Why: a user who wants the shipped model adapted to their own camera or hands should
fine-tune from it (`fine_tune_checkpoint: "exported_models/handtrack_default"`), not
start again from COCO; and an export in git is the one copy of a model's weights that
outlives the `train_dir/` it was trained in. Exports ship no checkpoint (it would
double the repository's largest files), but freezing keeps every variable as a
Const named after the op that read it (`.../conv2d/Conv2D/ReadVariableOp/resource`)
and batch norm unfolded (`FusedBatchNormV3` keeps scale, offset, mean and variance as
its four inputs). So each value is found by following the op that consumes it, which
also says its role; the layer scope in the op's name then picks the model variable.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import tensorflow as tf

from common.errors import UserError
from common.frozen_graph import read_graph_def

log = logging.getLogger(__name__)

# Layers whose shapes follow the number of classes or anchors (skipped when they differ,
# as with a zoo detection checkpoint); any other difference means another architecture.
PREDICTOR = "box_predictor"
# Which inputs of an op are variables, and what the Keras layer calls them.
ROLES = {
    "Conv2D": {1: "kernel"},
    "DepthwiseConv2dNative": {1: "depthwise_kernel"},
    "BiasAdd": {1: "bias"},
    "FusedBatchNormV3": {1: "gamma", 2: "beta", 3: "moving_mean", 4: "moving_variance"},
}


def frozen_graph_of(path: str | os.PathLike) -> Path | None:
    """The frozen graph of an export folder, or a .pb file itself; None for anything else
    (a checkpoint, a training folder)."""
    from detect.detector import FORMAT_FILES

    p = Path(path)
    if p.is_dir():
        p = p / FORMAT_FILES["frozen"]
    return p if p.suffix == ".pb" and p.is_file() else None


def _const_behind(nodes: dict, name: str):
    """The Const an input comes from through Identity ops (frozen variable reads), or None."""
    name = name.split(":")[0].lstrip("^")
    while name in nodes and nodes[name].op == "Identity":
        name = nodes[name].input[0].split(":")[0]
    node = nodes.get(name)
    return node if node is not None and node.op == "Const" else None


def graph_weights(frozen: Path, field: str = "fine_tune_checkpoint") -> dict[str, np.ndarray]:
    """{'<layer scope>/<role>': value} for every variable an op of ROLES reads."""
    graph_def = read_graph_def(frozen, field)
    nodes = {n.name: n for n in graph_def.node}
    found = {}
    for node in graph_def.node:
        for index, role in ROLES.get(node.op, {}).items():
            const = _const_behind(nodes, node.input[index]) if index < len(node.input) else None
            if const is not None:
                found[f"{node.name.rsplit('/', 1)[0]}/{role}"] = tf.make_ndarray(
                    const.attr["value"].tensor)
    if not found:
        raise UserError(f"{field}: {frozen}: no weights found in this graph")
    return found


_NUMBERED = re.compile(r"(.+?)(?:_(\d+))?")


def canonical_names(paths: Iterable[str]) -> dict[str, str]:
    """Each path with Keras's layer-name counters replaced by their rank among siblings.

    Keras numbers default layer names per process (`conv2d`, `conv2d_1`, ...), so one
    layer is `conv_bn_relu6/conv2d` in a model and `conv_bn_relu6_8/conv2d_20` in a second
    one built beside it. Both create their layers in one order, so under one parent the
    k-th number of a name is the same layer on either side."""
    split = {path: path.split("/") for path in paths}
    canonical = {path: [] for path in split}
    for depth in range(max((len(p) for p in split.values()), default=0)):
        numbers: dict[tuple[str, str], set[int]] = {}
        parsed = {}
        for path, parts in split.items():
            if depth < len(parts):
                base, number = _NUMBERED.fullmatch(parts[depth]).groups()
                parent = "/".join(canonical[path])
                parsed[path] = (parent, base, int(number or 0))
                numbers.setdefault((parent, base), set()).add(int(number or 0))
        for path, (parent, base, number) in parsed.items():
            canonical[path].append(f"{base}#{sorted(numbers[parent, base]).index(number)}")
    return {path: "/".join(parts) for path, parts in canonical.items()}


def restore_from_export(model, export: str | os.PathLike, field: str = "fine_tune_checkpoint"):
    """Assign an export's weights to `model` (already built); returns a RestoreReport.

    A variable takes the graph weight whose layer scope ends with its own and whose role
    is its name (`.../conv2dbn_block/conv2d` + `kernel`), both read through
    canonical_names. As with a zoo detection checkpoint, a box-predictor variable of
    another shape (another number of classes) stays freshly initialised; any other
    difference is an error.
    """
    from training.checkpoints import RestoreReport

    frozen = frozen_graph_of(export)
    if frozen is None:
        raise UserError(f"{field}: {export}: no frozen graph (an export folder or a .pb file)")
    found = graph_weights(frozen, field)
    names = {v.name.split(":")[0]: v for v in model.variables}
    graph_keys = canonical_names(found)
    model_keys = canonical_names(names)
    report = RestoreReport()
    taken = set()
    for name, var in names.items():
        want = model_keys[name]
        hits = [k for k, key in graph_keys.items() if key == want or key.endswith("/" + want)]
        if len(hits) != 1:
            raise UserError(f"{field}: {export}: {name} matches {len(hits)} weights of its graph; "
                            f"not an export of this architecture")
        value = found[hits[0]]
        if tuple(value.shape) == tuple(var.shape):
            var.assign(value)
            report.restored.append(name)
            taken.add(hits[0])
        elif PREDICTOR in name:   # e.g. a class predictor for another number of classes
            report.skipped[name] = (f"shape mismatch: export {list(value.shape)} "
                                    f"vs model {var.shape.as_list()}")
        else:
            raise UserError(f"{field}: {export}: {name} has shape {list(value.shape)} there, "
                            f"{var.shape.as_list()} in this model; not an export of this "
                            f"architecture")
    report.unused = sorted(k for k in found if k not in taken)
    log.info("fine-tune from export %s: %s", export, report.summary())
    for name, reason in sorted(report.skipped.items()):
        log.debug("  skipped %s: %s", name, reason)
    return report
