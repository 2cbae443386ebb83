"""Load weights: model-zoo TF1 checkpoints by name, and our own TF2 training checkpoints.

Zoo checkpoints are name-based (no object graph), so they are read tensor by
tensor with `tf.train.load_checkpoint` and assigned to the variable carrying the
same Object Detection API name (see `SSDDetector.slim_variable_map`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from common.errors import UserError

log = logging.getLogger(__name__)

CHECKPOINT_TYPES = ("classification", "detection")
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # model name -> reason
    unused: list[str] = field(default_factory=list)        # checkpoint names nobody took

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for reason in self.skipped.values():
            key = reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        why = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none"
        return (f"restored {len(self.restored)} variables, skipped {len(self.skipped)} ({why}), "
                f"{len(self.unused)} checkpoint tensors unused")


def checkpoint_prefix(path: str | os.PathLike, field: str = "--checkpoint") -> str:
    """Accept a checkpoint prefix, its .index file, or a folder holding one.

    `field` (the flag or config field the path came from) starts error messages.
    """
    p = Path(path)
    if p.is_dir():
        latest = tf.train.latest_checkpoint(str(p))
        if latest:
            return latest
        # Zoo archives unpack into a folder of their own; look one level down too.
        indexes = sorted(p.glob("*.index")) or sorted(p.glob("*/*.index"))
        if len(indexes) == 1:
            return str(indexes[0].with_suffix(""))
        if indexes:
            raise UserError(f"{field}: {p}: several checkpoints in this folder "
                            f"({', '.join(i.stem for i in indexes[:4])}); name one")
        raise UserError(f"{field}: {p}: no checkpoint found in this folder")
    if p.suffix == ".index" and p.exists():
        return str(p.with_suffix(""))
    if Path(str(p) + ".index").exists():
        return str(p)
    raise UserError(f"{field}: {p}: checkpoint not found (expected {p}.index or a folder "
                    f"with a checkpoint)")


def restore_zoo_checkpoint(model, path: str | os.PathLike, checkpoint_type: str) -> RestoreReport:
    """Assign zoo tensors to the model's variables by name; shapes must match.

    `classification` checkpoints carry `MobilenetV1/...` (the backbone alone);
    `detection` checkpoints carry `FeatureExtractor/...` and `BoxPredictor_N/...`.
    Class predictors of another class count differ in shape and stay freshly
    initialised, which is what fine-tuning to hands wants.
    """
    if checkpoint_type not in CHECKPOINT_TYPES:
        raise UserError(f"fine_tune_checkpoint_type: {checkpoint_type!r} is not one of {CHECKPOINT_TYPES}")
    prefix = checkpoint_prefix(path, "fine_tune_checkpoint")
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as exc:
        raise UserError(f"{prefix}: cannot read checkpoint ({exc.__class__.__name__})") from exc
    shapes = reader.get_variable_to_shape_map()
    if OBJECT_GRAPH_KEY in shapes:
        # A handtrack training checkpoint: continue from an earlier run's weights
        # (the optimizer state and step counter are not carried over).
        if checkpoint_type != "detection":
            raise UserError(f"{prefix}: a handtrack detection checkpoint needs "
                            f"fine_tune_checkpoint_type: \"detection\"")
        restore_trained(model, prefix, "fine_tune_checkpoint")
        report = RestoreReport(restored=sorted(model.slim_variable_map()))
        log.info("fine-tune checkpoint %s (handtrack): restored all %d model variables",
                 prefix, len(report.restored))
        return report

    def ckpt_name(model_name: str) -> str:
        if checkpoint_type == "classification":
            return model_name.removeprefix("FeatureExtractor/")
        return model_name

    report = RestoreReport()
    taken = set()
    for name, variable in model.slim_variable_map().items():
        source = ckpt_name(name)
        if source not in shapes:
            report.skipped[name] = "not in checkpoint"
            continue
        if list(shapes[source]) != variable.shape.as_list():
            report.skipped[name] = (f"shape mismatch: checkpoint {shapes[source]} "
                                    f"vs model {variable.shape.as_list()}")
            continue
        variable.assign(reader.get_tensor(source))
        report.restored.append(name)
        taken.add(source)
    report.unused = sorted(n for n in shapes if n not in taken and n != "global_step")
    if not report.restored:
        raise UserError(
            f"{prefix}: no variable of the model matches this checkpoint as a "
            f"{checkpoint_type!r} checkpoint (is fine_tune_checkpoint_type right?)")
    log.info("fine-tune checkpoint %s (%s): %s", prefix, checkpoint_type, report.summary())
    for name, reason in sorted(report.skipped.items()):
        log.debug("  skipped %s: %s", name, reason)
    return report


def restore_trained(model, path: str | os.PathLike, field: str = "--checkpoint") -> str:
    """Restore a checkpoint written by our training loop (for eval and export)."""
    prefix = checkpoint_prefix(path, field)
    try:
        status = tf.train.Checkpoint(model=model).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as exc:
        raise UserError(f"{field}: {prefix}: not a handtrack training checkpoint for this model "
                        f"({str(exc).splitlines()[0][:200]})") from exc
    log.info("restored %s", prefix)
    return prefix
