"""Tiny generated detection data: skin-coloured blobs on textured backgrounds.

Small enough for a few training steps on CPU in a test, real enough that the
loss has something to learn (the blob's place and size vary per image).
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

TINY_INPUT = 96


def make_images(out_dir: Path, count: int = 12, size: tuple[int, int] = (96, 128),
                seed: int = 0, group_prefix: str = "SYN") -> Path:
    """Write JPEGs under out_dir/images and out_dir/labels.csv; return the CSV path."""
    rng = np.random.default_rng(seed)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    height, width = size
    rows = []
    for i in range(count):
        img = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 3))):
            bw, bh = int(rng.integers(width // 6, width // 3)), int(rng.integers(height // 6, height // 3))
            x0, y0 = int(rng.integers(0, width - bw)), int(rng.integers(0, height - bh))
            cv2.ellipse(img, (x0 + bw // 2, y0 + bh // 2), (bw // 2, bh // 2), 0, 0, 360,
                        (120, 160, 220), -1)
            rows.append([f"{group_prefix}{i % 3}_frame_{i:04d}.jpg", width, height, "hand",
                         x0, y0, x0 + bw, y0 + bh, f"{group_prefix}{i % 3}"])
        cv2.imwrite(str(images / f"{group_prefix}{i % 3}_frame_{i:04d}.jpg"), img)
    csv_path = out_dir / "labels.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax", "group"])
        w.writerows(rows)
    return csv_path


def make_records(root: Path, count: int = 16) -> Path:
    """Generated images through the real importer: root/prepared/{records,label_map.pbtxt}."""
    from data_prep.import_annotations import import_csv

    csv_path = make_images(root / "raw", count=count)
    import_csv(csv_path, root / "raw" / "images", root / "prepared", split="random",
               fractions=(0.75, 0.125, 0.125), progress=False)
    return root / "prepared"


def tiny_pipeline(records: Path, tmp: Path, learning_rate: float = 0.001, **overrides):
    """The shipped ssd.config at a 96x96 input, pointed at generated records.

    Returns (config, path of the saved config).
    """
    from config.loader import apply_overrides, load_pipeline, save_pipeline

    cfg = apply_overrides(
        load_pipeline("ssd.config"), batch_size=4,
        train_input_path=str(records / "records" / "train.record-*"),
        eval_input_path=str(records / "records" / "eval.record-*"),
        label_map_path=str(records / "label_map.pbtxt"), **overrides)
    cfg.train_config.ClearField("fine_tune_checkpoint")
    cfg.train_config.ClearField("data_augmentation_options")
    cfg.model.ssd.image_resizer.fixed_shape_resizer.height = TINY_INPUT
    cfg.model.ssd.image_resizer.fixed_shape_resizer.width = TINY_INPUT
    # From random init (no zoo weights in a test) trainable batch norm and Adam
    # learn fastest; the shipped configs fine-tune with frozen statistics.
    cfg.model.ssd.freeze_batchnorm = False
    cfg.train_config.optimizer.adam_optimizer.learning_rate.constant_learning_rate.learning_rate = learning_rate
    path = tmp / "tiny.config"
    save_pipeline(cfg, path)
    return cfg, path
