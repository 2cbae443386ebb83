"""Average the weights of several checkpoints of one run into a new checkpoint.

Why: held-out accuracy on unseen scenes peaks early while the training sets keep
improving (run i: egocentric AP@0.5 0.557 at step 1000 and 0.396 at 1500; webcam
0.905 and 0.948). The plain mean of the two scored 0.671 and 0.956, above both on
both sets: the weight averaging of Izmailov et al. 2018 (SWA), a post-hoc cousin
of the OD API's `use_moving_average`, which handtrack does not keep during training.
Averaging only helps across checkpoints that differ (taken while the learning rate
is still high): the last five of a cosine-decayed run (h, steps 2000-3000) averaged
to what each of them scores.

Float variables (weights and batch-norm moving statistics) are averaged; integer
ones are taken from the last checkpoint. The result is a model-only checkpoint that
evaluate.py, export.py and a `fine_tune_checkpoint` accept; it does not resume a
run (it has no optimizer state).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from common.atomic import atomic_dir
from common.errors import UserError
from training.checkpoints import checkpoint_prefix, numbered_checkpoints, restore_trained, step_of

log = logging.getLogger(__name__)

SOURCES_FILE = "averaged_from.json"
def expand_checkpoints(paths: Sequence[str | os.PathLike], min_step: int = 0) -> list[str]:
    """Checkpoint prefixes from prefixes, `.index` files and folders (every `ckpt-N` in a
    folder, in step order), keeping those at step >= min_step; each once."""
    prefixes: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = numbered_checkpoints(p)   # newest first
            if not found:
                raise UserError(f"--checkpoints: {p}: no ckpt-N checkpoint in this folder")
            prefixes += reversed(found)
        else:
            prefixes.append(checkpoint_prefix(p, "--checkpoints"))
    kept = [c for c in prefixes if step_of(c) is None or step_of(c) >= min_step]
    if not kept:
        raise UserError(f"--min-step {min_step}: none of the {len(prefixes)} checkpoints is "
                        f"at or after that step")
    return list(dict.fromkeys(kept))


def normalised_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Uniform without `weights`; otherwise non-negative, one per checkpoint, scaled to sum 1."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise UserError(f"--weights: {len(weights)} weight(s) for {count} checkpoint(s)")
    if any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError(f"--weights: must be finite, >= 0 and not all 0, got {list(weights)}")
    total = float(sum(weights))
    return [w / total for w in weights]


def average_checkpoints(model: tf.keras.Model, prefixes: Sequence[str],
                        weights: Sequence[float] | None = None) -> list[float]:
    """Load the weighted mean of `prefixes` into `model` (already built); returns the weights."""
    if not prefixes:
        raise UserError("--checkpoints: no checkpoint to average")
    weights = normalised_weights(weights, len(prefixes))
    variables = model.variables
    sums = [np.zeros(v.shape, np.float64) for v in variables]
    for prefix, weight in zip(prefixes, weights):
        restore_trained(model, prefix, "--checkpoints")
        for total, var in zip(sums, variables):
            if var.dtype.is_floating:
                total += weight * var.numpy().astype(np.float64)
    # The last restore left the integer variables (if any) at the last checkpoint's values.
    for total, var in zip(sums, variables):
        if var.dtype.is_floating:
            var.assign(total.astype(var.dtype.as_numpy_dtype))
    return weights


def check_out(out: str | os.PathLike, overwrite: bool) -> None:
    """Refuse an existing --out without --overwrite (before the slow loading)."""
    if Path(out).exists() and not overwrite:
        raise UserError(f"--out {out} already exists; pass --overwrite to replace it")


def write_averaged(model: tf.keras.Model, out: str | os.PathLike, prefixes: Sequence[str],
                   weights: Sequence[float], pipeline, overwrite: bool = False) -> str:
    """Save `model` as `out/ckpt-N` (N: the last source's step) with the pipeline and the
    sources beside it; the folder appears only complete. Returns the checkpoint prefix."""
    from config.loader import save_pipeline

    out = Path(out)
    check_out(out, overwrite)
    number = step_of(prefixes[-1]) or 1
    with atomic_dir(out, replace=overwrite) as tmp:
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp), max_to_keep=1)
        saved = manager.save(checkpoint_number=number)
        save_pipeline(pipeline, tmp / "pipeline.config")
        sources = [{"checkpoint": p, "step": step_of(p), "weight": round(w, 6)}
                   for p, w in zip(prefixes, weights)]
        (tmp / SOURCES_FILE).write_text(json.dumps({"sources": sources}, indent=2) + "\n")
        # The state file names the checkpoint by its absolute temp path; make it relative.
        state = tmp / "checkpoint"
        state.write_text(state.read_text().replace(str(tmp) + os.sep, ""))
        name = Path(saved).name
    log.info("averaged %d checkpoints (steps %s) into %s", len(prefixes),
             ", ".join(str(step_of(p)) for p in prefixes), out / name)
    return str(out / name)
