"""Pipeline.config (protobuf) -> plain SSD settings, model and augmentation.

The only module that reads the OD API's `model.ssd` field names; validation of
what is supported happens earlier, in `config.validation`.
"""
from __future__ import annotations

from common.errors import UserError
from ssd.anchors import SsdAnchorSpec
from ssd.specs import (BoxCoderScales, HardExampleMinerSpec, LossSpec, MatcherSpec,
                        PostProcessSpec, SsdConfig)
from ssd.feature_extractor import ConvHyperparams


def _hyperparams(proto) -> ConvHyperparams:
    l2 = proto.regularizer.l2_regularizer.weight if proto.regularizer.HasField("l2_regularizer") else 0.0
    init = proto.initializer
    stddev = 0.03
    if init.HasField("truncated_normal_initializer"):
        stddev = init.truncated_normal_initializer.stddev
    # Effective values, OD API defaults included: activation RELU when unset,
    # batch norm without scale when `scale` is unset, no batch norm (and a conv
    # bias) without a `batch_norm` block. The backbone always has batch norm; it
    # then keeps MobileNet's own decay and epsilon (ConvHyperparams' defaults).
    activation = type(proto).Activation.Name(proto.activation)
    if not proto.HasField("batch_norm"):
        return ConvHyperparams(l2_weight=l2, init_stddev=stddev, activation=activation,
                               batch_norm=False)
    bn = proto.batch_norm
    return ConvHyperparams(l2_weight=l2, init_stddev=stddev,
                           batch_norm_decay=bn.decay, batch_norm_epsilon=bn.epsilon,
                           activation=activation, batch_norm_scale=bn.scale,
                           batch_norm_center=bn.center)


def ssd_config_from_proto(model_proto) -> SsdConfig:
    if model_proto.WhichOneof("model") != "ssd":
        raise UserError("model: only `ssd` is supported")
    ssd = model_proto.ssd
    resizer = ssd.image_resizer.fixed_shape_resizer
    fe = ssd.feature_extractor
    anchors = ssd.anchor_generator.ssd_anchor_generator
    coder = ssd.box_coder.faster_rcnn_box_coder
    matcher = ssd.matcher.argmax_matcher
    predictor = ssd.box_predictor.convolutional_box_predictor
    nms = ssd.post_processing.batch_non_max_suppression
    loss = ssd.loss
    converter = type(ssd.post_processing).ScoreConverter.Name(ssd.post_processing.score_converter)

    miner = None
    if loss.HasField("hard_example_miner"):
        m = loss.hard_example_miner
        miner = HardExampleMinerSpec(
            num_hard_examples=m.num_hard_examples, iou_threshold=m.iou_threshold,
            loss_type=type(m).LossType.Name(m.loss_type),
            max_negatives_per_positive=m.max_negatives_per_positive,
            min_negatives_per_image=m.min_negatives_per_image)
    cls_kind = loss.classification_loss.WhichOneof("classification_loss") or "weighted_sigmoid"
    focal = loss.classification_loss.weighted_sigmoid_focal

    return SsdConfig(
        num_classes=ssd.num_classes,
        input_size=(resizer.height, resizer.width),
        pad_narrower_images=resizer.pad_narrower_images,
        depth_multiplier=fe.depth_multiplier,
        min_depth=fe.min_depth,
        freeze_batchnorm=ssd.freeze_batchnorm,
        feature_hyper=_hyperparams(fe.conv_hyperparams),
        predictor_hyper=_hyperparams(predictor.conv_hyperparams),
        predictor_kernel_size=predictor.kernel_size,
        box_code_size=predictor.box_code_size,
        class_prediction_bias_init=predictor.class_prediction_bias_init,
        use_dropout=predictor.use_dropout,
        dropout_keep_probability=predictor.dropout_keep_probability,
        anchors=SsdAnchorSpec(
            num_layers=anchors.num_layers, min_scale=anchors.min_scale, max_scale=anchors.max_scale,
            aspect_ratios=tuple(anchors.aspect_ratios),  # empty as in the OD API: no default list
            scales=tuple(anchors.scales),
            interpolated_scale_aspect_ratio=anchors.interpolated_scale_aspect_ratio,
            reduce_boxes_in_lowest_layer=anchors.reduce_boxes_in_lowest_layer,
            base_anchor_height=anchors.base_anchor_height,
            base_anchor_width=anchors.base_anchor_width),
        box_coder=BoxCoderScales(coder.y_scale, coder.x_scale, coder.height_scale, coder.width_scale),
        matcher=MatcherSpec(matcher.matched_threshold, matcher.unmatched_threshold,
                            matcher.negatives_lower_than_unmatched,
                            matcher.force_match_for_each_row),
        post_processing=PostProcessSpec(nms.score_threshold, nms.iou_threshold,
                                        nms.max_detections_per_class, nms.max_total_detections,
                                        converter),
        loss=LossSpec(
            classification=cls_kind,
            focal_gamma=focal.gamma, focal_alpha=focal.alpha,
            smooth_l1_delta=loss.localization_loss.weighted_smooth_l1.delta,
            classification_weight=loss.classification_weight,
            localization_weight=loss.localization_weight,
            hard_example_miner=miner,
            normalize_loss_by_num_matches=ssd.normalize_loss_by_num_matches),
    )


def build_from_pipeline(pipeline) -> "SSDDetector":
    from ssd.model import SSDDetector
    return SSDDetector(ssd_config_from_proto(pipeline.model))
