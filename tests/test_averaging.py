"""average_checkpoints.py on real training checkpoints: the weighted mean lands in a
checkpoint that the evaluation/export loader restores, and mistakes are one line."""
from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.synthetic_data import tiny_pipeline

# Trains a tiny SSD for 3 steps once (~15 s on 2 cores), then loads it a few times.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_checkpoints(tiny_records, tmp_path_factory):
    """(config, config path, run folder with ckpt-1..3) of a tiny SSD whose weights move
    every step (Adam at 0.01), so the checkpoints differ."""
    from training.train_lib import TrainOptions, train

    tmp = tmp_path_factory.mktemp("avg")
    cfg, path = tiny_pipeline(tiny_records, tmp, learning_rate=0.01, num_steps=3)
    train(cfg, TrainOptions(model_dir=tmp / "run", num_steps=3, checkpoint_every=1,
                            summary_images_every=0, seed=2))
    return cfg, path, tmp / "run"


def _model_tensors(prefix) -> dict[str, np.ndarray]:
    """The model's float tensors in a checkpoint, by their checkpoint key."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k, dtype in reader.get_variable_to_dtype_map().items()
            if k.startswith("model/") and dtype.is_floating}


def _run(argv, capsys):
    import average_checkpoints
    from common.cli import run_main

    code = run_main(average_checkpoints.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_weighted_mean_is_written_and_restores(three_checkpoints, tmp_path, capsys):
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained

    cfg, path, run = three_checkpoints
    code, out, err = _run(["--pipeline", path, "--checkpoints", run / "ckpt-1", run / "ckpt-3.index",
                           "--weights", "1", "3", "--out", tmp_path / "avg"], capsys)
    assert code == 0, err
    saved = json.loads(out.strip().splitlines()[-1])["checkpoint"]
    assert saved.endswith("ckpt-3")
    first, last = _model_tensors(run / "ckpt-1"), _model_tensors(run / "ckpt-3")
    averaged = _model_tensors(saved)
    assert averaged.keys() == first.keys() and len(first) > 50
    moved = [k for k in first if not np.allclose(first[k], last[k])]
    assert len(moved) > 10, "the tiny run's weights did not move; the test would prove nothing"
    for key in first:
        np.testing.assert_allclose(averaged[key], 0.25 * first[key] + 0.75 * last[key],
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    # evaluate.py and export.py restore through restore_trained, from the folder too.
    model = build_from_pipeline(cfg)
    assert restore_trained(model, tmp_path / "avg") == saved
    sources = json.loads((tmp_path / "avg" / "averaged_from.json").read_text())["sources"]
    assert [(s["step"], s["weight"]) for s in sources] == [(1, 0.25), (3, 0.75)]
    assert (tmp_path / "avg" / "pipeline.config").is_file()


def test_folder_with_min_step_takes_the_later_checkpoints(three_checkpoints, tmp_path, capsys):
    _, path, run = three_checkpoints
    code, _, err = _run(["--pipeline", path, "--checkpoints", run, "--min-step", "2",
                         "--out", tmp_path / "avg"], capsys)
    assert code == 0, err
    sources = json.loads((tmp_path / "avg" / "averaged_from.json").read_text())["sources"]
    assert [(s["step"], s["weight"]) for s in sources] == [(2, 0.5), (3, 0.5)]
    averaged = _model_tensors(tmp_path / "avg" / "ckpt-3")
    two, three = _model_tensors(run / "ckpt-2"), _model_tensors(run / "ckpt-3")
    for key in two:
        np.testing.assert_allclose(averaged[key], (two[key] + three[key]) / 2, rtol=1e-5,
                                   atol=1e-6, err_msg=key)


@pytest.mark.parametrize("extra, expected", [
    (["--weights", "1"], "error: --weights: 1 weight(s) for 2 checkpoint(s)"),
    (["--weights", "1", "-1"], "error: --weights: must be finite, >= 0"),
    (["--min-step", "9"], "error: --min-step 9: none of the 2 checkpoints"),
])
def test_bad_flags_are_one_line(three_checkpoints, tmp_path, capsys, extra, expected):
    _, path, run = three_checkpoints
    code, _, err = _run(["--pipeline", path, "--checkpoints", run / "ckpt-1", run / "ckpt-2",
                         "--out", tmp_path / "avg", *extra], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(expected), err
    assert not (tmp_path / "avg").exists()


def test_wrong_checkpoints_and_existing_out_are_one_line(three_checkpoints, tmp_path, capsys):
    from config.loader import save_pipeline

    cfg, path, run = three_checkpoints
    code, _, err = _run(["--pipeline", path, "--checkpoints", tmp_path / "nothing",
                         "--out", tmp_path / "avg"], capsys)
    assert code == 2 and "error: --checkpoints: " in err and "not found" in err
    # A checkpoint of another model (two classes) does not fit this config.
    other = type(cfg)()
    other.CopyFrom(cfg)
    other.model.ssd.num_classes = 2
    save_pipeline(other, tmp_path / "two_classes.config")
    code, _, err = _run(["--pipeline", tmp_path / "two_classes.config", "--checkpoints",
                         run / "ckpt-1", "--out", tmp_path / "avg"], capsys)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: --checkpoints: ") and "not a handtrack training checkpoint" in last
    assert not (tmp_path / "avg").exists() and not list(tmp_path.glob("avg.tmp-*"))
    (tmp_path / "avg").mkdir()
    code, _, err = _run(["--pipeline", path, "--checkpoints", run / "ckpt-1",
                         "--out", tmp_path / "avg"], capsys)
    assert code == 2 and "already exists; pass --overwrite" in err
