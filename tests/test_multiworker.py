"""Scale-out: two train.py workers on 127.0.0.1 (TF_CONFIG, MultiWorkerMirroredStrategy).

Both workers finish; only the chief writes checkpoints and summaries into
--model-dir (the other's temporary folder is gone at the end); the per-step loss
matches a single-process run with the same global batch.

Why the records hold one image, repeated: then every batch is the same whatever
the sharding and shuffling, so the two runs must agree step for step up to float
summation order, and a wrong gradient aggregation (summed instead of averaged
across workers, a replica skipped) changes the loss from step 2 on.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

from tests.conftest import REPO_ROOT, run_together  # noqa: E402
from config.loader import save_pipeline  # noqa: E402
from tests.synthetic_data import make_images, tiny_pipeline  # noqa: E402

STEPS = 4
GLOBAL_BATCH = 4
REL_TOLERANCE = 1e-3
TIMEOUT = 420


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _same_image_records(root: Path) -> Path:
    """8 copies of one generated image, imported as 2 train shards (one per worker)."""
    from data_prep.import_annotations import import_csv

    make_images(root / "one", count=1)
    rows = list(csv.reader(open(root / "one" / "labels.csv")))
    images = root / "raw" / "images"
    images.mkdir(parents=True)
    out_rows = [rows[0]]
    for i in range(8):
        name = f"COPY{i}_frame_0000.jpg"
        shutil.copy(root / "one" / "images" / rows[1][0], images / name)
        out_rows += [[name, *r[1:8], f"COPY{i}"] for r in rows[1:]]
    with open(root / "raw" / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(out_rows)
    import_csv(root / "raw" / "labels.csv", images, root / "prepared",
               fractions=(0.75, 0.125, 0.125), shards=2, progress=False)
    return root / "prepared"


def _losses(model_dir: Path) -> dict[int, float]:
    out = {}
    for events in (model_dir / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "loss/total_loss":
                    out[event.step] = float(tf.make_ndarray(value.tensor))
    return out


def _cmd(config: Path, model_dir: Path) -> list[str]:
    return [sys.executable, "train.py", "--pipeline", str(config), "--model-dir",
            str(model_dir), "--log-every", "1", "--checkpoint-every", "2", "--seed", "3"]


@pytest.mark.slow
def test_two_workers_match_single_process(tmp_path):
    records = _same_image_records(tmp_path / "data")
    cfg, config = tiny_pipeline(records, tmp_path, num_steps=STEPS)  # global batch 4
    # Frozen batch norm, as in the shipped configs: trainable batch norm normalises
    # by each replica's own batch (MultiWorkerMirrored does not sync it), so its loss
    # follows the per-replica batch, not the global one. Plain momentum SGD: unlike
    # Adam, its step scales with the gradient, so mis-aggregated gradients show.
    cfg.model.ssd.freeze_batchnorm = True
    opt = cfg.train_config.optimizer
    opt.momentum_optimizer.learning_rate.constant_learning_rate.learning_rate = 0.02
    opt.momentum_optimizer.momentum_optimizer_value = 0.9
    save_pipeline(cfg, config)
    base_env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    base_env.pop("TF_CONFIG", None)

    # The single-process run starts alongside the two workers (tests/conftest.run_together).
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = tmp_path / "multi"
    runs, temps = [(_cmd(config, tmp_path / "single"), base_env)], []
    for index in range(2):
        temp = tmp_path / f"tmp{index}"          # each worker's TMPDIR, to see what it leaves
        temp.mkdir()
        temps.append(temp)
        env = dict(base_env, TMPDIR=str(temp), TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        runs.append((_cmd(config, model_dir), env))
    single, *workers = run_together(runs, timeout=TIMEOUT)
    for res in (single, *workers):
        assert res.returncode == 0, res.stderr[-3000:]
    assert "MultiWorkerMirroredStrategy" in workers[0].stderr

    # Only the chief (worker 0) wrote --model-dir: one event file, its checkpoints.
    assert len(list((model_dir / "train").glob("events.out.tfevents.*"))) == 1
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{STEPS}")
    assert (model_dir / "train_summary.json").exists()
    assert not list(temps[1].iterdir()), list(temps[1].iterdir())  # worker 1 cleaned up

    single_losses, multi_losses = _losses(tmp_path / "single"), _losses(model_dir)
    assert sorted(single_losses) == sorted(multi_losses) == list(range(1, STEPS + 1))
    worst = max(abs(multi_losses[s] - single_losses[s]) / abs(single_losses[s])
                for s in single_losses)
    print(f"per-step loss single {single_losses} multi {multi_losses} worst rel {worst:.2e}")
    assert worst < REL_TOLERANCE, (single_losses, multi_losses)
    # Training moved the weights: a test that a frozen model would pass is no test.
    assert single_losses[STEPS] != single_losses[1]
