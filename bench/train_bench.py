#!/usr/bin/env python3
"""Training throughput on this CPU: steps/s of the real train step (batch 8, 300x300)
for SSD-MobileNet v1 depth 1.0 and 0.75, measured in one run.

The step is the one `train.py` runs (forward, loss with hard example mining,
backward, RMSProp update) on a fixed batch of generated images with real
targets, so the figure excludes input decoding. Ratios are against depth 1.0
from the same run, since absolute numbers move with machine load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(depth: float, batch: int, size: int, steps: int, warmup: int) -> float:
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from ssd.specs import SsdConfig
    from ssd.losses import ssd_loss
    from ssd.model import SSDDetector
    from ssd.targets import SsdTargetAssigner

    cfg = SsdConfig(num_classes=1, depth_multiplier=depth, input_size=(size, size))
    model = SSDDetector(cfg)
    assigner = SsdTargetAssigner(cfg, model.anchors_corners)
    rng = np.random.default_rng(0)
    per_image = []
    for _ in range(batch):
        y0, x0 = rng.uniform(0, 0.5, 2)
        per_image.append(assigner(tf.constant([[y0, x0, y0 + 0.3, x0 + 0.25]], tf.float32),
                                  tf.constant([1])))
    targets = {k: tf.stack([t[k] for t in per_image]) for k in per_image[0]}
    images = tf.random.uniform([batch, size, size, 3], -1, 1, seed=1)
    optimizer = tf_keras.optimizers.RMSprop(0.004, rho=0.9, momentum=0.9, epsilon=1.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            losses = ssd_loss(outputs, targets, model.decode_boxes(outputs["box_encodings"]), cfg.loss)
            total = losses["classification_loss"] + losses["localization_loss"] + tf.add_n(model.losses)
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        float(step())
    return steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=300)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    rows = []
    for depth in (1.0, 0.75):
        rate = measure(depth, args.batch, args.size, args.steps, args.warmup)
        rows.append((depth, rate))
        print(f"depth {depth}: {rate:.2f} steps/s", flush=True)
    base = rows[0][1]
    print(f"\n| depth multiplier | steps/s (batch {args.batch}, {args.size}x{args.size}) | images/s | vs depth 1.0 |")
    print("|---|---|---|---|")
    for depth, rate in rows:
        print(f"| {depth} | {rate:.2f} | {rate * args.batch:.1f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
