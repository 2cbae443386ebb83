"""int8 calibration images are a uniform, seeded sample of every record of every file.

Issue 8, defect 3: the old reader took the first records of each file (round
robin), i.e. a few consecutive frames per file. These tests write records whose
pixels encode their position, so the sample's positions can be read back.
"""
from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from export_lib.representative import images_from_tfrecords, reservoir_sample

PER_FILE = 40
FILES = 3


@pytest.fixture(scope="module")
def indexed_records(tmp_path_factory):
    """3 files x 40 records; record n (global, in file order) is an 8x8 PNG of value n."""
    tf = pytest.importorskip("tensorflow")
    root = tmp_path_factory.mktemp("indexed")
    files = []
    for f in range(FILES):
        path = root / f"train.record-{f:05d}-of-{FILES:05d}"
        files.append(str(path))
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in range(PER_FILE):
                png = tf.io.encode_png(np.full((8, 8, 3), f * PER_FILE + i, np.uint8)).numpy()
                feat = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feat))
                             .SerializeToString())
    return files


def _indices(images) -> list[int]:
    out = []
    for img in images:
        assert img.dtype == np.uint8 and img.shape == (8, 8, 3)
        assert img.min() == img.max()
        out.append(int(img[0, 0, 0]))
    return out


def test_sample_reaches_every_part_of_every_file(indexed_records):
    picked = _indices(images_from_tfrecords(indexed_records, limit=12))
    assert len(picked) == len(set(picked)) == 12
    # Uniform sampling puts ~10% of picks in each file's first 4 records; the
    # old round-robin reader put all 12 there (records 0-3 of each file).
    head = [n for n in picked if n % PER_FILE < 4]
    assert len(head) <= 4, picked
    assert {n // PER_FILE for n in picked} == set(range(FILES)), picked
    assert max(n % PER_FILE for n in picked) >= PER_FILE // 2, picked


def test_sample_is_deterministic_per_seed(indexed_records):
    first = _indices(images_from_tfrecords(indexed_records, limit=10, seed=3))
    assert _indices(images_from_tfrecords(indexed_records, limit=10, seed=3)) == first
    assert _indices(images_from_tfrecords(indexed_records, limit=10, seed=4)) != first


def test_limit_above_the_record_count_yields_every_record_once(indexed_records):
    picked = _indices(images_from_tfrecords(indexed_records, limit=500))
    assert sorted(picked) == list(range(FILES * PER_FILE))


def test_reservoir_sample_is_uniform_over_positions_and_order():
    """Every position is picked with probability k/n, and the first pick is uniform too
    (the exporter compares formats on the first few images)."""
    n, k, runs = 50, 10, 2000
    counts = np.zeros(n)
    first = []
    for seed in range(runs):
        sample = reservoir_sample(range(n), k, seed)
        positions = [p for p, _ in sample]
        assert sorted(positions) == sorted(set(positions)) and len(positions) == k
        assert all(p == item for p, item in sample)
        counts[positions] += 1
        first.append(positions[0])
    freq = counts / runs
    # Binomial(2000, 0.2): sd 0.009; 0.05 is > 5 sd.
    assert np.all(np.abs(freq - k / n) < 0.05), freq
    assert abs(np.mean(first) - (n - 1) / 2) < 2.5  # sd of the mean ~0.32
    assert np.mean(np.array(first) >= n // 2) > 0.4


def test_empty_and_unreadable_record_files_are_user_errors(tmp_path):
    pytest.importorskip("tensorflow")
    empty = tmp_path / "empty.record"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="hold no records"):
        list(images_from_tfrecords([str(empty)]))
    garbage = tmp_path / "garbage.record"
    garbage.write_bytes(b"not a tfrecord at all, just some bytes")
    with pytest.raises(UserError, match="--representative-data"):
        list(images_from_tfrecords([str(garbage)]))
