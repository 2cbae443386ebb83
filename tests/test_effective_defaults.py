"""Unset config fields mean the OD API's defaults, and the model honours them or the load fails.

Issue 8, defect 5: validation used to check only fields that are set, and the
model code then did what handtrack always does (ReLU6, batch norm with scale,
five aspect ratios), not what the OD API does with the same config (ReLU,
batch norm without scale or none at all, only the interpolated anchor).
"""
from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from common.errors import UserError
from config.loader import CONFIG_DIR, load_pipeline, loads_pipeline
from ssd import anchors as anchor_lib
from ssd.builder import ssd_config_from_proto
from ssd.feature_extractor import ConvHyperparams

SSD_TEXT = (CONFIG_DIR / "ssd.config").read_text()
NAME = "pipeline_configs/ssd.config"
# The feature extractor's conv_hyperparams come first in ssd.config, the predictor's second.
FE_START = SSD_TEXT.index("feature_extractor {")
PRED_START = SSD_TEXT.index("box_predictor {")


def edit_feature_extractor(old: str, new: str) -> str:
    """Replace `old` inside the feature extractor block only."""
    head, fe, tail = SSD_TEXT[:FE_START], SSD_TEXT[FE_START:PRED_START], SSD_TEXT[PRED_START:]
    assert fe.count(old) == 1, old
    return head + fe.replace(old, new) + tail


def without_block(text: str, start: str) -> str:
    """`text` minus the first `start ... }` block (balanced braces)."""
    i = text.index(start)
    depth, j = 0, text.index("{", i)
    while True:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
        if depth == 0:
            break
    line_start = text.rindex("\n", 0, i) + 1
    return text[:line_start] + text[j:].lstrip(" ").removeprefix("\n")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def error(text: str) -> str:
    with pytest.raises(UserError) as info:
        loads_pipeline(text, NAME)
    return str(info.value)


# --- what the config means ---------------------------------------------------------

def test_unset_activation_means_relu_as_in_the_od_api():
    cfg = loads_pipeline(edit_feature_extractor("activation: RELU_6\n", ""), NAME)
    assert ssd_config_from_proto(cfg.model).feature_hyper.activation == "RELU"
    cfg = loads_pipeline(edit_feature_extractor("activation: RELU_6", "activation: NONE"), NAME)
    assert ssd_config_from_proto(cfg.model).feature_hyper.activation == "NONE"


def test_batch_norm_without_scale_and_without_block():
    cfg = loads_pipeline(edit_feature_extractor("scale: true\n", ""), NAME)
    hyper = ssd_config_from_proto(cfg.model).feature_hyper
    assert hyper.batch_norm and not hyper.batch_norm_scale and hyper.batch_norm_center
    cfg = loads_pipeline(without_block(SSD_TEXT[:PRED_START], "batch_norm {") + SSD_TEXT[PRED_START:], NAME)
    hyper = ssd_config_from_proto(cfg.model).feature_hyper
    assert not hyper.batch_norm
    # The backbone keeps MobileNet's own batch norm constants, not the unset block's 0.999.
    assert (hyper.batch_norm_decay, hyper.batch_norm_epsilon) == (0.9997, 0.001)


def test_shipped_and_classic_configs_mean_the_classic_recipe():
    classic = ConvHyperparams()  # relu6, batch norm with centre and scale
    for source in ("ssd.config", "ssd_mobilenet_v1_075_coco.config",
                   "tests/data/classic_handtracker_ssd_mobilenet_v1_coco.config"):
        hyper = ssd_config_from_proto(load_pipeline(source).model).feature_hyper
        assert (hyper.activation, hyper.batch_norm, hyper.batch_norm_scale, hyper.batch_norm_center) \
            == (classic.activation, classic.batch_norm, classic.batch_norm_scale,
                classic.batch_norm_center), source
        assert hyper.batch_norm_decay == pytest.approx(classic.batch_norm_decay)
        ssd = ssd_config_from_proto(load_pipeline(source).model)
        assert ssd.anchors.aspect_ratios == pytest.approx((1.0, 2.0, 0.5, 3.0, 0.3333))
        assert anchor_lib.num_anchors_per_location(ssd.anchors) == [3, 6, 6, 6, 6, 6]


def test_empty_aspect_ratios_leave_only_the_interpolated_anchor():
    text = re.sub(r"\n *aspect_ratios: [0-9.]+", "", SSD_TEXT)
    assert "aspect_ratios" not in text
    spec = ssd_config_from_proto(loads_pipeline(text, NAME).model).anchors
    # OD API create_ssd_anchors with aspect_ratios=[]: the lowest layer's three
    # fixed boxes, then one (interpolated scale, ratio 1.0) box per location.
    assert anchor_lib.num_anchors_per_location(spec) == [3, 1, 1, 1, 1, 1]
    sizes = [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    anchors = anchor_lib.generate_anchors(spec, sizes, (300, 300))
    assert anchors.shape == (19 * 19 * 3 + 100 + 25 + 9 + 4 + 1, 4)
    # Every anchor past the first layer is square (ratio 1.0).
    np.testing.assert_allclose(anchors[19 * 19 * 3:, 2], anchors[19 * 19 * 3:, 3], rtol=1e-6)


# --- what the model does with it -----------------------------------------------------

def test_extra_layer_activation_and_batch_norm_follow_the_hyperparams():
    tf = pytest.importorskip("tensorflow")
    from ssd.feature_extractor import ConvBnRelu6

    x = tf.constant(np.linspace(-20, 20, 2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3))

    def layer(**kw):
        unit = ConvBnRelu6(3, 1, 1, ConvHyperparams(**kw))
        unit(x, training=False)  # builds the variables
        unit.conv.kernel.assign(tf.eye(3)[None, None])  # identity conv
        return unit

    relu6 = layer()(x, training=False).numpy()
    relu = layer(activation="RELU")(x, training=False).numpy()
    linear = layer(activation="NONE", batch_norm=False)(x, training=False).numpy()
    assert relu6.max() <= 6.0 and relu.max() > 15 and relu.min() == 0.0
    assert linear.min() < -15  # no activation: negatives pass

    no_bn = layer(batch_norm=False)
    assert no_bn.bn is None and no_bn.conv.use_bias
    no_scale = layer(batch_norm_scale=False)
    assert no_scale.bn.gamma is None and no_scale.bn.beta is not None and not no_scale.conv.use_bias


def test_checkpoint_names_follow_batch_norm_settings():
    """slim's conv2d names a bias `biases` without batch norm, and makes no gamma with scale=False;
    the MobileNet backbone keeps its batch norm with gamma either way."""
    pytest.importorskip("tensorflow")
    from ssd.feature_extractor import SsdMobileNetV1FeatureExtractor

    def names(hyper):
        extractor = SsdMobileNetV1FeatureExtractor((64, 64), 0.25, 8, hyper)
        extractor(np.zeros((1, 64, 64, 3), np.float32), training=False)
        return set(extractor.slim_variable_map())

    extra = "MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_64"
    full = names(ConvHyperparams())
    assert f"{extra}/BatchNorm/gamma" in full and f"{extra}/biases" not in full
    no_scale = names(ConvHyperparams(batch_norm_scale=False))
    assert f"{extra}/BatchNorm/gamma" not in no_scale and f"{extra}/BatchNorm/beta" in no_scale
    assert "MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma" in no_scale
    no_bn = names(ConvHyperparams(batch_norm=False))
    assert f"{extra}/biases" in no_bn and not any(n.startswith(f"{extra}/BatchNorm") for n in no_bn)
    assert "MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma" in no_bn
    assert len(no_bn) == len(full) - 8 * 4 + 8  # 8 extra convs: 4 BatchNorm variables -> 1 bias


# --- what cannot be honoured fails with file:line ------------------------------------------

def test_missing_initializer_fails_at_its_block():
    text = edit_feature_extractor(" initializer {", " initializer_was {")
    text = without_block(text, "initializer_was {")
    msg = error(text)
    assert "model.ssd.feature_extractor.conv_hyperparams.initializer" in msg and "missing" in msg
    conv_line = line_of(text[FE_START:], "conv_hyperparams {") + text[:FE_START].count("\n")
    assert msg.startswith(f"{NAME}:{conv_line}:")


def test_empty_loss_fails_at_its_block():
    text = SSD_TEXT.replace("weighted_sigmoid {\n        }", "", 1)
    msg = error(text)
    assert "model.ssd.loss.classification_loss" in msg and "empty" in msg
    assert msg.startswith(f"{NAME}:{line_of(text, 'classification_loss {')}:")


def test_aspect_ratios_leaving_feature_maps_without_anchors_fail():
    text = re.sub(r"\n *aspect_ratios: [0-9.]+", "", SSD_TEXT).replace(
        "max_scale: 0.95", "max_scale: 0.95\n        interpolated_scale_aspect_ratio: 0.0", 1)
    msg = error(text)
    assert "aspect_ratios" in msg and "no anchors" in msg
    assert msg.startswith(f"{NAME}:{line_of(text, 'ssd_anchor_generator {')}:")


def test_unsupported_activation_is_still_rejected_but_predictor_activation_is_moot():
    msg = error(edit_feature_extractor("activation: RELU_6", "activation: SWISH"))
    assert "SWISH is not supported" in msg
    # The box predictor has no activation or normalizer (as in the OD API), so any value loads.
    head, pred = SSD_TEXT[:PRED_START], SSD_TEXT[PRED_START:]
    loads_pipeline(head + pred.replace("activation: RELU_6", "activation: SWISH", 1)
                   .replace("scale: true", "scale: false", 1), NAME)


def test_unset_use_moving_average_is_warned_with_line(caplog):
    text = SSD_TEXT.replace("    use_moving_average: false\n", "", 1)
    assert text != SSD_TEXT
    with caplog.at_level(logging.WARNING):
        loads_pipeline(text, NAME)
    warned = [r.getMessage() for r in caplog.records if "use_moving_average" in r.getMessage()]
    assert len(warned) == 1 and "unset" in warned[0]
    assert warned[0].startswith(f"{NAME}:{line_of(text, 'optimizer {')}:")
