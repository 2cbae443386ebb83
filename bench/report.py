"""The end of every benchmark: its markdown table, printed and optionally saved.

Each benchmark prints a table for bench/RESULTS.md; `--readme-out` writes the
same text atomically, so a rerun replaces a section without copying from a
terminal. The heading names the processor, core count and date because
figures taken on different machines are not comparable.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Optional, Sequence

from common.atomic import atomic_write_text


def add_readme_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--readme-out", default=None, metavar="FILE", help="also write the markdown here")


def machine() -> str:
    """`<processor>, <N> cores, <date>`: where and when the figures were taken."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"


def publish(lines: Sequence[str], readme_out: Optional[str]) -> None:
    """Print the markdown `lines` (one trailing newline); also write them to `readme_out`."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    if readme_out:
        atomic_write_text(readme_out, text)
