#!/usr/bin/env python3
"""Real-time hand detection in one thread: the baseline for detect_multi_threaded.py.

Same flags and outputs as detect_multi_threaded.py (shared code in detect/).
"""
import sys

from common.cli import run_main
from detect.cli import main

if __name__ == "__main__":
    sys.exit(run_main(lambda argv: main(argv, threaded=False)))
