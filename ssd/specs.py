"""The SSD model's specs: plain-Python dataclasses, decoupled from the protobuf schema.

(Named `specs`, not `config`, so it is not mistaken for the `config/` package, which
parses pipeline.config files.)

The model code reads these dataclasses only; `ssd.builder` fills them from a
pipeline.config. Keeping the proto out of the model makes the model easy to
build in tests and keeps one place that knows the OD API's field names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ssd.anchors import SsdAnchorSpec
from ssd.feature_extractor import ConvHyperparams


@dataclass(frozen=True)
class BoxCoderScales:
    y_scale: float = 10.0
    x_scale: float = 10.0
    height_scale: float = 5.0
    width_scale: float = 5.0

    def as_list(self) -> list[float]:
        return [self.y_scale, self.x_scale, self.height_scale, self.width_scale]


@dataclass(frozen=True)
class MatcherSpec:
    matched_threshold: float = 0.5
    unmatched_threshold: float = 0.5
    negatives_lower_than_unmatched: bool = True
    force_match_for_each_row: bool = True


@dataclass(frozen=True)
class PostProcessSpec:
    score_threshold: float = 1e-8
    iou_threshold: float = 0.6
    max_detections_per_class: int = 100
    max_total_detections: int = 100
    score_converter: str = "SIGMOID"  # or "IDENTITY"


@dataclass(frozen=True)
class HardExampleMinerSpec:
    num_hard_examples: int = 3000
    iou_threshold: float = 0.99
    loss_type: str = "CLASSIFICATION"  # BOTH | CLASSIFICATION | LOCALIZATION
    max_negatives_per_positive: int = 3
    min_negatives_per_image: int = 0


@dataclass(frozen=True)
class LossSpec:
    classification: str = "weighted_sigmoid"  # or "weighted_sigmoid_focal"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    smooth_l1_delta: float = 1.0
    classification_weight: float = 1.0
    localization_weight: float = 1.0
    hard_example_miner: HardExampleMinerSpec | None = field(default_factory=HardExampleMinerSpec)
    normalize_loss_by_num_matches: bool = True


@dataclass(frozen=True)
class SsdConfig:
    num_classes: int = 1
    input_size: tuple[int, int] = (300, 300)  # (height, width)
    pad_narrower_images: bool = False   # ssd/padding.py
    depth_multiplier: float = 1.0
    min_depth: int = 16
    freeze_batchnorm: bool = True
    feature_hyper: ConvHyperparams = ConvHyperparams()
    predictor_hyper: ConvHyperparams = ConvHyperparams()
    predictor_kernel_size: int = 1
    box_code_size: int = 4
    class_prediction_bias_init: float = 0.0
    use_dropout: bool = False
    dropout_keep_probability: float = 0.8
    anchors: SsdAnchorSpec = SsdAnchorSpec()
    box_coder: BoxCoderScales = BoxCoderScales()
    matcher: MatcherSpec = MatcherSpec()
    post_processing: PostProcessSpec = PostProcessSpec()
    loss: LossSpec = LossSpec()
