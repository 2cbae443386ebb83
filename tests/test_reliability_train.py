"""Issue 11 (training inputs, checkpoints) and issue 8 (num_steps 0, full restore).

Real configs, real records, real checkpoints; train.py in subprocesses where the
behaviour is the command's (exit code, one error line, signals).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

from common.errors import UserError  # noqa: E402
from tests.conftest import REPO_ROOT  # noqa: E402
from tests.synthetic_data import tiny_pipeline  # noqa: E402
from tests.cli_checks import one_error_line as _one_error_line

TIMEOUT = 300
# Most tests here run train.py or a real training loop (10-30 s each on 2 cores).
pytestmark = pytest.mark.slow


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")


def _train_cli(*args: str, preexec=None, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)



def _config_text(tiny_records: Path, tmp_path: Path, **overrides) -> tuple[Path, str]:
    _, path = tiny_pipeline(tiny_records, tmp_path, **overrides)
    return path, path.read_text()


# --- 6. config values that used to train to exit 0 or fail at step 2 ----------------

@pytest.mark.parametrize("old,new,field", [
    ("learning_rate: 0.001", "learning_rate: -0.001", "constant_learning_rate.learning_rate"),
    ("learning_rate: 0.001", "learning_rate: nan", "constant_learning_rate.learning_rate"),
])
def test_bad_learning_rate_names_the_field_with_line(tiny_records, tmp_path, old, new, field):
    path, text = _config_text(tiny_records, tmp_path)
    assert old in text
    path.write_text(text.replace(old, new))
    line_no = text[:text.index(old)].count("\n") + 1
    line = _one_error_line(_train_cli("--pipeline", str(path), "--model-dir",
                                      str(tmp_path / "run")), field)
    assert f"{path}:{line_no}:" in line
    assert not list((tmp_path / "run").glob("ckpt-*"))


def test_label_map_problems_stop_before_the_first_step(tiny_records, tmp_path):
    path, text = _config_text(tiny_records, tmp_path)
    # num_classes disagrees with the (one-class) label map: file:line of num_classes.
    wrong = text.replace("num_classes: 1", "num_classes: 3")
    path.write_text(wrong)
    line_no = wrong[:wrong.index("num_classes: 3")].count("\n") + 1
    line = _one_error_line(_train_cli("--pipeline", str(path), "--model-dir",
                                      str(tmp_path / "run")), "num_classes", "label map")
    assert f"{path}:{line_no}:" in line
    # Duplicate ids in the label map: file:line of the second one.
    label_map = tmp_path / "dup_label_map.pbtxt"
    label_map.write_text("item {\n  id: 1\n  name: 'hand'\n}\nitem {\n  id: 1\n  name: 'arm'\n}\n")
    path.write_text(text.replace(str(tiny_records / "label_map.pbtxt"), str(label_map)))
    _one_error_line(_train_cli("--pipeline", str(path), "--model-dir", str(tmp_path / "run")),
                    f"{label_map}:6", "appears twice")
    assert not list((tmp_path / "run").glob("ckpt-*"))


# --- 7. corrupt and truncated records ----------------------------------------------------

def _copy_records(tiny_records: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "prepared"
    shutil.copytree(tiny_records, copy)
    return copy


def test_truncated_record_is_named_at_start(tiny_records, tmp_path):
    records = _copy_records(tiny_records, tmp_path)
    shard = next((records / "records").glob("train.record-*"))
    shard.write_bytes(shard.read_bytes()[:-1000])
    _, path = tiny_pipeline(records, tmp_path)
    t0 = time.monotonic()
    _one_error_line(_train_cli("--pipeline", str(path), "--model-dir", str(tmp_path / "run")),
                    str(shard), "cut short")
    assert time.monotonic() - t0 < 60


def test_corrupt_record_payload_is_named(tiny_records, tmp_path):
    """Framing intact, payload damaged: tf.data's DataLossError, turned into the file name."""
    from training.train_lib import TrainOptions, train

    records = _copy_records(tiny_records, tmp_path)
    shard = next((records / "records").glob("train.record-*"))
    data = bytearray(shard.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    shard.write_bytes(bytes(data))
    cfg, _ = tiny_pipeline(records, tmp_path, num_steps=3)
    with pytest.raises(UserError, match=re.escape(str(shard)) + ".*corrupt TFRecord"):
        train(cfg, TrainOptions(model_dir=tmp_path / "run", num_steps=3, summary_images_every=0))


# --- 8 + issue 8: resume -------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_checkpoints(tiny_records, tmp_path_factory):
    """A run of 2 steps with a checkpoint at each step (ckpt-1, ckpt-2)."""
    from training.train_lib import TrainOptions, train

    tmp = tmp_path_factory.mktemp("two_ckpts")
    cfg, _ = tiny_pipeline(tiny_records, tmp, num_steps=2)
    train(cfg, TrainOptions(model_dir=tmp / "run", num_steps=2, checkpoint_every=1,
                            summary_images_every=0))
    return tmp / "run"


def test_truncated_newest_checkpoint_falls_back_and_temps_are_cleaned(
        tiny_records, two_checkpoints, tmp_path, caplog):
    from training.train_lib import TrainOptions, train

    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    data = next(run.glob("ckpt-2.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])   # cut short by a full disk
    half_saved = run / "ckpt-3_temp"                                   # a killed save
    (half_saved / "part-00000-of-00001").mkdir(parents=True)
    (half_saved / "part-00000-of-00001" / "junk").write_bytes(b"\0" * 100_000)
    cfg, _ = tiny_pipeline(tiny_records, tmp_path, num_steps=3)
    result = train(cfg, TrainOptions(model_dir=run, num_steps=3, summary_images_every=0))
    assert "ckpt-2" in caplog.text and "unreadable" in caplog.text
    assert [s for s, _ in result["loss_history"]] == [2, 3]     # resumed from step 1
    assert not half_saved.exists()
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-3")


def test_resume_refuses_a_checkpoint_that_does_not_fit(tiny_records, two_checkpoints, tmp_path):
    """Issue 8: the optimizer changed (Adam -> momentum): before, expect_partial() restored
    the weights, silently left the new optimizer's slots fresh and trained on."""
    from training.train_lib import TrainOptions, train

    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    cfg, _ = tiny_pipeline(tiny_records, tmp_path, num_steps=4)
    opt = cfg.train_config.optimizer
    rate = opt.adam_optimizer.learning_rate
    opt.momentum_optimizer.learning_rate.CopyFrom(rate)
    opt.momentum_optimizer.momentum_optimizer_value = 0.9
    with pytest.raises(UserError, match="ckpt-2 does not match this config"):
        train(cfg, TrainOptions(model_dir=run, num_steps=4, summary_images_every=0))
    assert not (run / "ckpt-4.index").exists()


def test_num_steps_0_trains_until_stopped(tiny_records, tmp_path):
    """Issue 8: num_steps 0 used to train nothing and exit 0 ("already trained to step 0").
    Now it follows the OD API: train until stopped; SIGTERM saves and exits 143."""
    _, config = tiny_pipeline(tiny_records, tmp_path, num_steps=0)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "train.py", "--pipeline", str(config),
                             "--model-dir", str(run), "--checkpoint-every", "2"],
                            cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while not list(run.glob("ckpt-*.index")):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert "terminated" in err and "Traceback" not in err
    step = int(tf.train.load_checkpoint(str(run)).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
    assert step >= 2


def test_disk_full_checkpoint_save_is_one_line_and_leaves_no_temp(tiny_records, tmp_path):
    """Disk full, simulated with RLIMIT_FSIZE (no tmpfs mount here): any file write past
    1 MB fails with EFBIG, so the checkpoint (~10 MB of weights) cannot be saved."""
    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    _, config = tiny_pipeline(tiny_records, tmp_path, num_steps=1)
    run = tmp_path / "run"
    result = _train_cli("--pipeline", str(config), "--model-dir", str(run), preexec=limit)
    _one_error_line(result, str(run), "cannot save the checkpoint")
    assert not list(run.glob("*_temp")) and not list(run.glob("ckpt-1.*"))
