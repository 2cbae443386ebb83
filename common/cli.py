"""Shared plumbing for the thin entry scripts at the repository root."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Sequence

from common.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter before it is imported.

    The oneDNN/CUDA banners are noise for users of a CLI; real warnings still
    reach Python logging.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # tf-models-official logs every layer it builds through absl at INFO.
    logging.getLogger("absl").setLevel(logging.DEBUG if verbose else logging.WARNING)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse `type=` for counts: argparse turns the ValueError into a usage error naming the flag."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def run_main(main: Callable[[Sequence[str] | None], int | None],
             argv: Sequence[str] | None = None) -> int:
    """Run `main(argv)` and map user errors and Ctrl-C to clean exits.

    Returns the exit code instead of calling sys.exit so tests can call it.
    """
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(code or 0)
