"""tf.data input pipelines over Object Detection API TFRecords.

Decoding uses tf-models-official's TfExampleDecoder; `image/object/difficult`
(our ignore flag) is read alongside it. Training examples get augmentation,
resize, normalisation and per-anchor targets in parallel map calls, then are
batched (fixed batch size: the hard example miner loops over a static batch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder

from ssd import padding
from ssd.model import preprocess_images
from ssd.targets import SsdTargetAssigner

MAX_BOXES = 100  # groundtruth boxes kept per image for summaries/evaluation padding
# Longest image side before augmentation. The model sees 300x300 at most; a
# 1280x720 frame padded 3x by a zoom-out is a 3840x2160 canvas that costs more
# CPU than the training step itself. 640 keeps 2x detail for zoom-in crops.
AUGMENT_MAX_SIDE = 640


class ExampleDecoder:
    """The one reader of our OD-API records: TfExampleDecoder plus the `difficult`
    flag, as one dict of tensors (`__call__`), or the image alone (`image`)."""

    def __init__(self) -> None:
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

    def images(self, files: Sequence[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(name, uint8 RGB [H, W, 3], normalised boxes [N, 4] incl. ignore regions) per
        record, eagerly: for the tools that look at one labelled image at a time (false
        detections, faces, negative crops) rather than feed a model in batches."""
        for serialized in tf.data.TFRecordDataset(list(files)):
            example = self(serialized)
            yield (self.name(example["filename"], example["source_id"]), example["image"].numpy(),
                   example["boxes"].numpy().reshape(-1, 4))

    @staticmethod
    def name(filename: tf.Tensor, source_id: tf.Tensor) -> str:
        """A record's image name for reports: its filename, else its source_id (records
        written by other tools may leave image/filename empty)."""
        return filename.numpy().decode() or source_id.numpy().decode()

    @staticmethod
    def image(serialized: tf.Tensor) -> tf.Tensor:
        """uint8 RGB [H, W, 3] from `image/encoded` alone, decoded as TfExampleDecoder
        decodes it. For int8 calibration, which needs pixels only: it reads any record
        with an image, where the full decode would demand every OD-API field."""
        encoded = tf.io.parse_single_example(
            serialized, {"image/encoded": tf.io.FixedLenFeature((), tf.string)})["image/encoded"]
        return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def limit_size(image: tf.Tensor, max_side: int) -> tf.Tensor:
    """Shrink a uint8 image so its longest side is at most `max_side` (aspect kept;
    boxes are normalised, so they need no change)."""
    shape = tf.shape(image)
    longest = tf.maximum(shape[0], shape[1])

    def shrink():
        scale = max_side / tf.cast(longest, tf.float32)
        size = tf.cast(tf.round(tf.cast(shape[:2], tf.float32) * scale), tf.int32)
        resized = tf.image.resize(image, size, method="area")
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    return tf.cond(longest > max_side, shrink, lambda: image)


def _pad_boxes(tensor, value=0):
    n = tf.minimum(tf.shape(tensor)[0], MAX_BOXES)
    tensor = tensor[:n]
    pad = [[0, MAX_BOXES - n]] + [[0, 0]] * (len(tensor.shape) - 1)
    return tf.pad(tensor, pad, constant_values=value)


@dataclass
class TrainInputs:
    """The training input pipeline, read the way the OD API's dataset_builder reads it.

    `sources` holds one file list per `input_path`. Each source shuffles its
    file names, interleaves all of its files (up to `num_readers`) and shuffles
    records in a `shuffle_buffer`-deep buffer; with `weights`, sources are mixed
    by `sample_from_datasets` (the OD API's `sample_from_datasets_weights`), else
    all files form one source. Every replica gets the per-replica share of the
    global `batch_size`, as `model_lib_v2` does.
    """

    sources: list[list[str]]
    batch_size: int
    input_size: tuple[int, int]
    target_assigner: SsdTargetAssigner
    augment: object | None = None   # callable(image, boxes, classes, ignore)
    pad_narrower_images: bool = False   # ssd/padding.py, after augmentation as at inference
    weights: list[float] | None = None
    shuffle: bool = True
    shuffle_buffer: int = 2048
    filenames_shuffle_buffer: int = 100
    num_readers: int = 64
    read_block_length: int = 32
    seed: int | None = None

    @classmethod
    def from_reader(cls, reader, sources: list[list[str]], **kwargs) -> "TrainInputs":
        """Reader-level options from an InputReader message (`train_input_reader`)."""
        return cls(sources=sources, weights=list(reader.sample_from_datasets_weights) or None,
                   shuffle=reader.shuffle, shuffle_buffer=reader.shuffle_buffer_size,
                   filenames_shuffle_buffer=reader.filenames_shuffle_buffer_size,
                   num_readers=reader.num_readers, read_block_length=reader.read_block_length,
                   **kwargs)

    def records(self, input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Serialized examples, endless, mixed and shuffled as configured."""
        if self.weights is None:
            return self._read([f for files in self.sources for f in files], input_context)
        if len(self.weights) != len(self.sources):
            raise ValueError(f"{len(self.weights)} sample_from_datasets_weights for "
                             f"{len(self.sources)} input_path entries")
        return tf.data.Dataset.sample_from_datasets(
            [self._read(files, input_context) for files in self.sources], self.weights,
            seed=self.seed)

    def _read(self, files: Sequence[str], input_context) -> tf.data.Dataset:
        names = tf.data.Dataset.from_tensor_slices(list(files))
        if self.shuffle:
            names = names.shuffle(max(1, self.filenames_shuffle_buffer), seed=self.seed)
        if input_context and input_context.num_input_pipelines > 1:
            names = names.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        names = names.repeat()
        ds = names.interleave(tf.data.TFRecordDataset,
                              cycle_length=max(1, min(self.num_readers, len(files))),
                              block_length=max(1, self.read_block_length),
                              num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=not self.shuffle)
        if self.shuffle:
            ds = ds.shuffle(max(1, self.shuffle_buffer), seed=self.seed)
        return ds

    def dataset(self, input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        batch = (input_context.get_per_replica_batch_size(self.batch_size) if input_context
                 else self.batch_size)
        decoder = ExampleDecoder()
        ds = self.records(input_context).map(lambda s: self._prepare(decoder(s)),
                                             num_parallel_calls=tf.data.AUTOTUNE,
                                             deterministic=not self.shuffle)
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def _prepare(self, example):
        image, boxes, classes, ignore = (example["image"], example["boxes"],
                                         example["classes"], example["ignore"])
        if self.augment is not None:
            image = limit_size(image, AUGMENT_MAX_SIDE)
            image, boxes, classes, ignore = self.augment(image, boxes, classes, ignore)
        if self.pad_narrower_images:
            width = tf.shape(image)[1]
            image, left, total = padding.pad_columns(image, self.input_size)
            boxes = padding.boxes_into_padded(boxes, width, left, total)
        targets = self.target_assigner(boxes, classes, ignore)
        features = {
            "image": preprocess_images(image[None], self.input_size)[0],
            "groundtruth_boxes": _pad_boxes(boxes),
            "num_groundtruth": tf.minimum(tf.shape(boxes)[0], MAX_BOXES),
        }
        return features, targets
