"""bench/detect_bench.py --compare-model: the side-by-side time ratio the speed budget reads."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_checks import one_error_line

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "exported_models" / "handtrack_default"
CLIP = ROOT / "samples" / "hands_sample.mp4"


def bench(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "detect_bench.py"), "--model", str(MODEL),
                           "--video", str(CLIP), *flags], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_compare_rows_give_the_median_of_paired_rounds_and_their_range(tmp_path):
    out = tmp_path / "bench.md"
    result = bench("--compare-model", str(MODEL), "--formats", "frozen,tflite_int8",
                   "--sizes", "320x240", "--workers", "1", "--max-frames", "6", "--rounds", "3",
                   "--readme-out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "3 alternating rounds" in text
    rows = re.findall(r"^\| (frozen graph|TFLite int8) \| 320x240 \| [\d.]+ \| [\d.]+ \| "
                      r"([\d.]+)x \| ([\d.]+)-([\d.]+)x \|$", text, re.M)
    assert [r[0] for r in rows] == ["frozen graph", "TFLite int8"], text
    for _, mid, low, high in rows:
        # Three rounds: the median is the middle ratio, so it lies inside the range;
        # the model against itself, it is near 1 unless the timing is broken.
        assert float(low) <= float(mid) <= float(high)
        assert 0.5 < float(mid) < 2.0, text


def test_rounds_below_one_is_a_one_line_error():
    one_error_line(bench("--compare-model", str(MODEL), "--rounds", "0"), "--rounds")
