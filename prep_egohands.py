#!/usr/bin/env python3
"""Convert EgoHands into train/test/eval TFRecords: see `python prep_egohands.py --help`."""
import sys

from common.cli import run_main
from data_prep.egohands_cli import main

if __name__ == "__main__":
    sys.exit(run_main(main))
