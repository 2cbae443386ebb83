"""Assertions on how a CLI run failed, shared by the reliability tests."""
from __future__ import annotations

import subprocess


def one_error_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    """A user mistake ends with exit 2 and exactly one `error: ...` line holding
    every needle, never a traceback; returns that line."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
