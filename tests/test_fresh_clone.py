"""The shipped configs start from the model zoo's URLs; offline machines point them at local copies.

A fresh clone has no ../shared, so the shipped configs name the zoo's archives
(issue 8). Without network, `train.py --fine-tune-checkpoint PATH` or a
pre-populated cache entry (training/zoo.py) stand in for the download. The
checks restore the real COCO SSD-MobileNet v1 0.75 checkpoint from ../shared
(skipped when absent), and use an unreachable host or an empty cache so that
any attempt to download fails the test instead of passing by accident.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import UserError
from config.loader import load_pipeline, save_pipeline
from training import zoo

REPO = Path(__file__).resolve().parents[1]
COCO_075 = "ssd_mobilenet_v1_0.75_depth_300x300_coco14_sync_2018_07_03"
# Port 9 (discard) on the loopback refuses connections at once: no network needed to fail.
UNREACHABLE = f"http://127.0.0.1:9/models/object_detection/{COCO_075}.tar.gz"
# 199 variables in the 90-class checkpoint; the 6 class heads' weights and biases
# (91 classes) do not fit one class.
RESTORED_ONE_CLASS = 199 - 12


@pytest.fixture(scope="module")
def coco_075(shared_dir) -> Path:
    path = shared_dir / "weights" / "ssd_mobilenet_v1_0.75_depth_coco"
    if not (path / "model.ckpt.index").exists():
        pytest.skip("COCO 0.75 checkpoint not in ../shared")
    return path


def tiny_075_config(tiny_records, tmp_path, fine_tune_checkpoint: str):
    """The shipped 0.75 config's model at 96x96 on generated records, from `fine_tune_checkpoint`."""
    from tests.synthetic_data import tiny_pipeline

    cfg, path = tiny_pipeline(tiny_records, tmp_path, num_steps=1)
    cfg.model.ssd.feature_extractor.depth_multiplier = 0.75
    cfg.train_config.fine_tune_checkpoint = fine_tune_checkpoint
    cfg.train_config.fine_tune_checkpoint_type = "detection"
    save_pipeline(cfg, path)
    return cfg, path


def test_shipped_configs_name_the_zoo_archives():
    """Verified against the TF1 detection model zoo table (tf1_detection_zoo.md)."""
    zoo_base = "http://download.tensorflow.org/models/object_detection/"
    expected = {"ssd.config": "ssd_mobilenet_v1_coco_2018_01_28",
                "ssd_mobilenet_v1_075_coco.config": COCO_075}
    for name, stem in expected.items():
        tc = load_pipeline(name).train_config
        assert tc.fine_tune_checkpoint == f"{zoo_base}{stem}.tar.gz", name
        assert tc.fine_tune_checkpoint_type == "detection", name
        assert zoo.cache_entry(tc.fine_tune_checkpoint, Path("/c")) == Path("/c") / stem


def test_download_failure_names_the_offline_ways(tmp_path):
    with pytest.raises(UserError) as info:
        zoo.fetch(UNREACHABLE, tmp_path / "cache")
    msg = str(info.value)
    assert "--fine-tune-checkpoint" in msg and str(tmp_path / "cache" / COCO_075) in msg
    assert "\n" not in msg


@pytest.mark.slow
def test_train_cli_flag_replaces_the_configs_url(coco_075, tiny_records, tmp_path):
    """The config keeps the official URL; the flag points at the local copy; nothing is fetched."""
    url = load_pipeline("ssd_mobilenet_v1_075_coco.config").train_config.fine_tune_checkpoint
    _, config = tiny_075_config(tiny_records, tmp_path, url)
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2", HANDTRACK_CACHE=str(cache))
    res = subprocess.run(
        [sys.executable, "train.py", "--pipeline", str(config), "--model-dir", str(tmp_path / "run"),
         "--num-steps", "1", "--fine-tune-checkpoint", str(coco_075)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    restored = re.search(r"fine-tune checkpoint \S+ \(detection\): restored (\d+) variables", res.stderr)
    assert restored and int(restored.group(1)) == RESTORED_ONE_CLASS, res.stderr[-3000:]
    assert not cache.exists() or not any(cache.rglob("*")), "the URL was fetched despite the flag"
    saved = load_pipeline(str(tmp_path / "run" / "pipeline.config"))
    assert Path(saved.train_config.fine_tune_checkpoint) == coco_075


def test_bad_flag_values_are_one_line_errors(tmp_path, capsys):
    import train
    from common.cli import run_main

    for flag, value in (("--fine-tune-checkpoint-type", "full"), ("--fine-tune-checkpoint", " ")):
        code = run_main(train.main, ["--pipeline", "ssd.config", flag, value,
                                     "--model-dir", str(tmp_path / "r")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith("error:") and flag.lstrip("-").replace("-", "_") in err[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_prepopulated_cache_entry_stands_in_for_the_download(coco_075, tiny_records, tmp_path,
                                                              monkeypatch, caplog):
    """HANDTRACK_CACHE + a link named after the archive: training restores with no network."""
    from training.train_lib import TrainOptions, train

    monkeypatch.setenv("HANDTRACK_CACHE", str(tmp_path / "cache"))
    entry = zoo.cache_entry(UNREACHABLE)
    assert entry == tmp_path / "cache" / "checkpoints" / COCO_075
    entry.parent.mkdir(parents=True)
    entry.symlink_to(coco_075, target_is_directory=True)

    cfg, _ = tiny_075_config(tiny_records, tmp_path, UNREACHABLE)
    with caplog.at_level(logging.INFO):
        train(cfg, TrainOptions(model_dir=tmp_path / "run", num_steps=1, summary_images_every=0))
    lines = [r.getMessage() for r in caplog.records if "fine-tune checkpoint" in r.getMessage()]
    assert len(lines) == 1 and f"restored {RESTORED_ONE_CLASS} variables" in lines[0], lines
    assert str(entry) in lines[0] or str(coco_075) in lines[0]
