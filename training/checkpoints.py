"""Load weights: model-zoo TF1 checkpoints by name, our own TF2 training checkpoints,
and (training.from_export) exported handtrack models.

Zoo checkpoints are name-based (no object graph), so they are read tensor by
tensor with `tf.train.load_checkpoint` and assigned to the variable carrying the
same Object Detection API name (see `SSDDetector.slim_variable_map`).
"""
from __future__ import annotations

import logging
import os
import re
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
    from training.from_export import frozen_graph_of, restore_from_export

    if frozen_graph_of(path) is not None:
        # An exported handtrack model (e.g. the shipped one): adapt it to new data.
        if checkpoint_type != "detection":
            raise UserError(f"{path}: an exported detection model needs "
                            f"fine_tune_checkpoint_type: \"detection\"")
        return restore_from_export(model, path)
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


class CheckpointMismatch(UserError):
    """A checkpoint in --model-dir does not fit the model/optimizer of this config."""


_STEP = re.compile(r"ckpt-(\d+)$")


def step_of(prefix: str | os.PathLike) -> int | None:
    """N of a `...ckpt-N` prefix (None for other names)."""
    m = _STEP.search(Path(prefix).name)
    return int(m.group(1)) if m else None


def numbered_checkpoints(model_dir: Path) -> list[str]:
    """Prefixes of `ckpt-N` checkpoints in `model_dir`, newest (highest N) first.

    Read from the files, not the `checkpoint` state file, so a checkpoint whose
    state entry was lost, or a state file naming deleted files, cannot mislead.
    """
    prefixes = [str(index.with_suffix("")) for index in model_dir.glob("ckpt-*.index")]
    return sorted((p for p in prefixes if step_of(p) is not None), key=step_of, reverse=True)


def remove_stale_temps(model_dir: Path) -> list[Path]:
    """Delete what a killed or failed save left: `ckpt-N_temp/` shard folders and
    `*.tempstate*` files (a disk-full save once left 37 MB that kept the disk full)."""
    stale = [p for p in model_dir.glob("*_temp") if p.is_dir()]
    stale += [p for p in model_dir.glob("*.tempstate*") if p.is_file()]
    for path in stale:
        if path.is_dir():
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        log.warning("removed %s, left by an interrupted checkpoint save", path)
    return stale


def _delete_checkpoint(prefix: str) -> None:
    for path in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        path.unlink(missing_ok=True)


def resume_latest(ckpt: tf.train.Checkpoint, model_dir: Path, repair: bool = True) -> str | None:
    """Restore the newest readable checkpoint in `model_dir` into `ckpt`, fully.

    `ckpt`'s optimizer must already be built (its slot variables exist), so
    that every value in the checkpoint has a place to go: a checkpoint that
    does not match completely (another optimizer, another model) is an error,
    never a silent partial restore. A checkpoint that cannot be read (cut short
    by a full disk, a killed copy) is deleted with a warning and the previous
    one is tried; the `checkpoint` state file is rewritten to match. With
    `repair` False (a non-chief worker: the folder is the chief's) nothing is
    deleted or rewritten. Returns the restored prefix, or None when there is none.
    """
    candidates = numbered_checkpoints(model_dir)
    dropped = []
    for prefix in candidates:
        try:
            status = ckpt.restore(prefix)
        except (tf.errors.OpError, ValueError, IndexError, OSError) as exc:
            # IndexError: "Read less bytes than requested" from a cut-short data file.
            if isinstance(exc, ValueError) and "shape" in str(exc).lower():
                raise CheckpointMismatch(_mismatch(prefix, model_dir, exc)) from None
            log.warning("checkpoint %s is unreadable (%s); %sfalling back to the previous one",
                        prefix, str(exc).splitlines()[0][:160], "deleting it and " if repair else "")
            if repair:
                _delete_checkpoint(prefix)
            dropped.append(prefix)
            continue
        try:
            status.assert_consumed()
        except AssertionError as exc:
            raise CheckpointMismatch(_mismatch(prefix, model_dir, exc)) from None
        if dropped and repair:
            remaining = numbered_checkpoints(model_dir)
            tf.compat.v1.train.update_checkpoint_state(
                str(model_dir), prefix, all_model_checkpoint_paths=list(reversed(remaining)))
        return prefix
    if dropped:
        raise UserError(f"--model-dir {model_dir}: no readable checkpoint left (unreadable: "
                        f"{', '.join(Path(p).name for p in dropped)}); rerun to start from "
                        f"the beginning")
    return None


def _mismatch(prefix: str, model_dir: Path, exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:200]
    return (f"--model-dir {model_dir}: checkpoint {Path(prefix).name} does not match this "
            f"config's model and optimizer (was the config changed since it was written? "
            f"use a new --model-dir, or set fine_tune_checkpoint to {prefix} to start from "
            f"its weights): {detail}")


KEPT_DIR = "kept"


def keep_checkpoint(prefix: str | os.PathLike) -> Path:
    """Copy a saved checkpoint into `kept/` beside it.

    The CheckpointManager prunes all but the newest few, but held-out accuracy on unseen
    scenes has peaked early in three runs here (egocentric AP@0.5 0.56 at step 1000,
    0.44 at 3000), and means of early checkpoints beat each of them
    (average_checkpoints.py), so the checkpoints to compare must outlive the pruning.
    Copies, not hard links: TensorFlow rewrites a checkpoint's .index in place when the
    same step is saved again, which left a linked copy unreadable.
    """
    import shutil

    from common.atomic import atomic_path

    prefix = Path(prefix)
    kept = prefix.parent / KEPT_DIR
    kept.mkdir(exist_ok=True)
    for src in sorted(prefix.parent.glob(prefix.name + ".*")):
        with atomic_path(kept / src.name) as tmp:
            shutil.copyfile(src, tmp)
    return kept / prefix.name
