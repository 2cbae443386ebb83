"""TFLite conversion of a fixed-shape SavedModel, runnable in a child process.

Why a child process for int8: the converter's calibration step runs the float
model in TF's own interpreter, and on some graphs it crashes the whole process
(seen: SIGSEGV on a post-processing `tf.map_fn`, i.e. a WHILE loop, in
TF 2.20). In-process that would kill export.py with no message and leave its
temp dir behind; in a child it becomes a clean, explained error.

  python3 -m export_lib.tflite_convert SAVED_MODEL OUT.tflite [--int8 CALIB.npy]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from common.atomic import atomic_write_bytes


def convert(saved_model: str, out: str, calibration: np.ndarray | None = None) -> None:
    """Float model, or (with calibration images [K, h, w, 3] uint8) a full-integer one:
    int8 weights/activations, uint8 input, float32 outputs; TFLITE_BUILTINS allowed
    beside TFLITE_BUILTINS_INT8 so ops without an int8 kernel (NMS) stay float."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model,
                                                    signature_keys=["serving_default"])
    if calibration is not None:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ({"input_tensor": img[None]}
                                               for img in calibration)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                          tf.lite.OpsSet.TFLITE_BUILTINS]
        conv.inference_input_type = tf.uint8
    data = conv.convert()
    atomic_write_bytes(out, data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("saved_model")
    p.add_argument("out")
    p.add_argument("--int8", metavar="CALIB_NPY", default=None,
                   help="uint8 [K, h, w, 3] calibration images (.npy)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    calib = np.load(args.int8) if args.int8 else None
    convert(args.saved_model, args.out, calib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
