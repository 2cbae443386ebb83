"""Throughput of the dataset-writing stage: single worker vs a thread pool.

Times `data_prep.dataset_writer.write_dataset` (split, CSVs, image validation by
full decode, image copy, tf.train.Example building, sharded TFRecord writing)
on ../shared/data/egohands_frames (300 frames of 1280x720), once per worker
count, into fresh temp folders, after one warm-up pass so every run reads from
the page cache. Prints images/s and the speed-up over one worker.

    python bench/prep_bench.py [--data DIR] [--workers 1,2,4] [--shards 2] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.cli import quiet_tensorflow  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "egohands_frames"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with images/ and labels.csv")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to compare")
    parser.add_argument("--shards", type=int, default=2, help="TFRecord shards per split")
    parser.add_argument("--repeat", type=int, default=2, help="runs per setting (best kept)")
    args = parser.parse_args(argv)
    if not (args.data / "labels.csv").is_file():
        print(f"error: {args.data}/labels.csv not found (pass --data)", file=sys.stderr)
        return 2
    quiet_tensorflow()
    import tensorflow as tf  # noqa: F401  (import cost kept out of the timings)

    from data_prep.annotations import BoxStats, read_csv
    from data_prep.dataset_writer import write_dataset

    images = read_csv(args.data / "labels.csv", args.data / "images", BoxStats())
    for image in images:  # warm the page cache
        image.source.read_bytes()
    worker_counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="prep_bench_") as tmp:
        write_dataset(images, Path(tmp) / "warmup", ["hand"], split="group",
                      shards=args.shards, workers=1, progress=False)
        results = []
        for workers in worker_counts:
            best = float("inf")
            for run in range(args.repeat):
                out = Path(tmp) / f"w{workers}_{run}"
                start = time.perf_counter()
                write_dataset(images, out, ["hand"], split="group", shards=args.shards,
                              workers=workers, progress=False)
                best = min(best, time.perf_counter() - start)
            results.append((workers, best))
    base = results[0][1]
    print(f"dataset writing on {args.data.name}: {len(images)} images, {args.shards} shards/split, "
          f"{os.cpu_count()} CPUs, best of {args.repeat}")
    print(f"{'workers':>8} {'seconds':>8} {'images/s':>9} {'speed-up':>9}")
    for workers, seconds in results:
        print(f"{workers:>8} {seconds:>8.2f} {len(images) / seconds:>9.1f} {base / seconds:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
