"""Training end to end on generated data: loss falls, resume after kill -9, divergence, evaluate.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

from tests.synthetic_data import tiny_pipeline

REPO = Path(__file__).resolve().parents[1]
# Every test here trains a real SSD or starts train.py/evaluate.py (10-70 s each on 2 cores).
pytestmark = pytest.mark.slow
def run_cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_total_loss_falls_over_20_steps(tiny_records, tmp_path):
    from training.train_lib import TrainOptions, train

    cfg, _ = tiny_pipeline(tiny_records, tmp_path, num_steps=20)
    result = train(cfg, TrainOptions(model_dir=tmp_path / "run", num_steps=20, log_every=5,
                                     checkpoint_every=10, summary_images_every=10, eval_every=20,
                                     seed=1))
    losses = [v for _, v in result["loss_history"]]
    assert len(losses) == 20
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, losses
    assert (tmp_path / "run" / "ckpt-20.index").exists()
    assert (tmp_path / "run" / "pipeline.config").exists()
    assert (tmp_path / "run" / "eval_step_20" / "metrics.json").exists()
    events = list((tmp_path / "run" / "train").glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        tags.update(v.tag for v in event.summary.value)
    assert {"loss/total_loss", "loss/classification_loss", "loss/localization_loss",
            "learning_rate", "steps_per_sec", "train/groundtruth", "eval/AP50", "eval/AP"} <= tags


def test_keep_every_saves_checkpoints_the_pruning_would_delete(tiny_records, tmp_path):
    """With max_checkpoints 2, steps 2 and 4 are pruned from the run folder; --keep-every 2
    leaves them in kept/, readable by evaluate.py's checkpoint lookup, and equal to what
    was saved (the step variable inside says which step it is). Reading every tensor
    catches a kept file that a later save of the same step rewrote underneath it."""
    from training.checkpoints import checkpoint_prefix
    from training.train_lib import TrainOptions, train

    cfg, _ = tiny_pipeline(tiny_records, tmp_path, num_steps=8)
    run = tmp_path / "run"
    train(cfg, TrainOptions(model_dir=run, num_steps=8, checkpoint_every=1, max_checkpoints=2,
                            keep_every=2, summary_images_every=0, seed=1))
    assert sorted(p.name for p in run.glob("ckpt-*.index")) == ["ckpt-7.index", "ckpt-8.index"]
    kept = sorted(p.name for p in (run / "kept").glob("*.index"))
    assert kept == ["ckpt-2.index", "ckpt-4.index", "ckpt-6.index", "ckpt-8.index"]
    for n in (2, 4, 6, 8):   # 8: the last step, which the loop and the end both used to save
        prefix = checkpoint_prefix(run / "kept" / f"ckpt-{n}")
        reader = tf.train.load_checkpoint(prefix)
        assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == n
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    assert not list((run / "kept").glob("*.tmp"))


def test_resume_after_kill_9(tiny_records, tmp_path):
    _, config = tiny_pipeline(tiny_records, tmp_path, num_steps=500)
    model_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "train.py", "--pipeline", str(config),
                             "--model-dir", str(model_dir), "--checkpoint-every", "2"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not list(model_dir.glob("ckpt-*.index")):
            assert proc.poll() is None, "training exited before its first checkpoint"
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("ckpt-*.index"))
    assert saved >= 2
    again = run_cli("train.py", "--pipeline", str(config), "--model-dir", str(model_dir),
                    "--num-steps", str(saved + 2), "--checkpoint-every", "2")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming from {model_dir / f'ckpt-{saved}'}" in again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["step"] == saved + 2


def test_diverging_loss_stops_with_clear_error(tiny_records, tmp_path):
    _, config = tiny_pipeline(tiny_records, tmp_path, num_steps=30, learning_rate=1e12)
    res = run_cli("train.py", "--pipeline", str(config), "--model-dir", str(tmp_path / "run"))
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: loss is") and "diverged" in last


def test_evaluate_cli_writes_metrics_and_pr_curve(trained_tiny_checkpoint, tmp_path):
    """A model trained until it finds the blobs scores above the measured floor on held-out
    images; a broken model, box decoder, NMS or scorer would not (untrained: < 0.02)."""
    from tests.conftest import TRAINED_TINY_AP50_FLOOR

    config, model_dir, _ = trained_tiny_checkpoint
    bad = run_cli("evaluate.py", "--pipeline", str(config), "--checkpoint", str(model_dir),
                  "--score-thresh", "1.5")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith(
        "error: --score-thresh"), bad.stderr[-2000:]
    res = run_cli("evaluate.py", "--pipeline", str(config), "--checkpoint", str(model_dir),
                  "--out", str(tmp_path / "eval"), "--score-thresh", "0.3")
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    errors = metrics["metrics"]["errors"]
    assert errors["score_threshold"] == 0.3 and errors["hands"] > 0
    assert errors["found"] + errors["missed"] == errors["hands"]
    assert "at score 0.3: found" in res.stderr
    print("held-out AP50:", metrics["metrics"]["AP50"])  # shown with -s
    assert metrics["metrics"]["AP50"] >= TRAINED_TINY_AP50_FLOOR, metrics["metrics"]
    assert metrics["num_images"] == 12
    low, high = metrics["metrics"]["AP50_ci95"]   # --bootstrap 200 by default
    assert low <= metrics["metrics"]["AP50"] <= high and low < high, metrics["metrics"]
    assert "95% interval" in res.stdout
    assert (tmp_path / "eval" / "pr_curve.png").stat().st_size > 1000


def test_bad_config_field_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.config"
    bad.write_text((REPO / "pipeline_configs" / "ssd.config").read_text().replace(
        "num_classes: 1", "num_classes: 1\n    num_clases: 2", 1))
    res = run_cli("train.py", "--pipeline", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error:") and "num_clases" in res.stderr


def test_fine_tune_from_an_earlier_handtrack_run(tiny_checkpoint):
    """fine_tune_checkpoint may name our own TF2 checkpoint (continue a run with new data)."""
    import numpy as np

    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained, restore_zoo_checkpoint

    config, model_dir = tiny_checkpoint
    pipeline = load_pipeline(config)
    reference, fresh = build_from_pipeline(pipeline), build_from_pipeline(pipeline)
    restore_trained(reference, model_dir)
    report = restore_zoo_checkpoint(fresh, model_dir, "detection")
    assert len(report.restored) == len(fresh.slim_variable_map())
    for a, b in zip(reference.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
