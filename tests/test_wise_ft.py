"""experiments/wise_ft.py: the shipped model's feature extractor moved part of the way back
to the COCO detector it was fine-tuned from, its hand heads untouched."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow

SHIPPED = "exported_models/handtrack_default"
COCO = "weights/ssd_mobilenet_v1_0.75_depth_coco/model.ckpt"


def _wise_ft(argv, capsys):
    from common.cli import run_main

    spec = importlib.util.spec_from_file_location("wise_ft", "experiments/wise_ft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = run_main(module.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shipped_checkpoint(tmp_path_factory):
    """The shipped weights as a training checkpoint, and the model holding them."""
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.averaging import write_averaged
    from training.checkpoints import restore_zoo_checkpoint

    pipeline = load_pipeline(f"{SHIPPED}/pipeline.config")
    model = build_from_pipeline(pipeline)
    restore_zoo_checkpoint(model, SHIPPED, "detection")
    out = tmp_path_factory.mktemp("shipped") / "ckpt"
    return write_averaged(model, out, [SHIPPED], [1.0], pipeline), model


def test_feature_extractor_moves_by_alpha_and_heads_stay(shared_dir, shipped_checkpoint,
                                                          tmp_path, capsys):
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline
    from training.checkpoints import restore_trained, restore_zoo_checkpoint

    prefix, shipped = shipped_checkpoint
    code, out, err = _wise_ft(["--pipeline", f"{SHIPPED}/pipeline.config", "--checkpoint", prefix,
                               "--start", shared_dir / COCO, "--alpha", 0.25,
                               "--out", tmp_path / "wise"], capsys)
    assert code == 0, err
    info = json.loads(out.strip().splitlines()[-1])
    assert info["variables_moved"] > 100 and info["distance_to_start"] > 1.0
    assert json.loads((tmp_path / "wise" / "wise_ft.json").read_text()) == info

    model = build_from_pipeline(load_pipeline(f"{SHIPPED}/pipeline.config"))
    restore_zoo_checkpoint(model, shared_dir / COCO, "detection")
    coco = {n: v.numpy() for n, v in model.slim_variable_map().items()}
    restore_trained(model, info["checkpoint"])
    mixed, tuned = model.slim_variable_map(), shipped.slim_variable_map()
    moved = 0
    for name, var in mixed.items():
        if name.startswith("FeatureExtractor/"):
            want = 0.75 * tuned[name].numpy() + 0.25 * coco[name]
            np.testing.assert_allclose(var.numpy(), want, rtol=1e-5, atol=1e-6)
            moved += int(not np.array_equal(var.numpy(), tuned[name].numpy()))
        else:
            np.testing.assert_array_equal(var.numpy(), tuned[name].numpy())
    assert moved > 50   # the convolutions, gammas and betas; not the frozen statistics


def test_alpha_out_of_range_is_one_line(shipped_checkpoint, tmp_path, capsys):
    prefix, _ = shipped_checkpoint
    code, _, err = _wise_ft(["--pipeline", f"{SHIPPED}/pipeline.config", "--checkpoint", prefix,
                             "--start", "no/such.ckpt", "--alpha", 1.5,
                             "--out", tmp_path / "wise"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "--alpha" in err.strip().splitlines()[-1]
    assert not (tmp_path / "wise").exists()
