"""Training follows the Object Detection API where it matters for what the model
learns (issue 8): frozen batch norm, record mixing and shuffling, per-replica
batches, TF1 RMSProp, shuffled record order, chosen held-out groups.

Each test would have failed on the pipeline before the fix; the comment on
each says how.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.conftest import REPO_ROOT

TINY_JPEG = None


def _jpeg() -> bytes:
    global TINY_JPEG
    if TINY_JPEG is None:
        TINY_JPEG = tf.io.encode_jpeg(tf.zeros([8, 8, 3], tf.uint8)).numpy()
    return TINY_JPEG


def write_group_files(root: Path, groups: int, per_group: int, prefix: str = "G") -> list[str]:
    """One record file per group, records in order: the layout of sorted records
    from any converter that writes a video's frames one after another."""
    from data_prep.annotations import Box, ImageAnn
    from data_prep.tfrecords import build_example

    root.mkdir(parents=True, exist_ok=True)
    files = []
    for g in range(groups):
        path = root / f"{prefix}{g}.record"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in range(per_group):
                ann = ImageAnn(f"{prefix}{g}_frame_{i:04d}.jpg", path, 8, 8, f"{prefix}{g}",
                               [Box("hand", 1, 1, 6, 6)])
                writer.write(build_example(ann, _jpeg(), "jpeg", {"hand": 1}).SerializeToString())
        files.append(str(path))
    return files


def groups_of(serialized) -> list[str]:
    spec = {"image/filename": tf.io.FixedLenFeature((), tf.string)}
    return [tf.io.parse_single_example(s, spec)["image/filename"].numpy().decode().split("_frame_")[0]
            for s in serialized]


def reader(sources, **kwargs):
    from training.inputs import TrainInputs

    return TrainInputs(sources=sources, batch_size=8, input_size=(8, 8), target_assigner=None,
                       seed=1, **kwargs)


def test_first_batches_mix_every_group(tmp_path):
    # Before: at most 4 files interleaved and a 512 buffer, so with 8 sorted
    # files of 300 records the first batches came from 4 groups at most.
    files = write_group_files(tmp_path, groups=8, per_group=300)
    first = groups_of(reader([files]).records().take(48))
    assert len(set(first)) >= 6, sorted(set(first))


def test_shuffle_buffer_size_is_honoured(tmp_path):
    # Before: shuffle_buffer_size was accepted and ignored (always 512). With a
    # buffer of 1 and one file, records come out in file order.
    files = write_group_files(tmp_path, groups=1, per_group=50)
    spec = {"image/filename": tf.io.FixedLenFeature((), tf.string)}
    names = [tf.io.parse_single_example(s, spec)["image/filename"].numpy().decode()
             for s in reader([files], shuffle_buffer=1).records().take(50)]
    assert names == sorted(names)
    shuffled = [tf.io.parse_single_example(s, spec)["image/filename"].numpy().decode()
                for s in reader([files], shuffle_buffer=64).records().take(50)]
    assert shuffled != sorted(shuffled)


def test_sample_from_datasets_weights_set_the_mix(tmp_path):
    # Before: no such field; a small set could only be oversampled by copying
    # its input_path line. Here 20 records get 70% of the draws against 400.
    big = write_group_files(tmp_path / "big", groups=2, per_group=200, prefix="B")
    small = write_group_files(tmp_path / "small", groups=1, per_group=20, prefix="S")
    mixed = groups_of(reader([big, small], weights=[0.3, 0.7]).records().take(600))
    share = np.mean([g.startswith("S") for g in mixed])
    assert 0.63 < share < 0.77, share
    plain = groups_of(reader([big, small]).records().take(600))
    assert np.mean([g.startswith("S") for g in plain]) < 0.4


def test_weights_field_loads_and_counts_must_match(tmp_path):
    from config.loader import load_pipeline
    from config.paths import input_sources

    files = write_group_files(tmp_path, groups=2, per_group=2)
    text = (REPO_ROOT / "pipeline_configs" / "ssd.config").read_text()
    text = text.replace('input_path: "data/egohands/records/train.record-*"',
                        f'input_path: "{files[0]}"\n    input_path: "{files[1]}"')
    text = text.replace("train_input_reader {",
                        "train_input_reader {\n  sample_from_datasets_weights: [0.25, 0.75]", 1)
    path = tmp_path / "weighted.config"
    path.write_text(text)
    cfg = load_pipeline(path)
    assert list(cfg.train_input_reader.sample_from_datasets_weights) == [0.25, 0.75]
    assert input_sources(cfg.train_input_reader) == [[files[0]], [files[1]]]
    with pytest.raises(ValueError, match="2 input_path"):
        reader([[files[0]], [files[1]]], weights=[1.0]).records()


def test_records_are_written_in_seeded_shuffled_order(tmp_path):
    # Before: records followed the sorted file names, one group after another.
    from data_prep.import_annotations import import_csv
    from tests.synthetic_data import make_images

    csv_path = make_images(tmp_path / "raw", count=30)
    orders = []
    for run, seed in (("a", 5), ("b", 5), ("c", 6)):
        import_csv(csv_path, tmp_path / "raw" / "images", tmp_path / run, split="random",
                   fractions=(1.0, 0.0, 0.0), seed=seed, progress=False)
        spec = {"image/filename": tf.io.FixedLenFeature((), tf.string)}
        orders.append([tf.io.parse_single_example(s, spec)["image/filename"].numpy().decode()
                       for s in tf.data.TFRecordDataset(
                           sorted(str(p) for p in (tmp_path / run / "records").glob("train*")))])
    assert orders[0] != sorted(orders[0])
    assert orders[0] == orders[1]          # same seed, same order
    assert orders[0] != orders[2]          # another seed, another order
    assert sorted(orders[0]) == sorted(orders[2])


def test_eval_groups_holds_out_exactly_the_named_groups(tmp_path):
    from common.errors import UserError
    from data_prep.import_annotations import import_csv
    from tests.synthetic_data import make_images

    csv_path = make_images(tmp_path / "raw", count=12)   # groups SYN0, SYN1, SYN2
    summary = import_csv(csv_path, tmp_path / "raw" / "images", tmp_path / "out",
                         split="group", fractions=(0.7, 0.0, 0.3), eval_groups=["SYN1"],
                         progress=False)
    with open(tmp_path / "out" / "eval_labels.csv") as f:
        assert {row["group"] for row in csv.DictReader(f)} == {"SYN1"}
    with open(tmp_path / "out" / "train_labels.csv") as f:
        assert {row["group"] for row in csv.DictReader(f)} == {"SYN0", "SYN2"}
    assert summary.groups["eval"] == ["SYN1"]
    with pytest.raises(UserError, match="--eval-groups: no such group: NOPE"):
        import_csv(csv_path, tmp_path / "raw" / "images", tmp_path / "out2", split="group",
                   eval_groups=["NOPE"], progress=False)


def _tiny_model(freeze: bool):
    from config.loader import load_pipeline
    from ssd.builder import build_from_pipeline

    cfg = load_pipeline("ssd.config")
    cfg.model.ssd.image_resizer.fixed_shape_resizer.height = 64
    cfg.model.ssd.image_resizer.fixed_shape_resizer.width = 64
    cfg.model.ssd.feature_extractor.depth_multiplier = 0.25
    cfg.model.ssd.freeze_batchnorm = freeze
    return build_from_pipeline(cfg)


def test_frozen_batch_norm_trains_gamma_beta_and_keeps_statistics():
    # Before: trainable=False froze gamma and beta too (OD API FreezableBatchNorm
    # only fixes the statistics).
    import tf_keras

    model = _tiny_model(freeze=True)
    bns = [l for l in model.submodules if isinstance(l, tf_keras.layers.BatchNormalization)]
    assert bns
    weights = [(f"{i}/{v.name}", v) for i, bn in enumerate(bns) for v in bn.weights]
    before = {name: v.numpy().copy() for name, v in weights}
    assert all(any(v is w for w in model.trainable_variables) for bn in bns
               for v in (bn.gamma, bn.beta))
    # Train every batch norm layer of the model directly (an untrained tiny
    # SSD passes almost no gradient back to its batch norms).
    optimizer = tf_keras.optimizers.SGD(0.5)
    optimizer.build(model.trainable_variables)
    for i, bn in enumerate(bns):
        channels = bn.gamma.shape[0]
        x = tf.random.normal([4, 5, 5, channels], mean=3.0, stddev=2.0, seed=i)
        with tf.GradientTape() as tape:
            y = bn(x, training=True)
            loss = tf.reduce_sum(y * tf.range(channels, dtype=tf.float32))
        grads = tape.gradient(loss, [bn.gamma, bn.beta])
        optimizer.apply_gradients(zip(grads, [bn.gamma, bn.beta]))
        # Normalised with the moving statistics (mean 0, var 1 at init), not the batch's.
        expected = (x - bn.moving_mean) / tf.sqrt(bn.moving_variance + bn.epsilon)
        np.testing.assert_allclose(y, expected * before[f"{i}/{bn.gamma.name}"]
                                   + before[f"{i}/{bn.beta.name}"], rtol=1e-4, atol=1e-4)
    changed = {name for name, v in weights if not np.array_equal(before[name], v.numpy())}
    assert sum("gamma" in n for n in changed) == len(bns)
    assert sum("beta" in n for n in changed) == len(bns)
    assert not any("moving" in n for n in changed), sorted(n for n in changed if "moving" in n)


def test_unfrozen_batch_norm_updates_statistics():
    import tf_keras

    model = _tiny_model(freeze=False)
    bn = next(l for l in model.submodules if isinstance(l, tf_keras.layers.BatchNormalization))
    before = bn.moving_mean.numpy().copy()
    bn(tf.random.normal([4, 5, 5, bn.gamma.shape[0]], mean=3.0, seed=0), training=True)
    assert not np.array_equal(before, bn.moving_mean.numpy())


def test_rms_prop_follows_tf1_formula():
    # Before: Keras RMSprop starts the mean square at 0, so with epsilon 1.0 the
    # first step was lr*g/sqrt(0.1 g^2 + 1) instead of lr*g/sqrt(1 + 0.1 g^2 - ...).
    from google.protobuf import text_format

    from config import pipeline_pb2
    from training.optimizers import RMSPropTF1, optimizer_from_proto

    proto = text_format.Parse("""rms_prop_optimizer {
        learning_rate { constant_learning_rate { learning_rate: 0.1 } }
        momentum_optimizer_value: 0.9 decay: 0.9 epsilon: 1.0 }""", pipeline_pb2.Optimizer())
    opt, _ = optimizer_from_proto(proto)
    assert isinstance(opt, RMSPropTF1)
    var = tf.Variable([1.0, -2.0, 0.5])
    x, ms, mom = var.numpy().astype(np.float64), np.ones(3), np.zeros(3)
    for step in range(4):
        g = np.array([0.5 * (step + 1), -1.5, 3.0 - step])
        opt.apply_gradients([(tf.constant(g, tf.float32), var)])
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + 0.1 * g / np.sqrt(ms + 1.0)
        x = x - mom
        np.testing.assert_allclose(var.numpy(), x, rtol=1e-5, atol=1e-6)


PER_REPLICA_SCRIPT = textwrap.dedent("""
    import sys, json
    sys.path.insert(0, {root!r})
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from tests.synthetic_data import tiny_pipeline
    from pathlib import Path
    from ssd.builder import build_from_pipeline
    from ssd.targets import SsdTargetAssigner
    from training.inputs import TrainInputs
    from config import paths
    cfg, _ = tiny_pipeline(Path({records!r}), Path({tmp!r}))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build_from_pipeline(cfg)
    inputs = TrainInputs.from_reader(
        cfg.train_input_reader, paths.input_sources(cfg.train_input_reader), batch_size=4,
        input_size=model.config.input_size,
        target_assigner=SsdTargetAssigner(model.config, model.anchors_corners))
    features, _ = next(iter(strategy.distribute_datasets_from_function(inputs.dataset)))
    shapes = [int(t.shape[0]) for t in strategy.experimental_local_results(features["image"])]
    print(json.dumps({{"replicas": strategy.num_replicas_in_sync, "shapes": shapes}}))
""")


@pytest.mark.slow
def test_mirrored_replicas_each_get_their_share_of_the_batch(tiny_records, tmp_path):
    # Before: with one input pipeline every replica got the full global batch,
    # so two replicas trained on twice the configured batch.
    import json

    script = PER_REPLICA_SCRIPT.format(root=str(REPO_ROOT), records=str(tiny_records),
                                       tmp=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"replicas": 2, "shapes": [2, 2]}
