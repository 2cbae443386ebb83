"""Fixtures shared by the test files."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repository (real data, weights); skip when absent."""
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def read_records():
    """Function: TFRecord paths -> list of dicts decoded by tf-models-official's
    TfExampleDecoder (numpy values), plus the raw `difficult`/`class_text`/`filename`."""
    import tensorflow as tf
    from official.vision.dataloaders.tf_example_decoder import TfExampleDecoder

    decoder = TfExampleDecoder()
    extra = {
        "image/object/difficult": tf.io.VarLenFeature(tf.int64),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
        "image/filename": tf.io.FixedLenFeature((), tf.string),
        "image/format": tf.io.FixedLenFeature((), tf.string),
        "image/encoded": tf.io.FixedLenFeature((), tf.string),
    }

    def read(paths) -> list[dict]:
        out = []
        for serialized in tf.data.TFRecordDataset([str(p) for p in paths]):
            decoded = {k: v.numpy() for k, v in decoder.decode(serialized).items()}
            raw = tf.io.parse_single_example(serialized, extra)
            decoded["difficult"] = tf.sparse.to_dense(raw["image/object/difficult"]).numpy()
            decoded["class_text"] = [t.decode() for t in
                                     tf.sparse.to_dense(raw["image/object/class/text"]).numpy()]
            decoded["filename"] = raw["image/filename"].numpy().decode()
            decoded["format"] = raw["image/format"].numpy().decode()
            decoded["encoded"] = raw["image/encoded"].numpy()
            out.append(decoded)
        return out

    return read


@pytest.fixture(scope="session")
def tiny_records(tmp_path_factory) -> Path:
    """Generated hand-like images imported into records (see tests/synthetic_data.py)."""
    from tests.synthetic_data import make_records

    return make_records(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_records, tmp_path_factory):
    """(config path, model dir) of a real SSD trained 2 steps at 96x96."""
    from tests.synthetic_data import tiny_pipeline
    from training.train_lib import TrainOptions, train

    tmp = tmp_path_factory.mktemp("tiny_ckpt")
    cfg, path = tiny_pipeline(tiny_records, tmp, num_steps=2)
    train(cfg, TrainOptions(model_dir=tmp / "run", num_steps=2, summary_images_every=0))
    return path, tmp / "run"
