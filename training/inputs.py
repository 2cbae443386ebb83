"""tf.data input pipelines over Object Detection API TFRecords.

Decoding uses tf-models-official's TfExampleDecoder; `image/object/difficult`
(our ignore flag) is read alongside it. Training examples get augmentation,
resize, normalisation and per-anchor targets in parallel map calls, then are
batched (fixed batch size: the hard example miner loops over a static batch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder

from ssd.model import preprocess_images
from ssd.targets import SsdTargetAssigner

MAX_BOXES = 100  # groundtruth boxes kept per image for summaries/evaluation padding


class ExampleDecoder:
    """TfExampleDecoder plus the `difficult` flag, as one dict of tensors."""

    def __init__(self):
        self._decoder = tf_example_decoder.TfExampleDecoder(regenerate_source_id=False)

    def __call__(self, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = self._decoder.decode(serialized)
        extra = tf.io.parse_single_example(serialized, {
            "image/object/difficult": tf.io.VarLenFeature(tf.int64),
            "image/filename": tf.io.FixedLenFeature((), tf.string, default_value=""),
        })
        num_boxes = tf.shape(decoded["groundtruth_classes"])[0]
        difficult = tf.sparse.to_dense(extra["image/object/difficult"])
        difficult = tf.pad(difficult, [[0, tf.maximum(0, num_boxes - tf.shape(difficult)[0])]])[:num_boxes]
        return {
            "image": decoded["image"],
            "source_id": decoded["source_id"],
            "filename": extra["image/filename"],
            "boxes": tf.reshape(decoded["groundtruth_boxes"], [-1, 4]),
            "classes": tf.cast(decoded["groundtruth_classes"], tf.int32),
            "ignore": tf.cast(difficult, tf.bool),
        }


def _pad_boxes(tensor, value=0):
    n = tf.minimum(tf.shape(tensor)[0], MAX_BOXES)
    tensor = tensor[:n]
    pad = [[0, MAX_BOXES - n]] + [[0, 0]] * (len(tensor.shape) - 1)
    return tf.pad(tensor, pad, constant_values=value)


@dataclass
class TrainInputs:
    files: list[str]
    batch_size: int
    input_size: tuple[int, int]
    target_assigner: SsdTargetAssigner
    augment: object | None = None   # callable(image, boxes, classes, ignore)
    shuffle_buffer: int = 512
    seed: int | None = None

    def dataset(self, input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        batch = self.batch_size
        files = tf.data.Dataset.from_tensor_slices(self.files)
        if input_context and input_context.num_input_pipelines > 1:
            files = files.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
            batch = input_context.get_per_replica_batch_size(self.batch_size)
        files = files.shuffle(len(self.files), seed=self.seed).repeat()
        ds = files.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(self.files)),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        ds = ds.shuffle(self.shuffle_buffer, seed=self.seed)
        decoder = ExampleDecoder()
        ds = ds.map(lambda s: self._prepare(decoder(s)), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=False)
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def _prepare(self, example):
        image, boxes, classes, ignore = (example["image"], example["boxes"],
                                         example["classes"], example["ignore"])
        if self.augment is not None:
            image, boxes, classes, ignore = self.augment(image, boxes, classes, ignore)
        targets = self.target_assigner(boxes, classes, ignore)
        features = {
            "image": preprocess_images(image[None], self.input_size)[0],
            "groundtruth_boxes": _pad_boxes(boxes),
            "num_groundtruth": tf.minimum(tf.shape(boxes)[0], MAX_BOXES),
        }
        return features, targets
