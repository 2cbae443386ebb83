"""Weights read back from an exported model's frozen graph (training.from_export): the
shipped model as a fine-tune start, and experiments/weights_from_frozen_graph.py, which
proves the rebuilt model gives the graph's own detections."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.synthetic_data import tiny_pipeline

pytestmark = pytest.mark.slow

SHIPPED = "exported_models/handtrack_default"


@pytest.fixture(scope="module")
def shipped_model():
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline

    return build_from_pipeline(load_pipeline(f"{SHIPPED}/pipeline.config"))


def test_every_variable_of_the_shipped_model_comes_back(shipped_model):
    from training.checkpoints import restore_zoo_checkpoint
    from training.from_export import frozen_graph_of, graph_weights

    for var in shipped_model.variables:
        var.assign(tf.zeros_like(var))
    report = restore_zoo_checkpoint(shipped_model, SHIPPED, "detection")
    assert len(report.restored) == len(shipped_model.variables)
    assert not report.skipped and not report.unused
    found = graph_weights(frozen_graph_of(SHIPPED))
    first = shipped_model.variables[0]
    key, = [k for k in found if k.endswith("/conv2dbn_block/conv2d/kernel")]
    np.testing.assert_array_equal(first.numpy(), found[key])
    # Batch-norm statistics are weights too: a moving variance of zeros would not survive.
    variances = [v for v in shipped_model.variables if "moving_variance" in v.name]
    assert variances and all(float(tf.reduce_min(v)) > 0 for v in variances)


def test_a_model_with_more_classes_keeps_only_its_class_predictors_fresh():
    """Left and right hands as two classes: everything but the six class predictors (kernel
    and bias each) comes from the one-class shipped model, as from a zoo checkpoint."""
    from config.loader import apply_overrides, load_pipeline
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_zoo_checkpoint

    model = build_from_pipeline(apply_overrides(load_pipeline(f"{SHIPPED}/pipeline.config"),
                                                num_classes=2))
    report = restore_zoo_checkpoint(model, SHIPPED, "detection")
    assert len(report.skipped) == 12 and len(report.unused) == 12
    assert all("box_predictor" in name and "shape mismatch" in why
               for name, why in report.skipped.items())
    assert len(report.restored) == len(model.variables) - 12


def test_an_export_as_a_classification_start_is_one_line(shipped_model):
    from common.errors import UserError
    from training.checkpoints import restore_zoo_checkpoint

    with pytest.raises(UserError, match="detection"):
        restore_zoo_checkpoint(shipped_model, SHIPPED, "classification")


def test_train_fine_tunes_from_the_shipped_model(tiny_records, tmp_path):
    """The user's path: train.py --fine-tune-checkpoint exported_models/handtrack_default."""
    from config.loader import apply_overrides, load_pipeline, save_pipeline

    cfg = load_pipeline(f"{SHIPPED}/pipeline.config")
    del cfg.train_input_reader.sample_from_datasets_weights[:]   # five sets -> one
    cfg = apply_overrides(cfg, batch_size=2,
                          train_input_path=str(tiny_records / "records" / "train.record-*"),
                          eval_input_path=str(tiny_records / "records" / "eval.record-*"),
                          label_map_path=str(tiny_records / "label_map.pbtxt"))
    save_pipeline(cfg, tmp_path / "mine.config")
    done = subprocess.run([sys.executable, "train.py", "--pipeline", str(tmp_path / "mine.config"),
                           "--model-dir", str(tmp_path / "run"), "--num-steps", "1",
                           "--fine-tune-checkpoint", SHIPPED],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fine-tune from export" in done.stderr and "restored 199 variables" in done.stderr
    assert (tmp_path / "run" / "train_summary.json").is_file()


def _recover(argv, capsys):
    from common.cli import run_main

    spec = importlib.util.spec_from_file_location("weights_from_frozen_graph",
                                                  "experiments/weights_from_frozen_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = run_main(module.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_recovered_checkpoint_gives_the_graphs_detections(tiny_records, shipped_model, tmp_path,
                                                          capsys):
    out = tmp_path / "recovered"
    code, stdout, err = _recover(["--frozen", f"{SHIPPED}/frozen_inference_graph.pb",
                                  "--pipeline", f"{SHIPPED}/pipeline.config",
                                  "--images", f"{tiny_records}/records/train.record-*",
                                  "--check-images", 2, "--out", out], capsys)
    assert code == 0, err
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["images_checked"] == 2 and report["max_abs_difference"] < 1e-4
    assert report["variables"] == len(shipped_model.variables)
    reader = tf.train.load_checkpoint(report["checkpoint"])
    saved = [k for k in reader.get_variable_to_shape_map() if k.startswith("model/")]
    assert len(saved) == len(shipped_model.variables)


def test_recovery_with_another_models_config_is_one_line(tiny_records, tmp_path, capsys):
    _, tiny_config = tiny_pipeline(tiny_records, tmp_path)
    code, _, err = _recover(["--frozen", f"{SHIPPED}/frozen_inference_graph.pb",
                             "--pipeline", tiny_config,
                             "--images", f"{tiny_records}/records/train.record-*",
                             "--out", tmp_path / "recovered"], capsys)
    assert code != 0 and "Traceback" not in err
    assert "--frozen" in err.strip().splitlines()[-1]
    assert not (tmp_path / "recovered").exists()
