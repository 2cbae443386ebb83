"""Find the bad TFRecord file before (or when) training trips over it.

tf.data reports a corrupt or cut-short record as `DataLossError: corrupted
record at N` without the file name, tens of seconds into a run. Two checks
name the file instead:

* `scan_framing` (at start, cheap): walks each file's record headers, seeking
  over the payloads, so a truncated file or a broken length header is found
  in milliseconds without reading the images.
* `find_corrupt` (after a DataLossError): reads each file fully with
  TensorFlow's own reader, which checks every payload CRC, and returns the
  first file that fails; only run on failure, so its cost does not matter.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Sequence

from common.errors import UserError

_HEADER = 12   # uint64 length + masked CRC32C of the length
_FOOTER = 4    # masked CRC32C of the payload


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def _masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _framing_problem(path: Path) -> str | None:
    """None if every record header is intact and the file ends on a record boundary."""
    size = path.stat().st_size
    offset = 0
    with open(path, "rb") as f:
        while offset < size:
            header = f.read(_HEADER)
            if len(header) < _HEADER:
                return f"cut short inside a record header at byte {offset} of {size}"
            length, crc = struct.unpack("<QI", header)
            if _masked_crc32c(header[:8]) != crc:
                return f"corrupt record header at byte {offset}"
            end = offset + _HEADER + length + _FOOTER
            if end > size:
                return (f"cut short: the record at byte {offset} needs {end - offset} bytes, "
                        f"the file ends {size - offset} bytes later")
            f.seek(end)
            offset = end
    return None


def scan_framing(files: Sequence[str | os.PathLike], field: str) -> None:
    """UserError naming the first file whose record framing is broken (truncation)."""
    for name in files:
        path = Path(name)
        try:
            problem = _framing_problem(path)
        except OSError as exc:
            raise UserError(f"{field}: {path}: cannot read ({exc.strerror or exc})") from None
        if problem:
            raise UserError(f"{field}: {path}: not a valid TFRecord file ({problem}); "
                            f"recreate it (rerun the data preparation) or remove it from "
                            f"input_path")


def find_corrupt(files: Sequence[str | os.PathLike]) -> tuple[str, str] | None:
    """(file, TensorFlow's message) for the first file whose records fail to read."""
    import tensorflow as tf

    for name in files:
        try:
            for _ in tf.data.TFRecordDataset(str(name)):
                pass
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError,
                tf.errors.InvalidArgumentError) as exc:
            return str(name), exc.message.splitlines()[0][:200]
    return None
