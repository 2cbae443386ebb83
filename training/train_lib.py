"""The training loop: tf.distribute strategy, tf.data, checkpoints with resume, TensorBoard.

Resume is by design, not by flag: rerunning the same command finds the latest
checkpoint in --model-dir and continues from its step (the step counter lives
in the checkpoint), so a killed run loses at most `checkpoint_every` steps.
The restore must be complete (a checkpoint of another config is an error, not
a silent partial restore); an unreadable newest checkpoint falls back to the
previous one. `num_steps` 0 trains until stopped, as in the OD API.

Several workers (TF_CONFIG, MultiWorkerMirroredStrategy): every worker runs
the same steps and saves, because saving is collective, but only the chief
writes into --model-dir; the others write checkpoints and summaries to a
temporary folder that is deleted at the end (TF's multi-worker guide).
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.atomic import atomic_write_text
from common.errors import UserError
from config import loader as config_loader
from config import paths
from ssd.builder import build_from_pipeline
from ssd.losses import ssd_loss
from ssd.targets import SsdTargetAssigner
from training import augment, checkpoints, optimizers, record_check, zoo
from training.inputs import TrainInputs

log = logging.getLogger(__name__)

LOSS_EXPLOSION = 1e6
CONSOLE_LOG_SECONDS = 30.0


class TrainingDiverged(UserError):
    """The loss became NaN/inf or exploded; the message says at which step."""


@dataclass
class TrainOptions:
    model_dir: Path
    num_steps: int
    checkpoint_every: int = 500
    log_every: int = 10
    summary_images_every: int = 500
    eval_every: int = 0
    max_checkpoints: int = 5
    keep_every: int = 0               # also keep every N-th step's checkpoint in kept/
    seed: int | None = None
    config_path: Path | None = None   # the pipeline.config file, for file:line errors


def select_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored from TF_CONFIG, Mirrored on several GPUs, else the default."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one worker that writes --model-dir (always, without TF_CONFIG)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    spec = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in spec


def _num_workers(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return len(spec.get("worker", [])) + len(spec.get("chief", []))


def check_inputs(pipeline, files: list[str], config_path: Path | None) -> None:
    """Before the first step: the label map agrees with num_classes, records are intact.

    Both mistakes used to cost a whole run (a wrong class count trained to exit 0;
    a cut-short record crashed tens of seconds in without naming the file).
    """
    from config.validation import check_label_map
    from data_prep.label_map import read_label_map

    reader = pipeline.train_input_reader
    if reader.label_map_path:
        path = paths.label_map_path(reader, "train_input_reader")
        if not path.is_file():
            raise UserError(f"train_input_reader.label_map_path: {path} does not exist")
        check_label_map(pipeline, read_label_map(path), str(path), config_path)
    record_check.scan_framing(files, "train_input_reader.input_path")


def _save(manager: tf.train.CheckpointManager, step: int) -> str:
    """manager.save, with a full disk or a read-only folder as one clear error and the
    half-written `ckpt-N_temp` removed (not left to keep the disk full)."""
    try:
        return manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as exc:
        checkpoints.remove_stale_temps(Path(manager.directory))
        reason = exc.message if isinstance(exc, tf.errors.OpError) else (exc.strerror or str(exc))
        raise UserError(f"--model-dir {manager.directory}: cannot save the checkpoint of step "
                        f"{step} ({' '.join(reason.split())[:200]}); free disk space or "
                        f"fix permissions, then rerun to resume from the last checkpoint") from None


def _summary_image(images, boxes, counts, max_images=3):
    """Training images (back in 0..1) with their groundtruth boxes drawn."""
    images = (images[:max_images] + 1.0) / 2.0
    boxes = boxes[:max_images]
    mask = tf.sequence_mask(counts[:max_images], tf.shape(boxes)[1], dtype=tf.float32)[..., None]
    colors = tf.constant([[1.0, 0.2, 0.2]])
    return tf.image.draw_bounding_boxes(images, boxes * mask, colors)


def train(pipeline, options: TrainOptions) -> dict:
    """Train from `pipeline` (a parsed TrainEvalPipelineConfig) into options.model_dir."""
    if options.num_steps < 0:
        raise UserError(f"num_steps must be >= 0 (0: train until stopped), got {options.num_steps}")
    if options.keep_every < 0:
        raise UserError(f"--keep-every must be >= 0 (0: keep only the newest checkpoints), "
                        f"got {options.keep_every}")
    if options.seed is not None:
        tf.keras.utils.set_random_seed(options.seed)

    tc = pipeline.train_config
    sources = paths.input_sources(pipeline.train_input_reader, "train_input_reader")
    files = [f for group in sources for f in group]
    check_inputs(pipeline, files, options.config_path)
    strategy = select_strategy()
    chief = is_chief(strategy)
    workers = _num_workers(strategy)
    if workers > 1 and len(files) < workers:
        raise UserError(f"train_input_reader.input_path: {len(files)} record file(s) for "
                        f"{workers} workers; each worker reads its own files, so write at "
                        f"least {workers} shards (--shards)")
    model_dir = options.model_dir
    # Non-chief workers write to a temporary folder (removed at the end), but read
    # the chief's --model-dir to resume: it must be on storage every worker sees.
    write_dir = model_dir if chief else Path(tempfile.mkdtemp(prefix="handtrack-worker-"))
    model_dir.mkdir(parents=True, exist_ok=True)
    if chief:
        checkpoints.remove_stale_temps(model_dir)
        config_loader.save_pipeline(pipeline, model_dir / "pipeline.config")
    with strategy.scope():
        model = build_from_pipeline(pipeline)
        optimizer, lr_schedule = optimizers.optimizer_from_proto(tc.optimizer)
        # Slot variables now, so a resume can check that the checkpoint filled everything.
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)

    restored = checkpoints.resume_latest(ckpt, model_dir, repair=chief)
    manager = tf.train.CheckpointManager(ckpt, str(write_dir), max_to_keep=options.max_checkpoints)
    if restored:
        log.info("resuming from %s at step %d", restored, int(step.numpy()))
    elif tc.fine_tune_checkpoint:
        source = (zoo.fetch(tc.fine_tune_checkpoint) if zoo.is_url(tc.fine_tune_checkpoint)
                  else paths.resolve_path(tc.fine_tune_checkpoint))
        checkpoints.restore_zoo_checkpoint(model, source, config_loader.fine_tune_checkpoint_type(tc))
    else:
        log.warning("no fine_tune_checkpoint: training from random initialisation")

    start_step = int(step.numpy())
    until_stopped = options.num_steps == 0
    if until_stopped:
        log.info("num_steps is 0: training until stopped (Ctrl-C or SIGTERM saves a "
                 "checkpoint; rerun to continue)")
    elif start_step >= options.num_steps:
        log.info("already trained to step %d (num_steps %d); nothing to do", start_step, options.num_steps)
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)
        return {"step": start_step, "resumed": True}

    cfg = model.config
    inputs = TrainInputs.from_reader(
        pipeline.train_input_reader, sources, batch_size=tc.batch_size, input_size=cfg.input_size,
        target_assigner=SsdTargetAssigner(cfg, model.anchors_corners),
        augment=augment.augmentation_from_proto(tc.data_augmentation_options),
        pad_narrower_images=cfg.pad_narrower_images, seed=options.seed)
    dist_ds = strategy.distribute_datasets_from_function(inputs.dataset)
    iterator = iter(dist_ds)
    clip_norm = tc.gradient_clipping_by_norm

    def replica_step(features, targets):
        with tf.GradientTape() as tape:
            outputs = model(features["image"], training=True)
            decoded = model.decode_boxes(outputs["box_encodings"])
            losses = ssd_loss(outputs, targets, decoded, cfg.loss)
            reg = tf.add_n(model.losses) if model.losses else tf.constant(0.0)
            total = losses["classification_loss"] + losses["localization_loss"] + reg
            scaled = total / strategy.num_replicas_in_sync
        variables = model.trainable_variables
        grads = tape.gradient(scaled, variables)
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm)
        optimizer.apply_gradients(zip(grads, variables))
        losses["regularization_loss"] = reg
        losses["total_loss"] = total
        return losses

    @tf.function
    def train_step(iterator):
        features, targets = next(iterator)
        per_replica = strategy.run(replica_step, args=(features, targets))
        step.assign_add(1)
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in per_replica.items()}

    @tf.function
    def summary_batch(iterator):
        features, _ = next(iterator)
        return strategy.experimental_local_results(features)[0]

    writer = tf.summary.create_file_writer(str(write_dir / "train"))
    eval_hook = (_make_eval_hook(pipeline, model, model_dir)
                 if options.eval_every and chief else None)
    log.info("training %s: batch %d, input %dx%d, %d anchors, steps %d -> %d, %s, %d record files",
             "ssd_mobilenet_v1", tc.batch_size, cfg.input_size[0], cfg.input_size[1],
             model.num_anchors, start_step, options.num_steps, type(strategy).__name__, len(files))

    last = {}
    history: list[tuple[int, float]] = []
    t_window, s_window = time.time(), start_step
    t_start = time.time()
    bar = tqdm(total=options.num_steps or None, initial=start_step, unit="step", dynamic_ncols=True,
               desc="train", disable=None)
    next_console_log = time.time() + CONSOLE_LOG_SECONDS
    try:
        with writer.as_default():
            while until_stopped or int(step.numpy()) < options.num_steps:
                try:
                    losses = train_step(iterator)
                except tf.errors.DataLossError as exc:
                    raise _name_corrupt_file(files, exc) from None
                current = int(step.numpy())
                values = {k: float(v) for k, v in losses.items()}
                total = values["total_loss"]
                if not math.isfinite(total) or total > LOSS_EXPLOSION:
                    raise TrainingDiverged(
                        f"loss is {total} at step {current}: training diverged; lower the "
                        f"learning rate in {tc.optimizer.WhichOneof('optimizer')} or check the records")
                last = values
                history.append((current, total))
                bar.update(1)
                if current % options.log_every == 0 or current == options.num_steps:
                    now = time.time()
                    steps_per_sec = (current - s_window) / max(now - t_window, 1e-9)
                    t_window, s_window = now, current
                    lr = optimizers.learning_rate_at(lr_schedule, current)
                    for name, value in values.items():
                        tf.summary.scalar(f"loss/{name}" if "loss" in name else name, value, step=current)
                    tf.summary.scalar("learning_rate", lr, step=current)
                    tf.summary.scalar("steps_per_sec", steps_per_sec, step=current)
                    bar.set_postfix(loss=f"{total:.3f}", lr=f"{lr:.2e}", sps=f"{steps_per_sec:.2f}")
                if bar.disable and time.time() >= next_console_log:
                    # No terminal (log file, CI): a plain progress line instead of the bar.
                    next_console_log = time.time() + CONSOLE_LOG_SECONDS
                    rate = (current - start_step) / max(time.time() - t_start, 1e-9)
                    eta = (options.num_steps - current) / max(rate, 1e-9)
                    log.info("step %d/%s  loss %.3f  %.2f steps/s  ETA %s", current,
                             options.num_steps or "-", total, rate,
                             "-" if until_stopped else time.strftime("%H:%M:%S", time.gmtime(eta)))
                if options.summary_images_every and (current == start_step + 1 or
                                                     current % options.summary_images_every == 0):
                    feats = summary_batch(iterator)
                    tf.summary.image("train/groundtruth", _summary_image(
                        feats["image"], feats["groundtruth_boxes"], feats["num_groundtruth"]),
                        step=current, max_outputs=3)
                keep = bool(options.keep_every) and current % options.keep_every == 0
                if keep or current % options.checkpoint_every == 0:
                    saved = _save(manager, current)
                    if keep and chief:
                        checkpoints.keep_checkpoint(saved)
                if eval_hook and current % options.eval_every == 0:
                    eval_hook(current)
                writer.flush()
    except KeyboardInterrupt:
        bar.close()
        path = _save(manager, int(step.numpy()))
        log.info("interrupted: saved %s; rerun the same command to resume", path)
        raise
    bar.close()
    end_step = int(step.numpy())
    # The loop may have just saved this step; saving it again rewrites files in place.
    latest = manager.latest_checkpoint
    final = (latest if latest and checkpoints.step_of(latest) == end_step
             else _save(manager, end_step))
    elapsed = time.time() - t_start
    result = {"step": end_step, "checkpoint": final, "wall_time_s": round(elapsed, 1),
              "steps_per_sec": round((end_step - start_step) / max(elapsed, 1e-9), 3),
              "final_losses": {k: round(v, 5) for k, v in last.items()},
              "loss_history": [(s, round(v, 5)) for s, v in history]}
    log.info("done: step %d, %.1f s, checkpoint %s, losses %s", end_step, elapsed, final,
             json.dumps(result["final_losses"]))
    summary = {k: v for k, v in result.items() if k != "loss_history"}
    summary.update(start_step=start_step, batch_size=tc.batch_size, hardware=hardware_description(),
                   tensorflow=tf.__version__, finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if chief:
        atomic_write_text(model_dir / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    else:
        writer.close()
        shutil.rmtree(write_dir, ignore_errors=True)
        result["checkpoint"] = None
    return result


def _name_corrupt_file(files: list[str], exc: tf.errors.DataLossError) -> UserError:
    """tf.data's DataLossError has no file name: find the file and name it."""
    found = record_check.find_corrupt(files)
    if found is None:
        return UserError(f"train_input_reader.input_path: a record could not be read "
                         f"({exc.message.splitlines()[0][:200]})")
    path, message = found
    return UserError(f"train_input_reader.input_path: {path}: corrupt TFRecord file ({message}); "
                     f"recreate it (rerun the data preparation) or remove it from input_path")


def hardware_description() -> dict:
    """What the run ran on, for experiment records (throughput depends on it)."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return {"cpu": cpu, "cpu_cores": os.cpu_count(), "gpus": gpus}


def _make_eval_hook(pipeline, model, model_dir: Path):
    from evaluation import model_eval

    def hook(step: int) -> None:
        out = model_dir / f"eval_step_{step}"
        metrics = model_eval.evaluate_model(pipeline, model, out, split_name="eval")
        with tf.summary.record_if(True):
            for key in ("AP50", "AP"):
                tf.summary.scalar(f"eval/{key}", metrics[key], step=step)
    return hook
