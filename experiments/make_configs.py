#!/usr/bin/env python3
"""Write the pipeline.configs of the shipped-model experiments (issue 5).

Both runs train on the three real sets in ../shared/data (imported with
`python -m data_prep.import_annotations --split group`, see run_experiments.sh)
and evaluate on groups (videos / capture sessions / signers) never seen in
training. They differ only in backbone width and starting checkpoint.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import apply_overrides, load_pipeline, save_pipeline  # noqa: E402

SETS = ("egohands_frames", "webcam_hands", "closeup_hands")
STEPS = 2000
RUNS = {
    "a_ssd_v1_100_imagenet": "ssd.config",
    "b_ssd_v1_075_coco": "ssd_mobilenet_v1_075_coco.config",
}
# (c) continues the better of (a)/(b) for another STEPS steps with the small
# egohands set (200 training frames against 1329 third-person ones) read three
# times as often, at half the peak learning rate.
CONTINUED = ("c_ssd_v1_075_coco_continued", "b_ssd_v1_075_coco")
OVERSAMPLE = {"egohands_frames": 3}


def main() -> None:
    here = Path(__file__).resolve().parent
    for name, base in RUNS.items():
        cfg = apply_overrides(
            load_pipeline(base), num_steps=STEPS,
            train_input_path=[f"data/{s}/records/train.record-*" for s in SETS],
            eval_input_path=[f"data/{s}/records/eval.record-*" for s in SETS],
            label_map_path="data/egohands_frames/label_map.pbtxt")
        cfg.eval_config.num_examples = 0   # all held-out images
        save_pipeline(cfg, here / name / "pipeline.config",
                      header=f"{name}: {base} on egohands_frames + webcam_hands + closeup_hands, "
                             f"{STEPS} steps (written by experiments/make_configs.py)")
    name, parent = CONTINUED
    train = [f"data/{s}/records/train.record-*" for s in SETS for _ in range(OVERSAMPLE.get(s, 1))]
    cfg = apply_overrides(
        load_pipeline(here / parent / "pipeline.config"), train_input_path=train,
        fine_tune_checkpoint=f"train_dir/{parent}", fine_tune_checkpoint_type="detection")
    lr = cfg.train_config.optimizer.rms_prop_optimizer.learning_rate.cosine_decay_learning_rate
    lr.learning_rate_base /= 2
    lr.warmup_learning_rate /= 2
    save_pipeline(cfg, here / name / "pipeline.config",
                  header=f"{name}: {parent} continued {STEPS} steps, egohands x{OVERSAMPLE['egohands_frames']}, "
                         f"half learning rate (written by experiments/make_configs.py)")


if __name__ == "__main__":
    main()
