"""pipeline.config schema, loader, validation and overrides (fast: protobuf only)."""
from __future__ import annotations

import ast
import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from common.errors import UserError
from config import locate, loader, paths, rules, validation
from config import pipeline_pb2
from config.loader import (CONFIG_DIR, REPO_ROOT, apply_overrides, load_pipeline, loads_pipeline,
                           parse_pipeline, resolve_config_path, save_pipeline)
from config.pipeline_pb2 import TrainEvalPipelineConfig

DATA = Path(__file__).resolve().parent / "data"
CLASSIC = DATA / "classic_handtracker_ssd_mobilenet_v1_coco.config"
SHIPPED = ["ssd.config", "ssd_mobilenet_v1_075_coco.config"]
SSD_TEXT = (CONFIG_DIR / "ssd.config").read_text()


def _line_of(text: str, needle: str, nth: int = 0) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[nth]


def _error(text: str, name: str = "pipeline_configs/ssd.config") -> str:
    with pytest.raises(UserError) as info:
        loads_pipeline(text, name)
    return str(info.value)


# --- shipped and classic configs ------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load_without_warnings(name, caplog):
    with caplog.at_level(logging.WARNING):
        cfg = load_pipeline(name)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    ssd = cfg.model.ssd
    assert ssd.num_classes == 1
    assert (ssd.image_resizer.fixed_shape_resizer.height, ssd.image_resizer.fixed_shape_resizer.width) == (300, 300)
    assert ssd.feature_extractor.type == "ssd_mobilenet_v1"
    assert ssd.feature_extractor.min_depth == 16
    assert ssd.freeze_batchnorm
    assert ssd.post_processing.score_converter == pipeline_pb2.PostProcessing.SIGMOID
    nms = ssd.post_processing.batch_non_max_suppression
    assert nms.score_threshold == pytest.approx(1e-8) and nms.iou_threshold == pytest.approx(0.6)
    assert (nms.max_detections_per_class, nms.max_total_detections) == (100, 100)
    miner = ssd.loss.hard_example_miner
    assert (miner.num_hard_examples, miner.max_negatives_per_positive) == (3000, 3)
    assert miner.iou_threshold == pytest.approx(0.99)
    assert miner.loss_type == pipeline_pb2.HardExampleMiner.CLASSIFICATION
    assert ssd.loss.classification_loss.HasField("weighted_sigmoid")
    assert ssd.loss.localization_loss.HasField("weighted_smooth_l1")
    assert list(ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == pytest.approx(
        [1.0, 2.0, 0.5, 3.0, 0.3333])
    tc = cfg.train_config
    assert (tc.batch_size, tc.num_steps) == (8, 20000)
    assert [s.WhichOneof("preprocessing_step") for s in tc.data_augmentation_options] == [
        "random_horizontal_flip", "ssd_random_crop"]
    assert not tc.optimizer.use_moving_average
    assert list(cfg.train_input_reader.tf_record_input_reader.input_path) == [
        "data/egohands/records/train.record-*"]
    assert len(cfg.eval_input_reader) == 1
    assert list(cfg.eval_input_reader[0].tf_record_input_reader.input_path) == [
        "data/egohands/records/eval.record-*"]
    assert cfg.train_input_reader.label_map_path == "data/egohands/label_map.pbtxt"
    assert cfg.eval_input_reader[0].label_map_path == "data/egohands/label_map.pbtxt"


def test_shipped_config_specifics():
    v1 = load_pipeline("ssd.config")
    assert v1.model.ssd.feature_extractor.depth_multiplier == 1.0
    # The model zoo's official archives, so a fresh clone trains (tests/test_fresh_clone.py).
    zoo = "http://download.tensorflow.org/models/object_detection/"
    assert v1.train_config.fine_tune_checkpoint == zoo + "ssd_mobilenet_v1_coco_2018_01_28.tar.gz"
    assert v1.train_config.fine_tune_checkpoint_type == "detection"
    v075 = load_pipeline("ssd_mobilenet_v1_075_coco.config")
    assert v075.model.ssd.feature_extractor.depth_multiplier == 0.75
    assert v075.train_config.fine_tune_checkpoint == \
        zoo + "ssd_mobilenet_v1_0.75_depth_300x300_coco14_sync_2018_07_03.tar.gz"
    assert v075.train_config.fine_tune_checkpoint_type == "detection"
    # Apart from the header, backbone width and checkpoint, the two configs are the same.
    v075.model.ssd.feature_extractor.depth_multiplier = 1.0
    v075.train_config.fine_tune_checkpoint = v1.train_config.fine_tune_checkpoint
    v075.train_config.fine_tune_checkpoint_type = v1.train_config.fine_tune_checkpoint_type
    assert v075 == v1


def test_classic_handtracker_config_loads(caplog):
    text = CLASSIC.read_text()
    assert "PATH_TO_DATA" not in text  # only the paths were changed, to ours
    with caplog.at_level(logging.WARNING):
        cfg = load_pipeline(str(CLASSIC))
    tc = cfg.train_config
    assert (tc.batch_size, tc.num_steps) == (6, 200000)
    assert tc.from_detection_checkpoint
    assert tc.fine_tune_checkpoint_type == "detection"  # derived from the legacy flag
    lr = tc.optimizer.rms_prop_optimizer.learning_rate.exponential_decay_learning_rate
    assert (lr.decay_steps, lr.staircase) == (800720, True)
    assert lr.initial_learning_rate == pytest.approx(0.004)
    assert cfg.model.ssd.feature_extractor.type == "ssd_mobilenet_v1"  # single-quoted in the file
    assert cfg.model.ssd.loss.classification_loss.weighted_sigmoid.anchorwise_output
    assert cfg.eval_config.num_examples == 960
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for field in ("weighted_sigmoid.anchorwise_output", "weighted_smooth_l1.anchorwise_output",
                  "eval_config.max_evals", "eval_input_reader.num_readers"):
        assert field in warned
    # Warnings carry the line of the field.
    assert f":{_line_of(text, 'max_evals: 10')}:" in warned


# --- OD API defaults ------------------------------------------------------------------

def test_defaults_match_object_detection_api():
    cfg = TrainEvalPipelineConfig()
    ssd = cfg.model.ssd
    assert ssd.normalize_loss_by_num_matches and not ssd.encode_background_as_zeros
    assert not ssd.freeze_batchnorm and ssd.add_background_class
    fe = ssd.feature_extractor
    assert (fe.depth_multiplier, fe.min_depth, fe.pad_to_multiple) == (1.0, 16, 1)
    hp = fe.conv_hyperparams
    assert hp.activation == pipeline_pb2.Hyperparams.RELU
    assert hp.batch_norm.decay == pytest.approx(0.999) and hp.batch_norm.center and not hp.batch_norm.scale
    assert hp.batch_norm.train and hp.batch_norm.epsilon == pytest.approx(0.001)
    assert hp.initializer.truncated_normal_initializer.stddev == 1.0
    assert (ssd.image_resizer.fixed_shape_resizer.height, ssd.image_resizer.fixed_shape_resizer.width) == (300, 300)
    coder = ssd.box_coder.faster_rcnn_box_coder
    assert (coder.y_scale, coder.x_scale, coder.height_scale, coder.width_scale) == (10, 10, 5, 5)
    m = ssd.matcher.argmax_matcher
    assert (m.matched_threshold, m.unmatched_threshold) == (0.5, 0.5)
    assert m.negatives_lower_than_unmatched and not m.force_match_for_each_row and not m.ignore_thresholds
    ag = ssd.anchor_generator.ssd_anchor_generator
    assert ag.num_layers == 6 and ag.reduce_boxes_in_lowest_layer
    assert (ag.min_scale, ag.max_scale) == pytest.approx((0.2, 0.95))
    assert ag.interpolated_scale_aspect_ratio == 1.0 and ag.base_anchor_height == 1.0
    bp = ssd.box_predictor.convolutional_box_predictor
    assert bp.use_dropout and bp.dropout_keep_probability == pytest.approx(0.8)
    assert (bp.kernel_size, bp.box_code_size, bp.min_depth, bp.max_depth) == (1, 4, 0, 0)
    nms = ssd.post_processing.batch_non_max_suppression
    assert nms.score_threshold == 0.0 and nms.iou_threshold == pytest.approx(0.6)
    assert (nms.max_detections_per_class, nms.max_total_detections) == (100, 100)
    assert ssd.post_processing.score_converter == pipeline_pb2.PostProcessing.IDENTITY
    miner = ssd.loss.hard_example_miner
    assert (miner.num_hard_examples, miner.max_negatives_per_positive, miner.min_negatives_per_image) == (64, 0, 0)
    assert miner.iou_threshold == pytest.approx(0.7) and miner.loss_type == pipeline_pb2.HardExampleMiner.BOTH
    assert (ssd.loss.classification_weight, ssd.loss.localization_weight) == (1.0, 1.0)
    assert ssd.loss.localization_loss.weighted_smooth_l1.delta == 1.0
    assert ssd.loss.classification_loss.weighted_sigmoid_focal.gamma == 2.0
    assert not ssd.loss.classification_loss.weighted_sigmoid_focal.HasField("alpha")

    tc = cfg.train_config
    assert (tc.batch_size, tc.num_steps, tc.keep_checkpoint_every_n_hours) == (32, 0, 1000)
    assert tc.gradient_clipping_by_norm == 0.0 and not tc.sync_replicas
    assert tc.max_number_of_boxes == 100 and tc.unpad_groundtruth_tensors
    assert tc.fine_tune_checkpoint == "" and tc.fine_tune_checkpoint_type == ""
    assert tc.optimizer.use_moving_average and tc.optimizer.moving_average_decay == pytest.approx(0.9999)
    rms = tc.optimizer.rms_prop_optimizer
    assert (rms.momentum_optimizer_value, rms.decay, rms.epsilon) == pytest.approx((0.9, 0.9, 1.0))
    exp = rms.learning_rate.exponential_decay_learning_rate
    assert exp.initial_learning_rate == pytest.approx(0.002) and exp.decay_steps == 4000000
    assert exp.decay_factor == pytest.approx(0.95) and exp.staircase
    cos = rms.learning_rate.cosine_decay_learning_rate
    assert cos.learning_rate_base == pytest.approx(0.002) and cos.total_steps == 4000000
    assert cos.warmup_learning_rate == pytest.approx(0.0002) and cos.warmup_steps == 10000
    assert rms.learning_rate.constant_learning_rate.learning_rate == pytest.approx(0.002)
    aug = pipeline_pb2.PreprocessingStep()
    assert aug.random_adjust_brightness.max_delta == pytest.approx(0.2)
    assert (aug.random_adjust_contrast.min_delta, aug.random_adjust_contrast.max_delta) == pytest.approx((0.8, 1.25))
    assert aug.random_adjust_hue.max_delta == pytest.approx(0.02)

    reader = cfg.train_input_reader
    assert reader.shuffle and reader.num_epochs == 0 and reader.num_readers == 64
    assert (reader.queue_capacity, reader.min_after_dequeue) == (2000, 1000)
    ev = cfg.eval_config
    assert (ev.num_examples, ev.max_evals, ev.num_visualizations, ev.eval_interval_secs) == (5000, 0, 10, 300)
    assert not ev.use_moving_averages
    # eval_input_reader is repeated, as in the OD API.
    assert TrainEvalPipelineConfig.DESCRIPTOR.fields_by_name["eval_input_reader"].is_repeated


# --- errors ---------------------------------------------------------------------------

def test_unknown_field_names_field_line_and_column():
    text = SSD_TEXT.replace("    num_classes: 1\n", "    num_classes: 1\n    num_clases: 2\n")
    msg = _error(text)
    line = _line_of(text, "num_clases:")
    assert msg.startswith(f"pipeline_configs/ssd.config:{line}:5: ")
    assert 'unknown field "num_clases"' in msg and "model.ssd" in msg
    assert 'did you mean "num_classes"' in msg


def test_unknown_field_at_top_level_and_in_detection_model():
    msg = _error(SSD_TEXT + "\nfoo: 1\n")
    assert f":{len(SSD_TEXT.splitlines()) + 2}:1:" in msg and '"foo"' in msg
    msg = _error("model {\n  faster_rcnn {\n  }\n}\n")
    assert ":2:3:" in msg and '"faster_rcnn"' in msg and "ssd" in msg


def test_syntax_and_enum_errors_carry_line():
    msg = _error(SSD_TEXT.replace("score_converter: SIGMOID", "score_converter: SIGMOD"))
    assert f":{_line_of(SSD_TEXT, 'score_converter')}:" in msg and "SIGMOD" in msg
    assert "'" not in msg.split(": ", 1)[1][:3]  # text_format's quoted source line is dropped
    msg = _error(SSD_TEXT.replace("num_classes: 1", "num_classes 1"))
    assert f":{_line_of(SSD_TEXT, 'num_classes: 1')}:" in msg


@pytest.mark.parametrize("old,new,field,needle", [
    ('type: "ssd_mobilenet_v1"', 'type: "faster_rcnn_resnet50"',
     "model.ssd.feature_extractor.type", '"faster_rcnn_resnet50" is not supported'),
    ("score_converter: SIGMOID", "score_converter: SOFTMAX",
     "model.ssd.post_processing.score_converter", "SOFTMAX is not supported"),
    ("use_moving_average: false", "use_moving_average: true",
     "train_config.optimizer.use_moving_average", "true is not supported"),
    ("  batch_size: 8\n", "  batch_size: 8\n  sync_replicas: true\n",
     "train_config.sync_replicas", "true is not supported"),
    ("fixed_shape_resizer {\n        height: 300\n        width: 300\n      }",
     "keep_aspect_ratio_resizer {\n        min_dimension: 300\n      }",
     "model.ssd.image_resizer.keep_aspect_ratio_resizer", "does not implement"),
    ("  batch_size: 8\n", "  batch_size: 8\n  freeze_variables: \"FeatureExtractor\"\n",
     "train_config.freeze_variables", "does not implement"),
    ("activation: RELU_6", "activation: SWISH",
     "model.ssd.feature_extractor.conv_hyperparams.activation", "SWISH is not supported"),
])
def test_known_but_unsupported_fields_are_rejected_with_line(old, new, field, needle):
    text = SSD_TEXT.replace(old, new, 1)
    assert text != SSD_TEXT
    msg = _error(text)
    first = msg.split(" (and ")[0]
    assert field in first and needle in first
    leaf = field.rsplit(".", 1)[1]
    line = _line_of(text, leaf + (":" if leaf not in ("keep_aspect_ratio_resizer",) else " {"))
    assert first.startswith(f"pipeline_configs/ssd.config:{line}:")


def test_not_implemented_names_are_schema_messages_without_those_fields():
    """The schema is the allow-list: a known-but-unsupported OD API field is absent from
    its message, so it fails to parse, and the loader names it "does not implement"."""
    pool = TrainEvalPipelineConfig.DESCRIPTOR.file.pool
    for message, names in rules.NOT_IMPLEMENTED.items():
        desc = pool.FindMessageTypeByName(f"handtrack.config.{message}")
        assert not names & set(desc.fields_by_name), message
    msg = _error(SSD_TEXT.replace("train_config {", "graph_rewriter {\n  quantization {\n  }\n}\n"
                                                   "train_config {", 1))
    assert f":{_line_of(SSD_TEXT, 'train_config {')}:1: graph_rewriter is set, but handtrack " \
           "does not implement it" in msg


def test_line_of_offending_element_in_repeated_field():
    text = SSD_TEXT.replace("    ssd_random_crop {\n    }",
                            "    ssd_random_crop {\n    }\n  }\n  data_augmentation_options {\n"
                            "    random_vertical_flip {\n    }")
    msg = _error(text)
    assert msg.startswith(f"pipeline_configs/ssd.config:{_line_of(text, 'random_vertical_flip')}:5: ")
    assert "train_config.data_augmentation_options.random_vertical_flip" in msg


def test_value_checks():
    msg = _error(SSD_TEXT.replace("num_classes: 1", "num_classes: 0"))
    assert "model.ssd.num_classes" in msg and ">= 1" in msg
    msg = _error(SSD_TEXT.replace("unmatched_threshold: 0.5", "unmatched_threshold: 0.7"))
    assert "unmatched_threshold" in msg
    msg = _error(SSD_TEXT.replace("weighted_sigmoid {\n        }", "weighted_sigmoid_focal {\n          gamma: 2.0\n        }"))
    assert "weighted_sigmoid_focal.alpha" in msg and "missing" in msg
    loads_pipeline(SSD_TEXT.replace("weighted_sigmoid {\n        }",
                                    "weighted_sigmoid_focal {\n          gamma: 2.0\n          alpha: 0.75\n        }"))
    msg = _error(SSD_TEXT + SSD_TEXT[SSD_TEXT.index("eval_input_reader {"):])
    assert "only one eval_input_reader" in msg
    assert _error("")  # no model at all
    msg = _error(SSD_TEXT.replace('fine_tune_checkpoint_type: "detection"',
                                  'fine_tune_checkpoint_type: "detection"\n  from_detection_checkpoint: false'))
    assert "from_detection_checkpoint" in msg


@pytest.mark.parametrize("old,new,needle", [
    ("depth_multiplier: 1.0", "depth_multiplier: nan", "depth_multiplier: must be > 0 (got nan)"),
    ("max_total_detections: 100", "max_total_detections: 0", "max_total_detections: must be >= 1 (got 0)"),
    ("learning_rate_base: 0.004", "learning_rate_base: inf", "learning_rate_base: must be a finite number > 0"),
])
def test_bounded_values_name_field_and_line(old, new, needle):
    text = SSD_TEXT.replace(old, new, 1)
    assert text != SSD_TEXT
    msg = _error(text)
    assert msg.startswith(f"pipeline_configs/ssd.config:{_line_of(text, new)}:") and needle in msg

def test_multiple_problems_are_all_reported_on_one_line():
    text = SSD_TEXT.replace("score_converter: SIGMOID", "score_converter: SOFTMAX").replace(
        "use_moving_average: false", "use_moving_average: true")
    with pytest.raises(validation.ConfigError) as info:
        loads_pipeline(text, "x.config")
    assert len(info.value.problems) == 2 and "\n" not in str(info.value)
    assert "and 1 more problem" in str(info.value)


def test_every_rule_path_exists_in_schema():
    for path in rules.VALUE_RULES:
        desc = TrainEvalPipelineConfig.DESCRIPTOR
        for name in path.split("."):
            assert desc is not None, path
            assert name in desc.fields_by_name, f"{path}: no field {name!r}"
            field = desc.fields_by_name[name]
            desc = field.message_type
        rule = rules.VALUE_RULES[path]
        if rule.allowed is not None and field.enum_type is not None:
            assert set(rule.allowed) <= set(field.enum_type.values_by_name), path
    assert "model.ssd.feature_extractor.type" in rules.supported_paths()


# --- loading files -----------------------------------------------------------------------

def test_bare_name_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path("ssd.config") == CONFIG_DIR / "ssd.config"
    assert resolve_config_path("ssd") == CONFIG_DIR / "ssd.config"
    assert load_pipeline("ssd_mobilenet_v1_075_coco").model.ssd.feature_extractor.depth_multiplier == 0.75
    # A file of that name in the working directory wins.
    (tmp_path / "ssd.config").write_text(SSD_TEXT.replace("batch_size: 8", "batch_size: 2"))
    assert resolve_config_path("ssd.config") == Path("ssd.config")
    assert load_pipeline("ssd.config").train_config.batch_size == 2


def test_missing_config_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"nope\.config: file not found.*ssd\.config"):
        load_pipeline("nope.config")
    with pytest.raises(UserError, match="file not found"):
        load_pipeline("configs/ssd.config")  # has a directory part: never looked up
    with pytest.raises(UserError, match="not a file"):
        load_pipeline(str(tmp_path))
    (tmp_path / "bin.config").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="UTF-8"):
        load_pipeline(str(tmp_path / "bin.config"))


@pytest.mark.parametrize("source", SHIPPED + [str(CLASSIC)])
def test_save_load_round_trip(source, tmp_path):
    cfg = load_pipeline(source)
    out = save_pipeline(cfg, tmp_path / "sub" / "pipeline.config", header="written by a test\nline 2")
    assert out.read_text().startswith("# written by a test\n# line 2\n")
    again = load_pipeline(str(out))
    assert again == cfg
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["pipeline.config"]  # no temp left
    assert "0.004000000" not in out.read_text()  # floats in their short form


def test_parse_only_does_not_validate():
    cfg = parse_pipeline(SSD_TEXT.replace("score_converter: SIGMOID", "score_converter: SOFTMAX"))
    assert cfg.model.ssd.post_processing.score_converter == pipeline_pb2.PostProcessing.SOFTMAX


# --- overrides ----------------------------------------------------------------------------

def test_overrides():
    cfg = load_pipeline("ssd.config")
    out = apply_overrides(cfg, num_steps=1000, batch_size=2, num_classes=3, learning_rate=0.008,
                          fine_tune_checkpoint="/ckpt/model.ckpt", fine_tune_checkpoint_type="detection",
                          train_input_path=["a/train-*", "b/train-*"], eval_input_path="e/eval-*",
                          label_map_path="lm.pbtxt")
    assert cfg.train_config.num_steps == 20000 and cfg.train_config.batch_size == 8  # copy, not in place
    tc = out.train_config
    assert (tc.num_steps, tc.batch_size, out.model.ssd.num_classes) == (1000, 2, 3)
    cos = tc.optimizer.rms_prop_optimizer.learning_rate.cosine_decay_learning_rate
    assert (cos.total_steps, cos.warmup_steps) == (1000, 25)  # tied to num_steps, warmup scaled
    assert cos.learning_rate_base == pytest.approx(0.008)
    assert cos.warmup_learning_rate == pytest.approx(0.0008)
    assert (tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type) == ("/ckpt/model.ckpt", "detection")
    assert list(out.train_input_reader.tf_record_input_reader.input_path) == ["a/train-*", "b/train-*"]
    assert list(out.eval_input_reader[0].tf_record_input_reader.input_path) == ["e/eval-*"]
    assert out.train_input_reader.label_map_path == out.eval_input_reader[0].label_map_path == "lm.pbtxt"
    assert apply_overrides(cfg) == cfg


def test_overrides_leave_untied_schedules_alone():
    cfg = load_pipeline(str(CLASSIC))
    out = apply_overrides(cfg, num_steps=10, learning_rate=0.001)
    exp = out.train_config.optimizer.rms_prop_optimizer.learning_rate.exponential_decay_learning_rate
    assert exp.decay_steps == 800720 and exp.initial_learning_rate == pytest.approx(0.001)
    assert out.train_config.num_steps == 10


@pytest.mark.parametrize("kwargs,flag", [
    (dict(num_steps=-1), "--num_steps"),   # 0 is valid: train until stopped (OD API)
    (dict(batch_size=-1), "--batch_size"),
    (dict(batch_size=2.5), "--batch_size"),
    (dict(num_classes=True), "--num_classes"),
    (dict(learning_rate=0), "--learning_rate"),
    (dict(fine_tune_checkpoint=""), "--fine_tune_checkpoint"),
    (dict(fine_tune_checkpoint_type="full"), "--fine_tune_checkpoint_type"),
    (dict(train_input_path=[]), "--train_input_path"),
])
def test_bad_overrides_name_the_flag(kwargs, flag):
    with pytest.raises(UserError, match=f"^{flag}: "):
        apply_overrides(load_pipeline("ssd.config"), **kwargs)


def test_input_weights_must_match_the_input_paths():
    """A config mixing sets by weight, pointed at one set of records, is one line, not a
    traceback when training starts."""
    cfg = load_pipeline("ssd.config")
    cfg.train_input_reader.tf_record_input_reader.input_path[:] = ["a.record", "b.record"]
    cfg.train_input_reader.sample_from_datasets_weights[:] = [0.5, 0.5]
    with pytest.raises(UserError, match="sample_from_datasets_weights: 2 weights for 1 input_path"):
        apply_overrides(cfg, train_input_path="mine.record")


# --- paths -----------------------------------------------------------------------------------

def test_paths_resolve_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = tmp_path / "data" / "egohands" / "records"
    records.mkdir(parents=True)
    for name in ("train.record-00001-of-00002", "train.record-00000-of-00002", "eval.record-00000-of-00001"):
        (records / name).write_bytes(b"")
    cfg = load_pipeline("ssd.config")
    files = paths.input_files(cfg.train_input_reader)
    assert [Path(f).name for f in files] == ["train.record-00000-of-00002", "train.record-00001-of-00002"]
    assert all(Path(f).is_absolute() for f in files)
    assert paths.resolve_path("../shared/weights/mobilenet_v1_1.0_224/mobilenet_v1_1.0_224.ckpt") == \
        tmp_path / "../shared/weights/mobilenet_v1_1.0_224/mobilenet_v1_1.0_224.ckpt"
    assert paths.label_map_path(cfg.eval_input_reader[0], "eval_input_reader") == \
        tmp_path / "data/egohands/label_map.pbtxt"
    cfg.train_input_reader.tf_record_input_reader.input_path[:] = ["data/none-*"]
    with pytest.raises(UserError, match=r"train_input_reader\.tf_record_input_reader\.input_path: no file"):
        paths.input_files(cfg.train_input_reader)


def test_checkpoint_type_from_legacy_flag():
    tc = pipeline_pb2.TrainConfig()
    assert loader.fine_tune_checkpoint_type(tc) == ""
    tc.fine_tune_checkpoint = "x"
    assert loader.fine_tune_checkpoint_type(tc) == "classification"
    tc.from_detection_checkpoint = True
    assert loader.fine_tune_checkpoint_type(tc) == "detection"


# --- field locations ----------------------------------------------------------------------------

def test_locate_handles_text_format_syntax():
    text = ('# comment { not a block\n'
            'a { b: "x" "y"  c: [1, 2,\n 3] }\n'
            "a < b: 'z#' ; d [ { e: 1 }, { e: 2 } ] >\n"
            'f: -inf, g: 1e-8\n')
    loc = locate.field_locations(text)
    assert loc[(("a", 0),)] == (2, 1)
    assert loc[(("a", 0), ("c", 0))] == (2, 17)
    assert loc[(("a", 1),)] == (4, 1)
    assert loc[(("a", 1), ("d", 1), ("e", 0))] == (4, 31)
    assert loc[(("f", 0),)] == (5, 1) and loc[(("g", 0),)] == (5, 10)
    assert locate.locate(loc, (("a", 1), ("zz", 0))) == (4, 1)


# --- generated module -----------------------------------------------------------------------

def test_generated_module_imports_without_warnings():
    code = "import config.pipeline_pb2 as m; assert m.TrainEvalPipelineConfig"
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def _norm_default(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _module_fields():
    fields, enums = set(), set()

    def walk_msg(desc):
        for f in desc.fields:
            default = None
            if f.has_default_value:
                default = (f.enum_type.values_by_number[f.default_value].name if f.enum_type
                           else _norm_default(f.default_value))
            fields.add((desc.name, f.name, f.number, default))
        for e in desc.enum_types:
            enums.update((e.name, v.name, v.number) for v in e.values)
        for nested in desc.nested_types:
            walk_msg(nested)

    for desc in pipeline_pb2.DESCRIPTOR.message_types_by_name.values():
        walk_msg(desc)
    for e in pipeline_pb2.DESCRIPTOR.enum_types_by_name.values():
        enums.update((e.name, v.name, v.number) for v in e.values)
    return fields, enums


def _proto_fields():
    """(message, field, number, default) and (enum, value, number) read from pipeline.proto."""
    text = re.sub(r"//[^\n]*", "", (REPO_ROOT / "config" / "pipeline.proto").read_text())
    fields, enums = set(), set()
    stack = []  # (kind, name)
    for tok in re.finditer(r"\b(message|enum|oneof)\s+(\w+)\s*\{|\{|\}|"
                           r"(?:\b(?:optional|repeated|required)\s+)?([A-Za-z_][\w.]*)\s+(\w+)\s*=\s*(\d+)"
                           r"(?:\s*\[\s*default\s*=\s*([^\]]*?)\s*\])?|"
                           r"\b(\w+)\s*=\s*(-?\d+)\s*;", text):
        if tok.group(1):
            stack.append((tok.group(1), tok.group(2)))
        elif tok.group(0) == "{":
            stack.append(("block", ""))
        elif tok.group(0) == "}":
            stack.pop()
        elif tok.group(3) and tok.group(3) not in ("syntax", "package"):
            owner = next(name for kind, name in reversed(stack) if kind == "message")
            default = tok.group(6)
            if default is not None:
                default = default.strip('"')
                if tok.group(3) in ("float", "double"):
                    default = _norm_default(float(default))
            fields.add((owner, tok.group(4), int(tok.group(5)), default))
        elif tok.group(7) and stack and stack[-1][0] == "enum":
            enums.add((stack[-1][1], tok.group(7), int(tok.group(8))))
    return fields, enums


def test_generated_module_matches_proto_text():
    """Every message field (number, default) and enum value in pipeline.proto is in the
    committed module, and nothing else: catches an edit of the .proto without
    `bash config/regenerate.sh`."""
    assert _proto_fields() == _module_fields()


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None,
                    reason="grpc_tools (protoc) not installed; regenerate with config/regenerate.sh")
def test_generated_module_matches_protoc_output(tmp_path):
    from grpc_tools import protoc
    out = tmp_path / "set.pb"
    assert protoc.main(["protoc", f"-I{REPO_ROOT}", f"--descriptor_set_out={out}",
                        str(REPO_ROOT / "config" / "pipeline.proto")]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]

    def drop_json_names(messages):  # the Python generator leaves json_name out
        for m in messages:
            for f in m.field:
                f.ClearField("json_name")
            drop_json_names(m.nested_type)

    drop_json_names(fresh.message_type)
    # The bytes embedded in the committed module (DESCRIPTOR.serialized_pb is re-serialised
    # by the upb runtime, with float defaults spelled differently).
    source = (REPO_ROOT / "config" / "pipeline_pb2.py").read_text()
    embedded = re.search(r"AddSerializedFile\((b'.*?')\)\n", source, re.S).group(1)
    committed = descriptor_pb2.FileDescriptorProto.FromString(ast.literal_eval(embedded))
    assert fresh == committed


def test_repeated_input_path_oversamples_but_eval_reads_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("small.record-00000-of-00001", "big.record-00000-of-00001"):
        (tmp_path / name).write_bytes(b"")
    patterns = ["small.record-*", "small.record-*", "big.record-*"]
    train = paths.expand_patterns(patterns, "train_input_reader.tf_record_input_reader.input_path")
    assert [Path(f).name.split(".")[0] for f in train] == ["small", "small", "big"]
    assert len(paths.expand_patterns(patterns, "eval records", unique=True)) == 2
    with pytest.raises(UserError, match="eval records: no file matches 'missing'"):
        paths.expand_patterns(["missing"], "eval records")
