"""Reading a frozen graph (`frozen_inference_graph.pb`).

Three readers need the GraphDef of an export: the detector runs it, the ONNX export cuts
it, and fine-tuning from an export reads its weights back. They share this one reader so
that a missing or broken file gives the same one-line error everywhere. It lives in
`common/` because its users sit in three packages (detect, export_lib, training), and
none of them is the natural owner of the other two's file errors.
"""
from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError


def read_graph_def(path: str | os.PathLike, field: str = ""):
    """The GraphDef in a frozen graph file; an unreadable or undecodable file is a one-line
    error naming it (after `field: ` when given)."""
    import tensorflow as tf

    where = f"{field}: {path}" if field else str(path)
    gd = tf.compat.v1.GraphDef()
    try:
        gd.ParseFromString(Path(path).read_bytes())
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # protobuf DecodeError
        raise UserError(f"{where}: not a GraphDef ({exc})") from None
    return gd
