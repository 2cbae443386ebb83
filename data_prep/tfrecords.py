"""tf.train.Example building and sharded, atomic TFRecord writing.

The Examples follow the TF Object Detection API layout (what tf-models-official's
`TfExampleDecoder` reads): `image/encoded` holds the original file bytes (no
re-encode, so no quality loss and no wasted CPU), boxes are normalised to
[0, 1], labels are 1-based ids from the label map. One extra per-box key,
`image/object/difficult` (int64 0/1), marks ignore boxes (see data_prep/__init__).

TensorFlow is imported lazily so `--help` and the pure-Python parts stay fast.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from common.atomic import atomic_path
from common.errors import UserError
from data_prep.annotations import ImageAnn
from data_prep.label_map import IGNORE_CLASS

FORMATS = {"JPEG": "jpeg", "PNG": "png"}


def inspect_image(data: bytes, where: str | os.PathLike) -> tuple[str, int, int]:
    """Decode `data` fully (at 1/8 scale, for speed) and return (format, width, height).

    A header check alone misses truncated files, which would only fail deep
    inside a training run; decoding here names the bad file up front.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = FORMATS.get(image.format or "")
            if fmt is None:
                raise UserError(f"{where}: unsupported image format {image.format!r} "
                                f"(JPEG or PNG expected)")
            size = image.size
            image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
    except UserError:
        raise
    except Image.DecompressionBombError as exc:
        raise UserError(_too_big(where, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UserError(f"{where}: unreadable image ({exc})") from None
    return fmt, size[0], size[1]


def _too_big(where: str | os.PathLike, exc: Exception) -> str:
    """PIL refuses images over 2x Image.MAX_IMAGE_PIXELS as possible decompression
    bombs; say so with the size instead of a traceback."""
    from PIL import Image

    return (f"{where}: image too large to read safely ({exc}); PIL's limit is "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels: downscale it or leave it out")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header only; UserError naming `path` if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        raise UserError(_too_big(path, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UserError(f"{path}: unreadable image ({exc})") from None


def build_example(image: ImageAnn, data: bytes, fmt: str, class_ids: dict[str, int]):
    """The tf.train.Example for one image.

    Boxes of class `ignore` get difficult=1, class text 'ignore' and the id of
    the first class (ids must be >= 1; the value is irrelevant because
    difficult boxes are neither positives nor negatives).
    """
    import tensorflow as tf

    def floats(values: Sequence[float]):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values: Sequence[int]):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def strings(values: Sequence[bytes]):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    w, h = float(image.width), float(image.height)
    boxes = image.boxes
    labels, difficult = [], []
    for box in boxes:
        if box.label == IGNORE_CLASS:
            labels.append(1)
            difficult.append(1)
        else:
            labels.append(class_ids[box.label])
            difficult.append(int(box.difficult))
    name = image.filename.encode("utf-8")
    feature = {
        "image/encoded": strings([data]),
        "image/format": strings([fmt.encode()]),
        "image/height": ints([image.height]),
        "image/width": ints([image.width]),
        "image/filename": strings([name]),
        "image/source_id": strings([name]),
        "image/object/bbox/xmin": floats([b.xmin / w for b in boxes]),
        "image/object/bbox/xmax": floats([b.xmax / w for b in boxes]),
        "image/object/bbox/ymin": floats([b.ymin / h for b in boxes]),
        "image/object/bbox/ymax": floats([b.ymax / h for b in boxes]),
        "image/object/class/text": strings([b.label.encode("utf-8") for b in boxes]),
        "image/object/class/label": ints(labels),
        "image/object/difficult": ints(difficult),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def shard_paths(records_dir: Path, split: str, shards: int) -> list[Path]:
    """`<split>.record-00000-of-0000N` names, the OD API's sharded convention."""
    return [records_dir / f"{split}.record-{i:05d}-of-{shards:05d}" for i in range(shards)]


def assign_shards(items: Sequence, shards: int) -> list[list]:
    """Round-robin, so every shard mixes all groups (shuffle buffers see variety)."""
    return [list(items[i::shards]) for i in range(shards)]


@contextlib.contextmanager
def shard_writers(paths: Iterable[Path]) -> Iterator[dict[Path, object]]:
    """Open a TFRecordWriter per path on temp files; all are renamed only on success."""
    import tensorflow as tf

    with contextlib.ExitStack() as stack:
        writers = {}
        for path in paths:
            tmp = stack.enter_context(atomic_path(path))
            writer = tf.io.TFRecordWriter(str(tmp))
            writers[path] = writer
            # Close (flush) before atomic_path renames: callbacks run LIFO.
            stack.callback(writer.close)
        yield writers
