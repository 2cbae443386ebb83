#!/usr/bin/env python3
"""Real-time hand detection, multi-threaded: capture thread + N workers sharing one model.

Run `python3 detect_multi_threaded.py --help`. The engine lives in detect/.
"""
import sys

from common.cli import run_main
from detect.cli import main

if __name__ == "__main__":
    sys.exit(run_main(lambda argv: main(argv, threaded=True)))
