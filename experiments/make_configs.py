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
# The shipped configs name the zoo's archive URLs; the experiments start from
# the local copies in ../shared (this machine has no network).
WEIGHTS = "../shared/weights"
START = {
    "a_ssd_v1_100_imagenet": (f"{WEIGHTS}/mobilenet_v1_1.0_224/mobilenet_v1_1.0_224.ckpt",
                              "classification"),
    "b_ssd_v1_075_coco": (f"{WEIGHTS}/ssd_mobilenet_v1_0.75_depth_coco/model.ckpt", "detection"),
}
# (c) continues the better of (a)/(b) for another STEPS steps with the small
# egohands set (200 training frames against 1329 third-person ones) read three
# times as often, at half the peak learning rate.
CONTINUED = ("c_ssd_v1_075_coco_continued", "b_ssd_v1_075_coco")
OVERSAMPLE = {"egohands_frames": 3}


# v2 (issue 9): every set, each input_path its own dataset mixed by weight
# (egocentric sets weighted up: they are the view the first model missed),
# zoom-in and zoom-out crops, colour, grey and occlusion augmentation.
V2 = "d_v2_all_sets"
V2_SETS = {"egohands_frames": 0.30, "rps_hands": 0.25, "phone_hands": 0.20,
           "webcam_hands": 0.15, "closeup_hands": 0.10}
V2_STEPS = 4000
V2_AUGMENT = """
data_augmentation_options { random_horizontal_flip {} }
data_augmentation_options { ssd_random_crop_pad {
  operations { min_object_covered: 0.3 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 0.3 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [1.0, 1.0] }
  operations { min_object_covered: 0.7 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 0.7 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [1.0, 1.0] }
  operations { min_object_covered: 1.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 1.0 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [1.0, 1.0] }
  operations { min_object_covered: 0.5 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 0.5 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [2.0, 2.0] }
  operations { min_object_covered: 0.9 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 0.9 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [2.0, 2.0] }
  operations { min_object_covered: 1.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1
    max_area: 1.0 overlap_thresh: 1.0 random_coef: 0.15
    min_padded_size_ratio: [1.0, 1.0] max_padded_size_ratio: [3.0, 3.0] }
} }
data_augmentation_options { random_adjust_brightness { max_delta: 0.2 } }
data_augmentation_options { random_adjust_contrast { min_delta: 0.8 max_delta: 1.25 } }
data_augmentation_options { random_adjust_saturation { min_delta: 0.8 max_delta: 1.25 } }
data_augmentation_options { random_adjust_hue { max_delta: 0.02 } }
data_augmentation_options { random_rgb_to_gray { probability: 0.1 } }
data_augmentation_options { random_black_patches { max_black_patches: 4 probability: 0.25
                                                   size_to_image_ratio: 0.1 } }
"""


# Issue 8's evidence: (a) again with the training-fidelity fixes (frozen batch
# norm that still trains gamma/beta, OD API shuffling, TF1 RMSProp), on the
# same three sets and steps; only the held-out groups moved (see run_experiments.sh).
A_FIXED = "a2_ssd_v1_100_imagenet_fidelity"


def write_a_fixed(here: Path) -> None:
    cfg = load_pipeline(here / "a_ssd_v1_100_imagenet" / "pipeline.config")
    save_pipeline(cfg, here / A_FIXED / "pipeline.config",
                  header=f"{A_FIXED}: a_ssd_v1_100_imagenet rerun after the training-fidelity "
                         f"fixes, {STEPS} steps (written by experiments/make_configs.py)")


# v2 continued with hard negatives: hand-free crops of the training images
# (experiments/make_negatives.py; rps_hands left out, its labels are partial)
# as a sixth input. With no hand in an image the hard example miner keeps
# max(3 x positives, min_negatives_per_image) negatives, so the minimum must be
# above 0 for those images to count at all.
V2_NEG = "e_v2_hard_negatives"
V2_NEG_STEPS = 1500
V2_NEG_SETS = {"egohands_frames": 0.27, "rps_hands": 0.20, "phone_hands": 0.17,
               "webcam_hands": 0.13, "closeup_hands": 0.11}
V2_NEG_WEIGHT = 0.12


def with_negatives(cfg, negatives: dict[str, float], sets: dict[str, float] = V2_NEG_SETS,
                   data_dir: str = "data") -> None:
    """The five sets (under `data_dir`) at `sets`' weights plus negative record files at theirs.
    With no hand in an image the hard example miner keeps
    max(3 x positives, min_negatives_per_image) negatives: the minimum must be > 0."""
    reader = cfg.train_input_reader.tf_record_input_reader
    del reader.input_path[:]
    reader.input_path.extend([f"{data_dir}/{s}/records/train.record-*" for s in sets]
                             + list(negatives))
    weights = cfg.train_input_reader.sample_from_datasets_weights
    del weights[:]
    weights.extend(list(sets.values()) + list(negatives.values()))
    cfg.model.ssd.loss.hard_example_miner.min_negatives_per_image = 8


def hand_shares(cfg) -> dict[str, float]:
    """The hand sets' sampling weights in a config, by set name (negatives left out)."""
    reader = cfg.train_input_reader
    names = [p.split("/")[-3] for p in reader.tf_record_input_reader.input_path]
    return {s: w for s, w in zip(names, reader.sample_from_datasets_weights) if s in V2_SETS}


def negatives_added(negatives: dict[str, float]):
    """A derive() edit: the config's negative inputs replaced by `negatives`, every hand set
    keeping its weight."""
    def edit(cfg) -> None:
        with_negatives(cfg, negatives, hand_shares(cfg))
    return edit


def with_negatives_taking_their_share(cfg, negatives: dict[str, float]) -> None:
    """The config's negative inputs replaced by `negatives`, the hand sets keeping their
    proportions in the share left to them."""
    hands = hand_shares(cfg)
    share = (1 - sum(negatives.values())) / sum(hands.values())
    with_negatives(cfg, negatives, {s: round(w * share, 4) for s, w in hands.items()})


def continue_from(cfg, start: str, steps: int, rate: float, warmup_rate: float,
                  warmup_steps: int, hold_steps: int | None = None) -> None:
    """A continuation stage: fine-tune from `start` for `steps` steps on a cosine rate
    peaking at `rate` (held there for `hold_steps` after warm-up, when given)."""
    tc = cfg.train_config
    tc.num_steps = steps
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = start, "detection"
    lr = tc.optimizer.rms_prop_optimizer.learning_rate.cosine_decay_learning_rate
    lr.learning_rate_base, lr.total_steps = rate, steps
    lr.warmup_learning_rate, lr.warmup_steps = warmup_rate, warmup_steps
    if hold_steps is not None:
        lr.hold_base_rate_steps = hold_steps


def write_v2_negatives(here: Path) -> None:
    cfg = load_pipeline(here / V2 / "pipeline.config")
    with_negatives(cfg, {"data/negatives/records/train-*.record": V2_NEG_WEIGHT})
    continue_from(cfg, f"train_dir/{V2}", V2_NEG_STEPS, 0.0015, 0.0003, 100)
    save_pipeline(cfg, here / V2_NEG / "pipeline.config",
                  header=f"{V2_NEG}: {V2} continued {V2_NEG_STEPS} steps with hand-free crops "
                         f"as negatives (weight {V2_NEG_WEIGHT}), min 8 negatives per image "
                         f"(written by experiments/make_configs.py)")


# One stage, negatives from the start, but none cut from egocentric frames: e
# lost 0.11 egocentric AP against d while it gained everywhere else, and the
# egocentric crops (table, cards, sleeves next to hands) are the suspect. d's
# schedule shortened to 3000 steps (a full cosine cycle; the 2-core machine
# had 2 hours for training and evaluation), e's input weights; no second stage.
V2_ONE_STAGE = "f_v2_negatives_no_ego"
V2_ONE_STAGE_STEPS = 3000
NO_EGO_NEGATIVES = ("webcam_hands", "closeup_hands", "phone_hands")


def write_v2_one_stage(here: Path) -> None:
    cfg = load_pipeline(here / V2 / "pipeline.config")
    share = V2_NEG_WEIGHT / len(NO_EGO_NEGATIVES)
    with_negatives(cfg, {f"data/negatives/records/train-{s}.record": share
                         for s in NO_EGO_NEGATIVES})
    cfg.train_config.num_steps = V2_ONE_STAGE_STEPS
    lr = cfg.train_config.optimizer.rms_prop_optimizer.learning_rate.cosine_decay_learning_rate
    lr.total_steps = V2_ONE_STAGE_STEPS
    save_pipeline(cfg, here / V2_ONE_STAGE / "pipeline.config",
                  header=f"{V2_ONE_STAGE}: {V2} for {V2_ONE_STAGE_STEPS} steps with {V2_NEG}'s "
                         f"inputs from the first step, "
                         f"negatives cut from {', '.join(NO_EGO_NEGATIVES)} only (weight "
                         f"{V2_NEG_WEIGHT} in all), min 8 negatives per image "
                         f"(written by experiments/make_configs.py)")


# f continued with e's second-stage schedule (1500 steps, peak 0.0015): does the
# longer, cooler finish that lifted d's webcam/close-up/rps AP in e do the same
# for f, without e's egocentric loss?
V2_NO_EGO_CONTINUED = "g_v2_no_ego_continued"


def write_v2_no_ego_continued(here: Path) -> None:
    cfg = load_pipeline(here / V2_ONE_STAGE / "pipeline.config")
    stage2 = load_pipeline(here / V2_NEG / "pipeline.config").train_config
    tc = cfg.train_config
    tc.num_steps = stage2.num_steps
    tc.optimizer.CopyFrom(stage2.optimizer)
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = f"train_dir/{V2_ONE_STAGE}", "detection"
    save_pipeline(cfg, here / V2_NO_EGO_CONTINUED / "pipeline.config",
                  header=f"{V2_NO_EGO_CONTINUED}: {V2_ONE_STAGE} continued {tc.num_steps} steps "
                         f"with {V2_NEG}'s learning rate (written by experiments/make_configs.py)")


# f with anchors that reach small hands. Half of the held-out egocentric boxes
# (median side 40 px of the 300 px input: the other player's hands across the
# table) overlap no anchor at IoU 0.5 with the zoo's min_scale 0.2 and its
# reduced lowest layer (one 0.1 square, two 0.2 boxes at 19x19); min_scale 0.15
# with all aspect ratios in the lowest layer leaves 0.14 uncovered (webcam 0.00).
# Same input size and backbone; only the first box predictor grows (3 -> 6
# anchors per cell, 1917 -> 3000 anchors), so its zoo weights no longer fit and
# it starts fresh.
V2_SMALL_ANCHORS = "h_v2_small_anchors"


def write_v2_small_anchors(here: Path) -> None:
    cfg = load_pipeline(here / V2_ONE_STAGE / "pipeline.config")
    anchors = cfg.model.ssd.anchor_generator.ssd_anchor_generator
    anchors.min_scale, anchors.reduce_boxes_in_lowest_layer = 0.15, False
    save_pipeline(cfg, here / V2_SMALL_ANCHORS / "pipeline.config",
                  header=f"{V2_SMALL_ANCHORS}: {V2_ONE_STAGE} with anchor min_scale 0.15 and "
                         f"every aspect ratio in the lowest layer "
                         f"(written by experiments/make_configs.py)")


# d -> e again with h's anchors (i: d's first stage; j: e's negative stage from
# i), so the shipped recipe and the anchor change are compared step for step.
V2_SMALL_ANCHORS_STAGES = {"i_v2_all_sets_small_anchors": (V2, None),
                           "j_v2_hard_negatives_small_anchors": (V2_NEG, "i_v2_all_sets_small_anchors")}


def write_v2_small_anchor_stages(here: Path) -> None:
    small = load_pipeline(here / V2_SMALL_ANCHORS / "pipeline.config").model.ssd.anchor_generator
    for name, (base, parent) in V2_SMALL_ANCHORS_STAGES.items():
        cfg = load_pipeline(here / base / "pipeline.config")
        cfg.model.ssd.anchor_generator.CopyFrom(small)
        if parent:
            cfg.train_config.fine_tune_checkpoint = f"train_dir/{parent}"
        save_pipeline(cfg, here / name / "pipeline.config",
                      header=f"{name}: {base} with {V2_SMALL_ANCHORS}'s anchors"
                             + (f", continuing {parent}" if parent else "")
                             + " (written by experiments/make_configs.py)")


# Stochastic weight averaging done right: every averaged checkpoint must have seen
# the negatives. l (i's early checkpoints + j's) lifted egocentric AP but fired
# 1.3-5.9x more often on hand-free crops than e, because i's checkpoints never saw
# them. m continues i's step-1000 checkpoint (the best single egocentric one: high
# learning rate, not yet settled on webcam pictures) with e's inputs, negatives
# included, at a flat learning rate, so every checkpoint it keeps is a point of
# one high-rate walk worth averaging (n: all of them; o: weighted, shipped as v3).
V2_FLAT = "m_v2_negatives_flat_from_i1000"
V2_FLAT_STEPS = 2000
V2_FLAT_RATE = 0.002


def write_v2_flat(here: Path) -> None:
    cfg = load_pipeline(here / "j_v2_hard_negatives_small_anchors" / "pipeline.config")
    continue_from(cfg, "train_dir/i_v2_all_sets_small_anchors/kept/ckpt-1000", V2_FLAT_STEPS,
                  V2_FLAT_RATE, 0.0003, 100, hold_steps=V2_FLAT_STEPS - 100)
    save_pipeline(cfg, here / V2_FLAT / "pipeline.config",
                  header=f"{V2_FLAT}: j's inputs (negatives included) from i's step-1000 checkpoint, "
                         f"{V2_FLAT_STEPS} steps at a flat {V2_FLAT_RATE} after 100 warm-up steps "
                         f"(written by experiments/make_configs.py)")


# o settled: o's weights continued with m's inputs at a rate that decays from a
# quarter of m's to zero, so the late checkpoints stop swinging (m's single
# checkpoints ranged 0.16-0.76 egocentric at the flat rate) and can be averaged
# with o. Aim: webcam back to m's step-2000 0.997 without giving up o's egocentric AP.
V2_SETTLED = "p_v2_settled_from_o"
V2_SETTLED_STEPS = 1200
V2_SETTLED_RATE = 0.0005


def write_v2_settled(here: Path) -> None:
    cfg = load_pipeline(here / V2_FLAT / "pipeline.config")
    continue_from(cfg, "train_dir/o_m_weighted", V2_SETTLED_STEPS, V2_SETTLED_RATE, 0.0001, 50,
                  hold_steps=0)
    save_pipeline(cfg, here / V2_SETTLED / "pipeline.config",
                  header=f"{V2_SETTLED}: m's inputs from o's averaged weights, {V2_SETTLED_STEPS} "
                         f"steps, cosine from {V2_SETTLED_RATE} to 0 after 50 warm-up steps "
                         f"(written by experiments/make_configs.py)")


# p kept webcam at 0.99 and lost egocentric AP. The webcam misses of o are a
# brown armchair scored 0.94 in four frames of session 3 and pointing hands whose
# box stops at the fist (the labels run from fingertip to wrist): q reads the
# webcam pictures twice as often, from o, at twice p's rate.
V2_WEBCAM = "q_v2_webcam_weighted_from_o"
V2_WEBCAM_STEPS = 1000
V2_WEBCAM_SETS = {"egohands_frames": 0.24, "rps_hands": 0.15, "phone_hands": 0.13,
                  "webcam_hands": 0.26, "closeup_hands": 0.11}


def write_v2_webcam(here: Path) -> None:
    cfg = load_pipeline(here / V2_SETTLED / "pipeline.config")
    with_negatives(cfg, {"data/negatives/records/train-*.record": 0.11}, V2_WEBCAM_SETS)
    continue_from(cfg, "train_dir/o_m_weighted", V2_WEBCAM_STEPS, 2 * V2_SETTLED_RATE, 0.0001, 50,
                  hold_steps=0)
    save_pipeline(cfg, here / V2_WEBCAM / "pipeline.config",
                  header=f"{V2_WEBCAM}: {V2_SETTLED} with webcam_hands at weight 0.26 (was 0.13), "
                         f"{V2_WEBCAM_STEPS} steps, cosine from {2 * V2_SETTLED_RATE} to 0 "
                         f"(written by experiments/make_configs.py)")


# Was o a lucky pick? o's weights (m's 250, 500, 750 and 2x 2000) were chosen on
# the held-out sets they are scored on. r is m again with another seed (data order
# and augmentation), s averages r's checkpoints with o's recipe: if s scores like o,
# the recipe holds; if not, o's egocentric figure owes much to the pick.
V2_FLAT_REPLICATE = "r_v2_flat_seed8"


def write_v2_flat_replicate(here: Path) -> None:
    cfg = load_pipeline(here / V2_FLAT / "pipeline.config")
    save_pipeline(cfg, here / V2_FLAT_REPLICATE / "pipeline.config",
                  header=f"{V2_FLAT_REPLICATE}: {V2_FLAT} trained again with --seed 8 "
                         f"(written by experiments/make_configs.py)")


# A third walk from i's step-1000 checkpoint (m and r were the first two) for a
# soup of walks, with what o and s miss: hard negatives cut around v3's own
# confident false detections on the training images (the brown armchair;
# experiments/make_negatives.py --mine-with) and close-up drawn more often
# (v3's one real loss against v1 is close-up).
V2_MINED = "t_v2_mined_seed9"
V2_MINED_SETS = {"egohands_frames": 0.25, "rps_hands": 0.19, "phone_hands": 0.16,
                 "webcam_hands": 0.13, "closeup_hands": 0.15}
V2_MINED_NEGATIVES = {"data/negatives/records/train-*.record": 0.07,
                      "data/mined_negatives/records/train-*.record": 0.05}


# A fourth walk for the soup: t's recipe with --seed 10 and a third negative input,
# crops around v4's own confident false detections on the training images (v4 still
# fires on 68 of them at 0.3: the armchair, a kitchen cabinet, a shirt logo).
V2_MINED_V4 = "x_v2_mined_v4_seed10"
V2_MINED_V4_NEGATIVES = {"data/negatives/records/train-*.record": 0.06,
                         "data/mined_negatives/records/train-*.record": 0.03,
                         "data/mined_negatives_v4/records/train-*.record": 0.03}
# run: (config it starts from, negative inputs, what the header says it changes)
MINED_WALKS = {
    V2_MINED: (V2_FLAT, V2_MINED_NEGATIVES,
               "with --seed 9, closeup_hands at 0.15 (was 0.11) and hand-free crops around "
               "v3's false detections as a second negative input"),
    V2_MINED_V4: (V2_MINED, V2_MINED_V4_NEGATIVES,
                  "with --seed 10 and hand-free crops around v4's false detections as a third "
                  "negative input"),
}


def write_v2_mined(here: Path) -> None:
    """The walks with mined negatives, each on t's set weights (V2_MINED_SETS)."""
    for name, (base, negatives, change) in MINED_WALKS.items():
        cfg = load_pipeline(here / base / "pipeline.config")
        with_negatives(cfg, negatives, V2_MINED_SETS)
        save_pipeline(cfg, here / name / "pipeline.config",
                      header=f"{name}: {base} {change} (written by experiments/make_configs.py)")


# v4 scores 13 boxes around part of a hand (a finger, a fist without the arm) on
# the held-out close-ups, v1 none. Guess: the first zoom-in crop keeps a box when
# 30% of it lies inside the crop (min_object_covered = overlap_thresh = 0.3), so
# a clipped finger is taught as "hand". aa is t's walk (another seed) with that
# crop at 0.5: no kept box is less than half its hand.
V2_HALF_BOX = "aa_v2_half_box_crops_seed11"
HALF_BOX_OVERLAP = 0.5


def write_v2_half_box_crops(here: Path) -> None:
    cfg = load_pipeline(here / V2_MINED / "pipeline.config")
    crop = next(o.ssd_random_crop_pad for o in cfg.train_config.data_augmentation_options
                if o.HasField("ssd_random_crop_pad"))
    first = crop.operations[0]
    assert first.overlap_thresh < HALF_BOX_OVERLAP, first
    first.min_object_covered = first.overlap_thresh = HALF_BOX_OVERLAP
    save_pipeline(cfg, here / V2_HALF_BOX / "pipeline.config",
                  header=f"{V2_HALF_BOX}: {V2_MINED} with --seed 11 and the first zoom-in crop "
                         f"at min_object_covered = overlap_thresh = {HALF_BOX_OVERLAP} (was 0.3) "
                         f"(written by experiments/make_configs.py)")


# The walks start from i's step-1000 checkpoint. On a machine without it, i is trained that
# far again: I_FIRST_1000 is i's config stopped at step 1000 of its own 4000-step schedule
# (near the peak rate, as v4's walks m, r, t started). The walks at 360 (ai, al, an, ar)
# started instead from I_SHORT_SCHEDULE, i trained with --num-steps 1000, which squeezes the
# cosine schedule into those 1000 steps (down to rate 0): what a fresh machine made of it
# before I_FIRST_1000 existed. Each keeps its own run folder.
I_FIRST_1000 = "i_v2_first_1000_steps"
I_SHORT_SCHEDULE = "i_v2_1000_step_schedule"


def write_i_restarts(here: Path) -> None:
    cfg = load_pipeline(here / "i_v2_all_sets_small_anchors" / "pipeline.config")
    cfg.train_config.num_steps = 1000   # the cosine schedule keeps its 4000 steps
    save_pipeline(cfg, here / I_FIRST_1000 / "pipeline.config",
                  header=f"{I_FIRST_1000}: i_v2_all_sets_small_anchors stopped at step 1000 of its "
                         f"4000-step schedule, trained into train_dir/i_v2_all_sets_small_anchors "
                         f"(written by experiments/make_configs.py)")
    short = apply_overrides(load_pipeline(here / "i_v2_all_sets_small_anchors" / "pipeline.config"),
                            num_steps=1000)
    save_pipeline(short, here / I_SHORT_SCHEDULE / "pipeline.config",
                  header=f"{I_SHORT_SCHEDULE}: i_v2_all_sets_small_anchors with its cosine schedule "
                         f"squeezed into 1000 steps (train.py --num-steps 1000), the start of the "
                         f"walks at 360 (written by experiments/make_configs.py)")


# v4 at 360x360 (zero-shot, checkpoint, one pass): with anchors matched in pixels
# (scales x 300/360) the egocentric video rose from 0.694 to 0.794 and rps from 0.329
# to 0.373, while close-up fell to 0.837 and webcam to 0.958: far hands gain pixels,
# and hands larger than any 300x300 training picture are lost. ad fine-tunes v4's
# weights at 360 so the large hands are learnt at the new size, on t's inputs.
V2_AT_360 = "ad_v4_at_360_seed12"
AT_360_SIZE = 360
AT_360_STEPS = 1000
AT_360_RATE = 0.001
# ad at 360 (int8, end squares) read the egocentric video at 0.743 against v4's 0.814,
# with webcam 0.991 and rps 0.393 above v4's: a second walk, for a soup of the two
# (v4's own egocentric figure came from a soup of walks, not from one).
V2_AT_360_REPLICATE = "ag_v4_at_360_seed13"
# ad and ag, both from v4, lost the egocentric gain; v4's walks started from i's step
# 1000 and were averaged. ai is t's walk at 360 from there, the first of a soup at 360.
V2_AT_360_WALK = "ai_v2_at_360_seed14"
# Two more walks like ai (other seeds), for a soup at 360 of three walks' weight means,
# as v4 is at 300.
V2_AT_360_MORE_WALKS = ("al_v2_at_360_seed15", "an_v2_at_360_seed16")
# ap (three walks) reached egocentric 0.722 where its walks' means scored 0.59-0.75: does a
# fourth walk (ar, seed 17; aw its mean; as the soup of four) add to that?
V2_AT_360_FOURTH_WALK = "ar_v2_at_360_seed17"


def at_360(cfg) -> float:
    """Set the input to AT_360_SIZE, anchors scaled to keep their sizes in pixels;
    returns the scale factor."""
    resizer = cfg.model.ssd.image_resizer.fixed_shape_resizer
    shrink = resizer.height / AT_360_SIZE
    resizer.height = resizer.width = AT_360_SIZE
    anchors = cfg.model.ssd.anchor_generator.ssd_anchor_generator
    anchors.min_scale, anchors.max_scale = (round(anchors.min_scale * shrink, 6),
                                            round(anchors.max_scale * shrink, 6))
    return shrink


def write_v2_at_360(here: Path) -> None:
    cfg = load_pipeline(here / V2_MINED / "pipeline.config")
    shrink = at_360(cfg)
    continue_from(cfg, "train_dir/w_osv_soup", AT_360_STEPS, AT_360_RATE, 0.0002, 50,
                  hold_steps=0)
    save_pipeline(cfg, here / V2_AT_360 / "pipeline.config",
                  header=f"{V2_AT_360}: {V2_MINED}'s inputs from v4's weights (w_osv_soup) at "
                         f"{AT_360_SIZE}x{AT_360_SIZE} with anchor scales x {shrink:.4f} (the same "
                         f"sizes in pixels), {AT_360_STEPS} steps, cosine from {AT_360_RATE} to 0, "
                         f"--seed 12 (written by experiments/make_configs.py)")
    save_pipeline(cfg, here / V2_AT_360_REPLICATE / "pipeline.config",
                  header=f"{V2_AT_360_REPLICATE}: {V2_AT_360} trained again with --seed 13 "
                         f"(written by experiments/make_configs.py)")
    cfg = load_pipeline(here / V2_MINED / "pipeline.config")
    at_360(cfg)
    cfg.train_config.fine_tune_checkpoint = f"train_dir/{I_SHORT_SCHEDULE}/kept/ckpt-1000"
    save_pipeline(cfg, here / V2_AT_360_WALK / "pipeline.config",
                  header=f"{V2_AT_360_WALK}: {V2_MINED} at {AT_360_SIZE}x{AT_360_SIZE} with anchor "
                         f"scales x {shrink:.4f}, from i trained 1000 steps on a 1000-step schedule "
                         f"({I_SHORT_SCHEDULE}; not v4's start), --seed 14 "
                         f"(written by experiments/make_configs.py)")
    for walk in V2_AT_360_MORE_WALKS + (V2_AT_360_FOURTH_WALK,):
        save_pipeline(cfg, here / walk / "pipeline.config",
                      header=f"{walk}: {V2_AT_360_WALK} trained again with --seed "
                             f"{walk.rsplit('seed', 1)[1]} (written by experiments/make_configs.py)")


# The walks from v4 so far (ad, ag) were at 360, so they cannot tell what the new input size
# did from what further training did. ax, ay, az are ad's recipe (t's inputs, 1000 steps,
# cosine from 0.001 to 0) at v4's own 300x300, from the shipped v4 export itself (read by
# training.from_export; run_experiments.sh takes it from git history, commit fde1fa5), seeds
# 18-20. ba, bb, bc: o's recipe on each; bd: their soup; be: bd and v4 averaged.
# Written before any of them is trained. Rule: a model replaces v4 only if its checkpoint
# beats v4 on webcam and close-up (the views short of the aims) without falling below v4 on
# egocentric, rps or phone by more than v4's own 95% interval half-width.
V4_SHIPPED = "train_dir/v4_model/exported_models/handtrack_default"
FROM_V4_AT_300 = ("ax_v4_at_300_seed18", "ay_v4_at_300_seed19", "az_v4_at_300_seed20")


def write_from_v4_at_300(here: Path) -> None:
    cfg = load_pipeline(here / V2_MINED / "pipeline.config")
    continue_from(cfg, V4_SHIPPED, AT_360_STEPS, AT_360_RATE, 0.0002, 50, hold_steps=0)
    for walk in FROM_V4_AT_300:
        save_pipeline(cfg, here / walk / "pipeline.config",
                      header=f"{walk}: {V2_MINED}'s inputs from v4's export ({V4_SHIPPED}) at "
                             f"300x300, {AT_360_STEPS} steps, cosine from {AT_360_RATE} to 0 "
                             f"({V2_AT_360}'s recipe at v4's size), --seed "
                             f"{walk.rsplit('seed', 1)[1]} (written by experiments/make_configs.py)")


# Cross-validation over the EgoHands videos. Every egocentric figure so far comes from one
# held-out video (CARDS_OFFICE_S_B, 100 frames), and the recipes were picked on it. Here v3's
# recipe (i to step 1000, m's walk, o's mean) is run again three times, each time holding out
# another of the four videos instead (the other sets and their held-out groups unchanged), to
# say how much the egocentric figure depends on which video is unseen. Written before any
# fold is trained.
EGO_CV_FOLDS = {"cards_livingroom": "CARDS_LIVINGROOM_B_T",
                "chess_courtyard": "CHESS_COURTYARD_B_T",
                "puzzle_livingroom": "PUZZLE_LIVINGROOM_T_B"}


def o_mean(walk: str) -> str:
    """How a header names o's recipe on a walk."""
    return f"o's weight mean of {walk}'s checkpoints 250, 500, 750 and 2000 (x2)"


def means_and_soup(means: dict[str, str], soup: str) -> dict[str, tuple[str, str]]:
    """write_averages' entries for o's mean of each walk (mean -> walk) and w's soup of those
    means, which keeps the first walk's config."""
    return {**{mean: (walk, o_mean(walk)) for mean, walk in means.items()},
            soup: (next(iter(means.values())), f"the equal mean of {', '.join(means)} (w's soup)")}


def derive(here: Path, name: str, base: str, edit, what: str) -> None:
    """`name`'s config: `base`'s changed by `edit(cfg)`, its header saying what it is."""
    cfg = load_pipeline(here / base / "pipeline.config")
    edit(cfg)
    save_pipeline(cfg, here / name / "pipeline.config",
                  header=f"{name}: {what} (written by experiments/make_configs.py)")


def seed_of(walk: str) -> str:
    return walk.rsplit("seed", 1)[1]


def write_averages(here: Path, averages: dict[str, tuple[str, str]], suffix: str = "") -> None:
    """Weight averages keep the config of the walk they come from: name -> (walk, what it is)."""
    for name, (walk, what) in averages.items():
        save_pipeline(load_pipeline(here / walk / "pipeline.config"), here / name / "pipeline.config",
                      header=f"{name}: {what}{suffix} (written by experiments/make_configs.py)")


def read_from(cfg, data_dir: str) -> None:
    """Read every record file from `data_dir` (its own EgoHands split, the other sets linked
    unchanged) instead of data/."""
    for reader in [cfg.train_input_reader, *cfg.eval_input_reader]:
        paths = reader.tf_record_input_reader.input_path
        moved = [path.replace("data/", f"{data_dir}/", 1) for path in paths]
        del paths[:]
        paths.extend(moved)


# Does a soup of walks generalise, or was it tuned to the office video too? On that video the
# mean of two walks' means (u: o and s) scored 0.720 where o scored 0.644. Each fold gets r's
# walk (m's config, seed 8), s's mean of it and u's soup of o and s. Hypothesis, written before
# any fold's r trains: u's mean over the four folds is above o's (0.741). A measurement for
# choosing recipes; nothing here ships.
# u43 (added after bj, v4 read at 400x300, lifted the office video from 0.694 to 0.843): u's
# weights read at 400x300 unchanged. Hypothesis, written before any is scored: the 4:3 read
# is above the 300x300 one on the held-out video of each of the three other folds, and over
# the four folds (office: v4 itself, 0.694 -> 0.843) its mean is above 0.753.
# The reads did not bear it out (chess 0.912 -> 0.935, puzzle 0.661 -> 0.570, cards living
# room 0.745 -> 0.628; mean 0.744): like the end squares, reading wider helps the office video
# alone. But a model trained at 4:3 sees the egocentric hands squashed as it reads them. m43 is
# each fold's m walk at 400x300 (seed 7, from cv_<fold>_i's step 1000) and o43 o's mean of it;
# on the office video bn (o's mean of bk, m's walk at 4:3) is the same. Hypothesis, written
# before bn or any m43 is scored: o43's mean over the four folds is above o's 0.741. It is
# also a further condition for bq to replace v4 (bq's rule, above): a gain at 4:3 that holds
# on the office video only would not be a gain on the unseen EgoHands videos to come. (It held
# by 0.004: o43 0.745 against 0.741, two folds up and two down; see the model card.)
CV_AT_4X3_RUNS = {"u43": "cv_{fold}_u's weights read", "m43": "cv_{fold}_m",
                  "o43": o_mean("cv_{fold}_m43")}
# mp43, op43: m43 and o43 with pictures narrower than 4:3 padded to it (pad_narrower_images),
# as by, the soup of three such walks, passed bq's rule on the office video (egocentric 0.817,
# webcam 0.996, close-up 0.984). On the office video they are bs and bv (0.743). Hypothesis,
# written after by's checkpoint figures and before any mp43 trains: op43's mean over the four
# folds is above o43's 0.745 (and o's 0.741), so the padded walks' egocentric gain on the
# office video is not that video's alone. Puzzle and cards living room first, the folds where
# reading at 4:3 lost (u43); chess if time allows. (It held: op43's four-fold mean 0.770
# against 0.745, with office +0.114 and cards living room +0.033, puzzle -0.042 and chess
# -0.007; see the model card.)
CV_PADDED_AT_4X3_RUNS = {"mp43": "cv_{fold}_m", "op43": o_mean("cv_{fold}_mp43")}
# mm43, om43: mp43 and op43 with the fold's own op43 mistakes mined as cb's were by's
# (make_negatives.py --mine-on images crops --per-image 4; every set but rps) as one more
# negative input at cb's share (0.05 of the hand-free crops' 0.12). On the office video, cb's
# o mean (ce) scored 0.842 where bv (op43 there) scored 0.743, and the soup ch 0.871.
# Hypothesis, written after ch, ci, cj and ck were scored and before any mm43 trains: on the
# puzzle video, where the padded walk lost most (op43 0.598 against o's 0.661), om43 is above
# op43. Puzzle only this session (about 27 min a fold); the other folds if it holds.
CV_MINED_AT_4X3_RUNS = {"mm43": "cv_{fold}_mp43 with cv_{fold}_op43's own mistakes as one more "
                                "negative input",
                        "om43": o_mean("cv_{fold}_mm43")}
CV_SOUP_RUNS = {"r": "cv_{fold}_m's walk again with --seed 8",
                "s": o_mean("cv_{fold}_r"),
                "u": "the equal mean of cv_{fold}_o and cv_{fold}_s (u's soup)"}


def on_fold(cfg, fold: str) -> None:
    """A fold's records: data/cv_<fold>/."""
    read_from(cfg, f"data/cv_{fold}")


def write_egohands_cv(here: Path) -> None:
    for fold, video in EGO_CV_FOLDS.items():
        cfg = load_pipeline(here / I_FIRST_1000 / "pipeline.config")
        on_fold(cfg, fold)
        save_pipeline(cfg, here / f"cv_{fold}_i" / "pipeline.config",
                      header=f"cv_{fold}_i: {I_FIRST_1000} with EgoHands video {video} held out "
                             f"instead of CARDS_OFFICE_S_B (written by experiments/make_configs.py)")
        cfg = load_pipeline(here / V2_FLAT / "pipeline.config")
        on_fold(cfg, fold)
        cfg.train_config.fine_tune_checkpoint = f"train_dir/cv_{fold}_i/kept/ckpt-1000"
        save_pipeline(cfg, here / f"cv_{fold}_m" / "pipeline.config",
                      header=f"cv_{fold}_m: {V2_FLAT} with EgoHands video {video} held out, from "
                             f"cv_{fold}_i's step 1000 (written by experiments/make_configs.py)")
        save_pipeline(cfg, here / f"cv_{fold}_o" / "pipeline.config",
                      header=f"cv_{fold}_o: {o_mean(f'cv_{fold}_m')} "
                             f"(written by experiments/make_configs.py)")
        wide = type(cfg)()
        wide.CopyFrom(cfg)
        at_4x3(wide)
        padded = type(cfg)()
        padded.CopyFrom(wide)
        padded.model.ssd.image_resizer.fixed_shape_resizer.pad_narrower_images = True
        mined = type(cfg)()
        mined.CopyFrom(padded)
        with_negatives(mined, {f"data/cv_{fold}/negatives/records/train-*.record": 0.07,
                               f"data/cv_{fold}/mined_negatives_op43/records/train-*.record": 0.05},
                       hand_shares(mined), data_dir=f"data/cv_{fold}")
        runs = {**{name: (cfg, what) for name, what in CV_SOUP_RUNS.items()},
                **{name: (wide, f"{what} at {AT_4X3[1]}x{AT_4X3[0]}")
                   for name, what in CV_AT_4X3_RUNS.items()},
                **{name: (padded, f"{what} at {AT_4X3[1]}x{AT_4X3[0]}, narrower pictures padded")
                   for name, what in CV_PADDED_AT_4X3_RUNS.items()},
                **{name: (mined, f"{what} at {AT_4X3[1]}x{AT_4X3[0]}, narrower pictures padded")
                   for name, what in CV_MINED_AT_4X3_RUNS.items()}}
        for name, (config, what) in runs.items():
            save_pipeline(config, here / f"cv_{fold}_{name}" / "pipeline.config",
                          header=f"cv_{fold}_{name}: {what.format(fold=fold)} "
                                 f"(written by experiments/make_configs.py)")


# v4's recipe on all four EgoHands videos (ego4_*). The folds say which video is unseen
# matters more than any recipe change tried (one pass 0.64-0.93), and no training video so
# far came from the office location, the hardest fold; the EgoHands videos this model will
# meet span all three locations. So, as after any cross-validation, the chosen recipe is
# trained once more with nothing held out: i to step 1000 of its own schedule, the walks m
# (seed 7), r (seed 8) and t (seed 9) from there, o's mean of each, w's soup of the three.
# data/ego4/ holds EgoHands with all 400 frames in training, hand-free crops of all its
# training images, and the other sets (and v3's mined crops) linked unchanged. No egocentric
# figure can be measured on it; the card gives the recipe's cross-validated one.
# Decision rule, written before ego4_i trains: ego4_w replaces v4 if, on each of the four
# sets it can be scored on (webcam, close-up, rps, phone; checkpoint, one pass), its AP@0.5
# is not below v4's by more than v4's 95% half-width, and its int8 export stays within 0.02
# of its checkpoint on each.
EGO4 = "data/ego4"
EGO4_WALKS = {"ego4_m": V2_FLAT, "ego4_r": V2_FLAT_REPLICATE, "ego4_t": V2_MINED}
EGO4_MEANS = {"ego4_o": "ego4_m", "ego4_s": "ego4_r", "ego4_v": "ego4_t"}
# ego4_w failed that rule on rps (0.276 against v4's 0.329). ego4_v4_soup is the equal mean
# of v4's weights and ego4_w's (both fine-tuned from the COCO detector by the same recipe), a
# guess that half of each keeps v4's rps and some of the office video; same rule, written
# before it is scored. (It met the rule, but fired on 43 hand-free webcam crops to v4's 24:
# the rule had left out false detections, and v4 stayed; see the model card.)


def write_all_videos(here: Path) -> None:
    cfg = load_pipeline(here / I_FIRST_1000 / "pipeline.config")
    read_from(cfg, EGO4)
    save_pipeline(cfg, here / "ego4_i" / "pipeline.config",
                  header=f"ego4_i: {I_FIRST_1000} on all four EgoHands videos (none held out) "
                         f"(written by experiments/make_configs.py)")
    for walk, base in EGO4_WALKS.items():
        cfg = load_pipeline(here / base / "pipeline.config")
        read_from(cfg, EGO4)
        cfg.train_config.fine_tune_checkpoint = "train_dir/ego4_i/kept/ckpt-1000"
        save_pipeline(cfg, here / walk / "pipeline.config",
                      header=f"{walk}: {base} on all four EgoHands videos, from ego4_i's step "
                             f"1000 (written by experiments/make_configs.py)")
    write_averages(here, {**{mean: (walk, o_mean(walk)) for mean, walk in EGO4_MEANS.items()},
                          "ego4_w": ("ego4_m", "the equal mean of ego4_o, ego4_s and ego4_v (w's soup)"),
                          "ego4_v4_soup": ("ego4_m", "the equal mean of v4's weights and ego4_w's")})


# A 4:3 input (the "300x300 against a larger or 4:3 input"; 360x360 was tried above).
# At 300x300 an EgoHands frame (16:9) is squashed 1.78x across and a webcam frame (4:3) 1.33x;
# at 400x300 the webcam frame keeps its shape, the egocentric one is squashed 1.33x and is
# read with 1.33x the columns, and square pictures (close-up, rps, phone) are stretched 1.33x
# across. The height stays 300, so the anchors keep their sizes in pixels unchanged (the
# generator scales by the shorter side). 1.33x the pixels of 300x300, under the 1.5x budget
# (360x360 was 1.44x the pixels and measured 1.45x v1's time).
# bj: v4's weights read at 400x300 unchanged. bk, bl, bm: v4's three walks (m's config with
# seeds 7 and 8, t's with seed 9) from i's step 1000 (of its own schedule, as v4's walks
# started), at 400x300. bn, bo, bp: o's recipe on each; bq: w's soup of the three (v4's
# recipe at 4:3, paired walk by walk with o, s, v by seed). All written before any is trained
# or scored.
# Decision rule, written now: bq replaces v4 if (1) its checkpoint (one pass) beats v4's
# egocentric AP@0.5 (0.694) and is not below v4's on webcam, close-up, rps and phone by more
# than v4's 95% half-width (0.011, 0.009, 0.041, 0.043); (2) its int8 export stays within 0.02
# of its checkpoint on every set; (3) its int8 export fires (score >= 0.5) on no set's
# hand-free crops more than 1.25x as often as v4's, rounded up (egocentric 28, webcam 30,
# close-up 7, rps 144, phone 9); (4) int8 end-to-end time at 320x240 stays within 1.5x v1's in
# one bench/detect_bench.py --compare-model run. (bq failed (1) on close-up, 0.977 against
# v4's 0.993, so (2)-(4) were not measured and v4 stayed; see the model card.)
AT_4X3 = (300, 400)   # height, width
READ_AT_4X3 = "bj_v4_read_at_4x3"
WALKS_AT_4X3 = {"bk_v2_at_4x3_seed7": V2_FLAT, "bl_v2_at_4x3_seed8": V2_FLAT_REPLICATE,
                "bm_v2_mined_at_4x3_seed9": V2_MINED}
MEANS_AT_4X3 = {"bn_bk_weighted": "bk_v2_at_4x3_seed7", "bo_bl_weighted": "bl_v2_at_4x3_seed8",
                "bp_bm_weighted": "bm_v2_mined_at_4x3_seed9"}
SOUP_AT_4X3 = "bq_nop_soup_at_4x3"
# Added after bj was scored (v4 read at 400x300 unchanged: egocentric 0.843, webcam 0.982,
# close-up 0.952, rps 0.307, phone 0.911) and before any walk at 4:3 finished: br, the equal
# mean of v4's weights and bq's, read at 400x300, under the same rule.
V4_SOUP_AT_4X3 = "br_v4bq_at_4x3"


def at_4x3(cfg) -> None:
    resizer = cfg.model.ssd.image_resizer.fixed_shape_resizer
    assert resizer.height == AT_4X3[0], resizer   # anchors keep their pixel sizes only then
    resizer.height, resizer.width = AT_4X3


def write_at_4x3(here: Path) -> None:
    size = f"{AT_4X3[1]}x{AT_4X3[0]}"
    cfg = load_pipeline(here / "w_osv_soup" / "pipeline.config")
    at_4x3(cfg)
    save_pipeline(cfg, here / READ_AT_4X3 / "pipeline.config",
                  header=f"{READ_AT_4X3}: v4's weights (w_osv_soup) read at {size}, anchors "
                         f"unchanged (written by experiments/make_configs.py)")
    for walk, base in WALKS_AT_4X3.items():
        derive(here, walk, base, at_4x3, f"{base} at {size} (anchors unchanged: the height stays "
                                         f"{AT_4X3[0]}), --seed {seed_of(walk)}")
    write_averages(here, {**means_and_soup(MEANS_AT_4X3, SOUP_AT_4X3),
                          V4_SOUP_AT_4X3: ("bk_v2_at_4x3_seed7",
                                           f"the equal mean of v4's weights and {SOUP_AT_4X3}'s")},
                   suffix=f" at {size}")


# Square pictures padded, not stretched, at 4:3 (pad_narrower_images, ssd/padding.py). bq lost
# close-up (0.977) and phone (0.936) where every 4:3 walk stretched the square pictures 1.33x
# across. A probe after bq's results, before this was written: bq's weights read with square
# pictures padded to 4:3 with black side bars (16:9 and 4:3 frames unchanged) scored close-up
# 0.984, phone 0.945, rps 0.297 (stretched: 0.977, 0.936, 0.292); bz below is that read,
# registered after it was scored. bs, bt, bu: bk's, bl's and bm's walks (same configs, seeds
# 7, 8, 9, from i's step 1000) with the square pictures padded in training too, so the walks
# learn the hands as they will be read. bv, bw, bx: o's recipe on each; by: w's soup of the
# three. All written before any is trained or scored.
# Decision rule, written now (bq's, unchanged): by replaces v4 if (1) its checkpoint (one
# pass, read padded) beats v4's egocentric AP@0.5 (0.694) and is not below v4's on webcam,
# close-up, rps and phone by more than v4's 95% half-width (0.011, 0.009, 0.041, 0.043);
# (2) its int8 export stays within 0.02 of its checkpoint on every set; (3) its int8 export
# fires (score >= 0.5) on no set's hand-free crops more than 1.25x as often as v4's, rounded
# up (egocentric 28, webcam 30, close-up 7, rps 144, phone 9); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run.
PADDED_WALKS_AT_4X3 = {"bs_v2_padded_at_4x3_seed7": "bk_v2_at_4x3_seed7",
                       "bt_v2_padded_at_4x3_seed8": "bl_v2_at_4x3_seed8",
                       "bu_v2_mined_padded_at_4x3_seed9": "bm_v2_mined_at_4x3_seed9"}
PADDED_MEANS_AT_4X3 = {"bv_bs_weighted": "bs_v2_padded_at_4x3_seed7",
                       "bw_bt_weighted": "bt_v2_padded_at_4x3_seed8",
                       "bx_bu_weighted": "bu_v2_mined_padded_at_4x3_seed9"}
PADDED_SOUP_AT_4X3 = "by_vwx_soup_padded_at_4x3"
BQ_READ_PADDED = "bz_bq_read_padded"
# by met (1), (2) and (4) but not (3): its int8 export fired on 39 webcam, 13 close-up and 185
# rps hand-free crops (limits 30, 7, 144). ca, written after that and before it is scored:
# the equal mean of v4's weights and by's, read at 400x300 with the padding (both start from
# i's step 1000, as br's did), under the same rule, on the guess that v4's half keeps v4's
# quiet backgrounds and by's half keeps part of its egocentric and webcam gains. (ca failed
# (1), close-up 0.981, and (3), firing on 32 egocentric, 39 webcam, 12 close-up and 204 rps
# crops: v4 stayed; see the model card.)
V4_PADDED_SOUP_AT_4X3 = "ca_v4by_padded_at_4x3"


def write_padded_at_4x3(here: Path) -> None:
    def pad(cfg) -> None:
        cfg.model.ssd.image_resizer.fixed_shape_resizer.pad_narrower_images = True

    for walk, unpadded in {**PADDED_WALKS_AT_4X3, BQ_READ_PADDED: SOUP_AT_4X3}.items():
        what = ("bq's weights read" if walk == BQ_READ_PADDED
                else f"{unpadded}'s walk, --seed {seed_of(walk)},")
        derive(here, walk, unpadded, pad, f"{what} with pictures narrower than 4:3 padded to it")
    write_averages(here, {**means_and_soup(PADDED_MEANS_AT_4X3, PADDED_SOUP_AT_4X3),
                          V4_PADDED_SOUP_AT_4X3: ("bs_v2_padded_at_4x3_seed7",
                                                  f"the equal mean of v4's weights and "
                                                  f"{PADDED_SOUP_AT_4X3}'s")},
                   suffix=", narrower pictures padded to 4:3")


# by failed only (3): its int8 export fired on 39 webcam, 13 close-up and 185 rps hand-free
# crops (limits 30, 7, 144), most of them background (webcam: 20 of its 27 false detections
# at 0.5 on whole pictures). Its own mistakes are what t's mined crops were for v3's: cb, cc,
# cd are bs's, bt's and bu's walks (same configs, seeds 7, 8, 9, from i's step 1000, padded
# at 4:3) with one more negative input: by's own int8 mistakes (score >= 0.3) on the training
# images of every set but rps (only its gesturing hands are labelled, so by's detections there
# are often real hands), as crops around its detections on whole pictures (t's mining: 57
# crops, 1 of them close-up) and as the hand-free crops, cut as the held-out count cuts them
# (4 per picture), that it fires on: 1090 crops in all (egocentric 309, webcam 547, close-up
# 176, phone 58). Shares: t's and x's (the total share of negatives is bs's, bt's, bu's). ce, cf, cg: o's recipe on each; ch: w's soup of the three. Written
# before the crops were used in any training and before any of these is trained or scored.
# Decision rule, written now (by's, unchanged): ch replaces v4 if (1) its checkpoint (one
# pass, read padded) beats v4's egocentric AP@0.5 (0.694) and is not below v4's on webcam,
# close-up, rps and phone by more than v4's 95% half-width (0.011, 0.009, 0.041, 0.043);
# (2) its int8 export stays within 0.02 of its checkpoint on every set; (3) its int8 export
# fires (score >= 0.5) on no set's hand-free crops more than 1.25x as often as v4's, rounded
# up (egocentric 28, webcam 30, close-up 7, rps 144, phone 9); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run.
MINED_BY = "data/mined_negatives_by/records/train-*.record"
BY_MINED_WALKS = {
    "cb_v2_by_mined_padded_at_4x3_seed7": ("bs_v2_padded_at_4x3_seed7",
                                           {"data/negatives/records/train-*.record": 0.07,
                                            MINED_BY: 0.05}),
    "cc_v2_by_mined_padded_at_4x3_seed8": ("bt_v2_padded_at_4x3_seed8",
                                           {"data/negatives/records/train-*.record": 0.07,
                                            MINED_BY: 0.05}),
    "cd_v2_by_mined_padded_at_4x3_seed9": ("bu_v2_mined_padded_at_4x3_seed9",
                                           {"data/negatives/records/train-*.record": 0.06,
                                            "data/mined_negatives/records/train-*.record": 0.03,
                                            MINED_BY: 0.03}),
}
BY_MINED_MEANS = {"ce_cb_weighted": "cb_v2_by_mined_padded_at_4x3_seed7",
                  "cf_cc_weighted": "cc_v2_by_mined_padded_at_4x3_seed8",
                  "cg_cd_weighted": "cd_v2_by_mined_padded_at_4x3_seed9"}
BY_MINED_SOUP = "ch_efg_soup_by_mined"


def write_padded_walks(here: Path, walks: dict[str, str], means: dict[str, str], soup: str,
                       edit_for, header) -> None:
    """Walks at 4:3 with narrower pictures padded (walk -> the walk it changes), each changed
    by edit_for(walk, base) and headed by header(base, seed), with o's mean of each and w's
    soup of those means."""
    for walk, base in walks.items():
        derive(here, walk, base, edit_for(walk, base), header(base, seed_of(walk)))
    write_averages(here, means_and_soup(means, soup), suffix=", narrower pictures padded to 4:3")


def write_by_mined(here: Path) -> None:
    write_padded_walks(here, {walk: base for walk, (base, _) in BY_MINED_WALKS.items()},
                       BY_MINED_MEANS, BY_MINED_SOUP,
                       lambda walk, base: negatives_added(BY_MINED_WALKS[walk][1]),
                       lambda base, seed: f"{base}'s walk, --seed {seed}, with by's own false "
                                          f"detections on the training images as one more negative input")


# ch met (1), (2) and (4) (checkpoint egocentric 0.871, webcam 0.993, close-up 0.989, rps
# 0.327, phone 0.944; int8 within 0.01 of it; 1.42x v1's time) but not (3): its int8 export
# fired on 38 webcam and 163 rps hand-free crops (limits 30, 144; by 39, 185), most webcam ones
# on one shirt logo and one kitchen cabinet over consecutive frames of two held-out sessions.
# ci, written after that and before it is trained: ch's weights continued 600 steps, seed 7,
# on cb's inputs with the negatives' share doubled to 0.24 (hand-free crops 0.08, by's
# mistakes 0.16; the hand sets keep their proportions in the remaining 0.76), the rate on a
# cosine from 0.0005 to 0 after 50 warm-up steps from 0.0001 (p's shape). Scored at its last
# step under the same rule. A guess with a known risk: p, v3 continued so, lost 0.12 of
# egocentric AP; ch has 0.18 above v4's there, and 0.004 on close-up.
CH_QUIETED = "ci_ch_quieted"
CH_QUIETED_STEPS = 600
CH_QUIETED_NEGATIVES = {"data/negatives/records/train-*.record": 0.08, MINED_BY: 0.16}


def quieted(soup: str):
    """ci's edit of cb's config: continue `soup`'s weights CH_QUIETED_STEPS steps with the
    negatives' share doubled, the hand sets keeping their proportions in the rest."""
    def edit(cfg) -> None:
        with_negatives_taking_their_share(cfg, CH_QUIETED_NEGATIVES)
        continue_from(cfg, f"train_dir/{soup}/ckpt-2000", CH_QUIETED_STEPS, 0.0005, 0.0001, 50)
    return edit


def write_quieted(here: Path, name: str, soup: str) -> None:
    derive(here, name, "cb_v2_by_mined_padded_at_4x3_seed7", quieted(soup),
           f"{soup}'s weights continued {CH_QUIETED_STEPS} steps, --seed 7, on cb's "
           f"inputs with the negatives' share doubled, cosine from 0.0005 to 0")


def write_ch_quieted(here: Path) -> None:
    write_quieted(here, CH_QUIETED, BY_MINED_SOUP)
    write_averages(here, {name: ("cb_v2_by_mined_padded_at_4x3_seed7", f"{what} weights")
                          for name, what in CH_CI_MEANS.items()},
                   suffix=", narrower pictures padded to 4:3")


# ci was quiet but forgot the egocentric video (int8 crops: egocentric 10, webcam 8, close-up 0,
# rps 84, phone 0; checkpoint AP@0.5 egocentric 0.529, webcam 0.984, close-up 0.987, rps 0.292,
# phone 0.943): it fails (1), as p's continuation of v3 did. Written after that, before either
# is made or scored: two means of ch's and ci's weights (ci continued from ch, so both lie in
# one basin, as WiSE-FT's interpolations do), cj equal (1:1) and ck nearer ch (3:1), read as
# ch is, under the same rule. If both pass, the one with the higher egocentric checkpoint
# AP@0.5 ships.
CH_CI_MEANS = {"cj_ch_ci_mean": "the equal mean of ch_efg_soup_by_mined's and ci_ch_quieted's",
               "ck_ch3_ci1_mean": "the 3:1 mean of ch_efg_soup_by_mined's and ci_ch_quieted's"}

# cj and ck failed (3) on webcam crops too: whatever the mix, ch's webcam false detections sit
# mostly on one held-out person's shirt logo and shoulder (session 996), and every negative so
# far came from the training sets' few people (webcam: 8 sessions). rps_hands holds many more
# people, faces and shirts. cl, cm, cn are cb's, cc's and cd's walks (same configs and seeds,
# from i's step 1000, padded at 4:3) with random hand-free crops of rps's training images as
# one more negative input (make_negatives.py --sets rps_hands: 1392 crops away from every box
# and ignore region, less the 260 the shipped v4 fires on at >= 0.3, since rps's labels miss
# some hands: 1132). They take 0.03 of the random crops' share, so the negatives' total share
# and every hand set's share stay cb's, cc's and cd's. co, cp, cq: o's recipe on each; cr: w's
# soup of the three. Written before the crops were used in any training and before any of
# these is trained or scored.
# Hypothesis: cr's int8 export fires on fewer webcam hand-free crops than ch's (38).
# Decision rule (by's, unchanged): cr replaces v4 if (1) its checkpoint (one pass, read
# padded) beats v4's egocentric AP@0.5 (0.694) and is not below v4's on webcam, close-up, rps
# and phone by more than v4's 95% half-width (0.011, 0.009, 0.041, 0.043); (2) its int8
# export stays within 0.02 of its checkpoint on every set; (3) its int8 export fires
# (score >= 0.5) on no set's hand-free crops more than 1.25x as often as v4's, rounded up
# (egocentric 28, webcam 30, close-up 7, rps 144, phone 9); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run.
NEGATIVES_RPS = "data/negatives_rps/records/train-*.record"
RPS_NEGATIVES_WALKS = {"cl_v2_rps_negatives_at_4x3_seed7": "cb_v2_by_mined_padded_at_4x3_seed7",
                       "cm_v2_rps_negatives_at_4x3_seed8": "cc_v2_by_mined_padded_at_4x3_seed8",
                       "cn_v2_rps_negatives_at_4x3_seed9": "cd_v2_by_mined_padded_at_4x3_seed9"}
RPS_NEGATIVES_SHARE = 0.03
RPS_NEGATIVES_MEANS = {"co_cl_weighted": "cl_v2_rps_negatives_at_4x3_seed7",
                       "cp_cm_weighted": "cm_v2_rps_negatives_at_4x3_seed8",
                       "cq_cn_weighted": "cn_v2_rps_negatives_at_4x3_seed9"}
RPS_NEGATIVES_SOUP = "cr_opq_soup_rps_negatives"


def write_rps_negatives(here: Path) -> None:
    def rps_added(walk: str, base: str):
        # rps's crops take their share from the random crops' (listed first in every base)
        (random, share), *rest = BY_MINED_WALKS[base][1].items()
        return negatives_added({random: round(share - RPS_NEGATIVES_SHARE, 4),
                                NEGATIVES_RPS: RPS_NEGATIVES_SHARE, **dict(rest)})

    write_padded_walks(here, RPS_NEGATIVES_WALKS, RPS_NEGATIVES_MEANS, RPS_NEGATIVES_SOUP, rps_added,
                       lambda base, seed: f"{base}'s walk, --seed {seed}, with hand-free crops of "
                                          f"rps_hands's training images as one more negative input "
                                          f"({RPS_NEGATIVES_SHARE} of the random crops' share)")


# cr failed (1) on close-up and (3) on webcam and rps crops, and its walks showed that one
# walk's seed moves the office video more than any recipe change (cq 0.562 where cg, the same
# seed, scored 0.820). So ch's 0.871, the best egocentric figure here, may be one lucky draw,
# and its 38 webcam crops may or may not be the recipe's. cs, ct, cu repeat cb's, cc's and cd's
# walks exactly (same configs, inputs, shares and start: i's step 1000, padded at 4:3) with new
# seeds 10, 11, 12; cw, cx, cy are o's recipe on each and cz w's soup of the three ("cv_" is
# the cross-validation folds' prefix, so no run is named cv). No training recipe changes and
# nothing is tuned on the held-out crops. Written before any of these is trained or scored.
# Hypotheses: (a) cz's egocentric AP@0.5 (checkpoint, one pass) is above by's 0.817, the same
# recipe without its own mistakes mined; (b) cz's int8 export fires on more than 30 webcam
# hand-free crops, as every soup trained at 4:3 has (by 39, ch 38, cr 57).
# Decision rule (by's, unchanged): cz replaces v4 if (1) its checkpoint (one pass, read
# padded) beats v4's egocentric AP@0.5 (0.694) and is not below v4's on webcam, close-up, rps
# and phone by more than v4's 95% half-width (0.011, 0.009, 0.041, 0.043); (2) its int8
# export stays within 0.02 of its checkpoint on every set; (3) its int8 export fires
# (score >= 0.5) on no set's hand-free crops more than 1.25x as often as v4's, rounded up
# (egocentric 28, webcam 30, close-up 7, rps 144, phone 9); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run (median of
# its paired rounds). Reported beside it, deciding nothing: the crops per held-out group.
# (cz failed (3) on webcam crops alone: 35, 27 of them in session 996 (limit 30). It met (1)
# (checkpoint egocentric 0.823, webcam 0.992, close-up 0.993, rps 0.305, phone 0.943), (2)
# and (4) (1.48x): v4 stayed; both hypotheses held; see the model card.)
REPLICATE_WALKS = dict(zip(["cs_v2_by_mined_padded_at_4x3_seed10", "ct_v2_by_mined_padded_at_4x3_seed11",
                            "cu_v2_by_mined_padded_at_4x3_seed12"], BY_MINED_WALKS))   # walk -> cb, cc, cd
REPLICATE_MEANS = dict(zip(["cw_cs_weighted", "cx_ct_weighted", "cy_cu_weighted"], REPLICATE_WALKS))
REPLICATE_SOUP = "cz_wxy_soup_by_mined_replicate"

# A revised rule, and a candidate no one has scored. By's rule (3) caps each set's hand-free
# crop false detections at 1.25x v4's. Three sessions of soups at 4:3 showed what that cap
# measures on webcam: 242 of its 412 crops are consecutive frames of one held-out session
# (996), where a shoulder, a strap and a shirt logo fire frame after frame, so the cap of 30
# is a handful of objects seen over a few more frames. It is also stricter than the issue's
# own bar ("no view where the new model is worse than today's"): today's model when the issue
# was filed is v1, which fires on 37 webcam crops. The revised (3) keeps v4's 1.25x tolerance
# and adds that bar: a set's limit is the larger of 1.25x v4's count (rounded up) and v1's
# count (egocentric 28, webcam 37, close-up 37, rps 261, phone 18). Written after ch, cz and
# dg were scored, which is why it is applied to none of them (under it ch, 38 webcam crops,
# would still fail; cz would pass; dg would fail (1)) but only to a new replicate of ch's
# recipe with seeds no walk has used: dh, di, dj repeat cb's, cc's and cd's walks exactly
# with seeds 13, 14, 15; dk, dl, dm are o's recipe on each and dn w's soup of the three, the
# one candidate. Written before any of these is trained or scored.
# Hypotheses: (a) dn's egocentric AP@0.5 (checkpoint, one pass) is at least 0.80, the
# issue's aim for unseen egocentric video; (b) dn's int8 export fires on at most 37 webcam
# hand-free crops.
# Decision rule: dn replaces v4 if (1) its checkpoint (one pass, read padded) beats v4's
# egocentric AP@0.5 (0.694) and is not below v4's on webcam, close-up, rps and phone by more
# than v4's 95% half-width (0.011, 0.009, 0.041, 0.043); (2) its int8 export stays within
# 0.02 of its checkpoint on every set; (3) its int8 export fires (score >= 0.5) on no set's
# hand-free crops more often than the larger of 1.25x v4's count, rounded up, and v1's count
# (egocentric 28, webcam 37, close-up 37, rps 261, phone 18); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run (median of
# its paired rounds). Reported beside it, deciding nothing: the crops per held-out group.
# (dn failed (3) on webcam crops: 54, 45 of them in session 996 (limit 37). It met (1)
# (checkpoint egocentric 0.784, webcam 0.994, close-up 0.987, rps 0.297, phone 0.946), (2)
# and (4) (1.45x): v4 stayed; both hypotheses were refuted; see the model card.)
SECOND_REPLICATE_WALKS = dict(zip(["dh_v2_by_mined_padded_at_4x3_seed13", "di_v2_by_mined_padded_at_4x3_seed14",
                                   "dj_v2_by_mined_padded_at_4x3_seed15"], BY_MINED_WALKS))   # walk -> cb, cc, cd
SECOND_REPLICATE_MEANS = dict(zip(["dk_dh_weighted", "dl_di_weighted", "dm_dj_weighted"], SECOND_REPLICATE_WALKS))
SECOND_REPLICATE_SOUP = "dn_klm_soup_by_mined_second_replicate"

# dn fired on 54 webcam crops: three soups of ch's recipe fire 35, 38 and 54 times there, so
# the recipe passes or fails a limit near 37 by its seeds. The one step that lowered a soup's
# crops without losing the egocentric video was ck's (ch continued 600 steps with the
# negatives' share doubled (ci), then mixed 3:1 with ch): webcam 38 -> 32, egocentric 0.871 ->
# 0.851, close-up 0.989 -> 0.993, every set's crops lower. ck was scored on its own base, so
# whether that step works is a question of its own, asked here on bases no one has scored:
# do, dp, dq repeat cb's, cc's and cd's walks exactly with seeds 16, 17, 18; dr, ds, dt are
# o's recipe on each and du w's soup of the three; dv is du continued as ci was from ch (600
# steps, seed 7, negatives' share doubled, cosine from 0.0005); dw is the 3:1 mean of du and
# dv, the one candidate. Written before any of these is trained or scored.
# Hypotheses: (a) dw's int8 export fires on fewer webcam hand-free crops than du's; (b) dw's
# egocentric AP@0.5 (checkpoint, one pass) is within 0.03 of du's.
# Decision rule: dn's, unchanged (its (3) with the limits egocentric 28, webcam 37, close-up
# 37, rps 261, phone 18), for dw alone.
# (dw met all four: checkpoint egocentric 0.789, webcam 0.997, close-up 0.993, rps 0.307, phone
# 0.951; int8 within 0.010; int8 crops 9 / 28 / 4 / 128 / 5, inside by's old limits too; 1.38x
# v1's time. Both hypotheses held (du: webcam crops 30, egocentric 0.780). dw ships as v5.)
THIRD_REPLICATE_WALKS = dict(zip(["do_v2_by_mined_padded_at_4x3_seed16", "dp_v2_by_mined_padded_at_4x3_seed17",
                                  "dq_v2_by_mined_padded_at_4x3_seed18"], BY_MINED_WALKS))   # walk -> cb, cc, cd
THIRD_REPLICATE_MEANS = dict(zip(["dr_do_weighted", "ds_dp_weighted", "dt_dq_weighted"], THIRD_REPLICATE_WALKS))
THIRD_REPLICATE_SOUP = "du_rst_soup_by_mined_third_replicate"
DU_QUIETED = "dv_du_quieted"
DU_MIX = "dw_du3_dv1_mean"


def write_by_mined_replicate(here: Path) -> None:
    for walks, means, soup in ((REPLICATE_WALKS, REPLICATE_MEANS, REPLICATE_SOUP),
                               (SECOND_REPLICATE_WALKS, SECOND_REPLICATE_MEANS, SECOND_REPLICATE_SOUP),
                               (THIRD_REPLICATE_WALKS, THIRD_REPLICATE_MEANS, THIRD_REPLICATE_SOUP)):
        write_padded_walks(here, walks, means, soup, lambda walk, base: lambda cfg: None,
                           lambda base, seed: f"{base}'s walk repeated with --seed {seed}, nothing else changed")
    write_quieted(here, DU_QUIETED, THIRD_REPLICATE_SOUP)
    write_averages(here, {DU_MIX: ("cb_v2_by_mined_padded_at_4x3_seed7",
                                   f"the 3:1 mean of {THIRD_REPLICATE_SOUP}'s and {DU_QUIETED}'s weights")},
                   suffix=", narrower pictures padded to 4:3")


# cz failed (3) on webcam crops alone (35; limit 30), as ch did (38): every soup of walks at
# 4:3 fires on one held-out person's shoulder, whatever the seed. ci, ch continued 600 steps
# with the negatives' share doubled to 0.24, fired on 8 webcam crops but forgot the
# egocentric video (0.529), as every continuation from a soup has (p, ci). Untried: the
# doubled share from the walks' own start. da, db, dc are cb's, cc's and cd's walks (same
# configs, seeds 7, 8, 9, so each pairs with ch's walk of its seed, from i's step 1000) with
# every negative input's share doubled (0.12 -> 0.24 in all) and the hand sets keeping their
# proportions in the remaining 0.76; dd, de, df are o's recipe on each and dg w's soup. Written
# before any of these is trained or scored.
# Hypotheses: (a) dg's int8 export fires on at most 30 webcam hand-free crops; (b) dg's
# egocentric AP@0.5 (checkpoint, one pass) stays above v4's 0.694.
# Decision rule (by's, unchanged): dg replaces v4 if (1) its checkpoint (one pass, read
# padded) beats v4's egocentric AP@0.5 (0.694) and is not below v4's on webcam, close-up, rps
# and phone by more than v4's 95% half-width (0.011, 0.009, 0.041, 0.043); (2) its int8
# export stays within 0.02 of its checkpoint on every set; (3) its int8 export fires
# (score >= 0.5) on no set's hand-free crops more than 1.25x as often as v4's, rounded up
# (egocentric 28, webcam 30, close-up 7, rps 144, phone 9); (4) int8 end-to-end time at
# 320x240 stays within 1.5x v1's in one bench/detect_bench.py --compare-model run (median of
# its paired rounds). Reported beside it, deciding nothing: the crops per held-out group.
# (dg failed (1) on close-up, 0.980 against a floor of 0.984, and (3) on webcam crops, 33
# (limit 30; 22 in session 996): (a) refuted, (b) held (egocentric 0.798); v4 stayed; see
# the model card.)
NEGATIVES_DOUBLED_WALKS = dict(zip(["da_v2_negatives_doubled_at_4x3_seed7", "db_v2_negatives_doubled_at_4x3_seed8",
                                    "dc_v2_negatives_doubled_at_4x3_seed9"], BY_MINED_WALKS))   # walk -> cb, cc, cd
NEGATIVES_DOUBLED_MEANS = dict(zip(["dd_da_weighted", "de_db_weighted", "df_dc_weighted"], NEGATIVES_DOUBLED_WALKS))
NEGATIVES_DOUBLED_SOUP = "dg_def_soup_negatives_doubled"


def write_negatives_doubled(here: Path) -> None:
    def doubled(negatives: dict[str, float]):
        def edit(cfg) -> None:
            with_negatives_taking_their_share(cfg, {path: round(2 * w, 4) for path, w in negatives.items()})
        return edit

    write_padded_walks(here, NEGATIVES_DOUBLED_WALKS, NEGATIVES_DOUBLED_MEANS, NEGATIVES_DOUBLED_SOUP,
                       lambda walk, base: doubled(BY_MINED_WALKS[base][1]),
                       lambda base, seed: f"{base}'s walk, --seed {seed}, with every negative input's "
                                          f"share doubled and the hand sets keeping their proportions "
                                          f"in the rest")


# Weight averages of a run's checkpoints (average_checkpoints.py; no training of their
# own): same model, so the source run's config. run_experiments.sh names the checkpoints.
AVERAGED = {"k_i_averaged": "i_v2_all_sets_small_anchors",
            "l_ij_averaged": "i_v2_all_sets_small_anchors",
            "n_m_averaged": "i_v2_all_sets_small_anchors",
            "o_m_weighted": "i_v2_all_sets_small_anchors",
            "s_r_weighted": "i_v2_all_sets_small_anchors",
            "u_os_soup": "i_v2_all_sets_small_anchors",
            "v_t_weighted": "i_v2_all_sets_small_anchors",
            "w_osv_soup": "i_v2_all_sets_small_anchors",
            "y_x_weighted": "i_v2_all_sets_small_anchors",
            "z_osvy_soup": "i_v2_all_sets_small_anchors",
            "ab_aa_weighted": "i_v2_all_sets_small_anchors",
            "ac_osvab_soup": "i_v2_all_sets_small_anchors",
            "w_read_at_360": "ad_v4_at_360_seed12",
            "ae_ad_weighted": "ad_v4_at_360_seed12",
            "af_wae_at_360": "ad_v4_at_360_seed12",
            "ah_adag_soup": "ad_v4_at_360_seed12",
            "aj_ai_weighted": "ai_v2_at_360_seed14",
            "ak_v4aj_at_360": "ai_v2_at_360_seed14",
            "am_al_weighted": "ai_v2_at_360_seed14",
            "ao_an_weighted": "ai_v2_at_360_seed14",
            "ap_jmo_soup_at_360": "ai_v2_at_360_seed14",
            "aq_v4ap_at_360": "ai_v2_at_360_seed14",
            "aw_ar_weighted": "ai_v2_at_360_seed14",
            "as_jmow_soup_at_360": "ai_v2_at_360_seed14",
            "ba_ax_weighted": "ax_v4_at_300_seed18",
            "bb_ay_weighted": "ax_v4_at_300_seed18",
            "bc_az_weighted": "ax_v4_at_300_seed18",
            "bd_abc_soup": "ax_v4_at_300_seed18",
            "be_v4bd_soup": "ax_v4_at_300_seed18",
            # WiSE-FT (experiments/wise_ft.py): the feature extractor moved a fraction back
            # toward the COCO detector every run starts from; v4 at 0.1, 0.2, 0.3, bd at 0.2.
            "bf_v4_wise_ft_010": "i_v2_all_sets_small_anchors",
            "bg_v4_wise_ft_020": "i_v2_all_sets_small_anchors",
            "bh_v4_wise_ft_030": "i_v2_all_sets_small_anchors",
            "bi_bd_wise_ft_020": "ax_v4_at_300_seed18"}


def write_averaged(here: Path) -> None:
    for name, source in AVERAGED.items():
        cfg = load_pipeline(here / source / "pipeline.config")
        save_pipeline(cfg, here / name / "pipeline.config",
                      header=f"{name}: {source}'s model, weights averaged over its checkpoints "
                             f"by average_checkpoints.py (written by experiments/make_configs.py)")


def write_v2(here: Path) -> None:
    from google.protobuf import text_format

    cfg = apply_overrides(
        load_pipeline("ssd_mobilenet_v1_075_coco.config"), num_steps=V2_STEPS,
        train_input_path=[f"data/{s}/records/train.record-*" for s in V2_SETS],
        eval_input_path=[f"data/{s}/records/eval.record-*" for s in V2_SETS],
        label_map_path="data/egohands_frames/label_map.pbtxt")
    reader = cfg.train_input_reader
    reader.sample_from_datasets_weights.extend(V2_SETS.values())
    cfg.eval_config.num_examples = 0
    tc = cfg.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = START["b_ssd_v1_075_coco"]
    del tc.data_augmentation_options[:]
    text_format.Merge(V2_AUGMENT, tc)
    lr = tc.optimizer.rms_prop_optimizer.learning_rate.cosine_decay_learning_rate
    lr.warmup_steps = 300
    save_pipeline(cfg, here / V2 / "pipeline.config",
                  header=f"{V2}: ssd_mobilenet_v1_075_coco.config on all five sets mixed by "
                         f"weight, {V2_STEPS} steps, crop/pad/colour/grey/occlusion "
                         f"augmentation (written by experiments/make_configs.py)")


def main() -> None:
    here = Path(__file__).resolve().parent
    for name, base in RUNS.items():
        cfg = apply_overrides(
            load_pipeline(base), num_steps=STEPS,
            train_input_path=[f"data/{s}/records/train.record-*" for s in SETS],
            eval_input_path=[f"data/{s}/records/eval.record-*" for s in SETS],
            label_map_path="data/egohands_frames/label_map.pbtxt")
        cfg.train_config.fine_tune_checkpoint, cfg.train_config.fine_tune_checkpoint_type = START[name]
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
    write_v2(Path(__file__).resolve().parent)
    write_a_fixed(Path(__file__).resolve().parent)
    write_v2_negatives(Path(__file__).resolve().parent)
    write_v2_one_stage(Path(__file__).resolve().parent)
    write_v2_no_ego_continued(Path(__file__).resolve().parent)
    write_v2_small_anchors(Path(__file__).resolve().parent)
    write_v2_small_anchor_stages(Path(__file__).resolve().parent)
    write_v2_flat(Path(__file__).resolve().parent)
    write_v2_settled(Path(__file__).resolve().parent)
    write_v2_webcam(Path(__file__).resolve().parent)
    write_v2_flat_replicate(Path(__file__).resolve().parent)
    write_v2_mined(Path(__file__).resolve().parent)
    write_v2_half_box_crops(Path(__file__).resolve().parent)
    write_i_restarts(Path(__file__).resolve().parent)
    write_v2_at_360(Path(__file__).resolve().parent)
    write_from_v4_at_300(Path(__file__).resolve().parent)
    write_egohands_cv(Path(__file__).resolve().parent)
    write_all_videos(Path(__file__).resolve().parent)
    write_at_4x3(Path(__file__).resolve().parent)
    write_padded_at_4x3(Path(__file__).resolve().parent)
    write_by_mined(Path(__file__).resolve().parent)
    write_ch_quieted(Path(__file__).resolve().parent)
    write_rps_negatives(Path(__file__).resolve().parent)
    write_by_mined_replicate(Path(__file__).resolve().parent)
    write_negatives_doubled(Path(__file__).resolve().parent)
    write_averaged(Path(__file__).resolve().parent)
