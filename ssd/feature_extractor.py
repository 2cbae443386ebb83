"""SSD MobileNet v1 feature maps: tf-models-official's MobileNet v1 plus the SSD extra layers.

The backbone is `official.vision`'s MobileNet (tf_keras); the four extra layers
(1x1 conv, then 3x3 stride-2 conv) follow the Object Detection API so their
variables map one to one onto zoo checkpoints. As in the OD API, the backbone
keeps MobileNet's own relu6 and batch norm, while the extra layers take their
activation and batch norm (or none) from `feature_extractor.conv_hyperparams`.
"""
from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
import tf_keras
from official.vision.modeling.backbones import mobilenet

# Output depths of the six feature maps before the depth multiplier; -1 means
# "taken from the backbone" (Conv2d_11_pointwise and Conv2d_13_pointwise).
LAYER_DEPTHS = (-1, -1, 512, 256, 256, 128)
BACKBONE_ENDPOINTS = ("4", "5")  # official MobileNet endpoint levels: stride 16 and 32


ACTIVATIONS = {"NONE": None, "RELU": tf.nn.relu, "RELU_6": tf.nn.relu6}


@dataclass(frozen=True)
class ConvHyperparams:
    """The OD API's `conv_hyperparams`. The defaults are the classic recipe's values;
    `ssd.builder` fills in a config's effective values, including the OD API's
    defaults for fields the config leaves unset (activation RELU, batch norm
    without scale, no batch norm at all when there is no `batch_norm` block).

    activation, batch_norm, batch_norm_scale and batch_norm_center shape the SSD
    extra layers only: the box predictor's convolutions have neither (as in the
    OD API), and the MobileNet backbone keeps relu6 and batch norm with scale.
    """

    l2_weight: float = 0.00004
    init_stddev: float = 0.03
    batch_norm_decay: float = 0.9997
    batch_norm_epsilon: float = 0.001
    activation: str = "RELU_6"      # a key of ACTIVATIONS
    batch_norm: bool = True         # False: the conv gets a bias and no batch norm
    batch_norm_scale: bool = True   # False: no gamma (slim's batch_norm(scale=False))
    batch_norm_center: bool = True  # False: no beta

    def regularizer(self):
        # slim's l2_regularizer(w) is w * sum(x^2) / 2; Keras' l2(w) is w * sum(x^2).
        return tf_keras.regularizers.l2(0.5 * self.l2_weight) if self.l2_weight > 0 else None

    def initializer(self):
        return tf_keras.initializers.TruncatedNormal(stddev=self.init_stddev)


def depth_fn(depth: int, depth_multiplier: float, min_depth: int) -> int:
    return max(int(depth * depth_multiplier), min_depth)


class ConvBnRelu6(tf_keras.layers.Layer):
    """conv + batch norm + activation, the unit of the SSD extra layers (relu6 and
    batch norm in the classic recipe; `hyper` may drop either, as slim's
    conv2d does: without batch norm the conv has a bias)."""

    def __init__(self, filters: int, kernel_size: int, strides: int,
                 hyper: ConvHyperparams, **kwargs):
        super().__init__(**kwargs)
        if hyper.activation not in ACTIVATIONS:
            raise ValueError(f"activation {hyper.activation!r} not in {sorted(ACTIVATIONS)}")
        self.activation = ACTIVATIONS[hyper.activation]
        self.conv = tf_keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=not hyper.batch_norm,
            kernel_initializer=hyper.initializer(), kernel_regularizer=hyper.regularizer())
        self.bn = tf_keras.layers.BatchNormalization(
            momentum=hyper.batch_norm_decay, epsilon=hyper.batch_norm_epsilon,
            scale=hyper.batch_norm_scale, center=hyper.batch_norm_center,
        ) if hyper.batch_norm else None

    def call(self, x, training=None):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return x if self.activation is None else self.activation(x)


class SsdMobileNetV1FeatureExtractor(tf_keras.Model):
    """Maps a preprocessed image batch to the six SSD feature maps."""

    def __init__(self, input_size: tuple[int, int], depth_multiplier: float = 1.0,
                 min_depth: int = 16, hyper: ConvHyperparams = ConvHyperparams(), **kwargs):
        super().__init__(**kwargs)
        self.depth_multiplier = depth_multiplier
        self.min_depth = min_depth
        self.backbone = mobilenet.MobileNet(
            model_id="MobileNetV1",
            filter_size_scale=depth_multiplier,
            min_depth=min_depth,
            input_specs=tf_keras.layers.InputSpec(shape=[None, input_size[0], input_size[1], 3]),
            norm_momentum=hyper.batch_norm_decay,
            norm_epsilon=hyper.batch_norm_epsilon,
            kernel_initializer=hyper.initializer(),
            kernel_regularizer=hyper.regularizer(),
        )
        self.extra_layers = []
        for index, depth in enumerate(LAYER_DEPTHS):
            if depth < 0:
                continue
            mid = depth_fn(depth // 2, depth_multiplier, min_depth)
            out = depth_fn(depth, depth_multiplier, min_depth)
            self.extra_layers.append((
                f"Conv2d_13_pointwise_1_Conv2d_{index}_1x1_{mid}",
                ConvBnRelu6(mid, 1, 1, hyper),
                f"Conv2d_13_pointwise_2_Conv2d_{index}_3x3_s2_{out}",
                ConvBnRelu6(out, 3, 2, hyper),
            ))
        # Track the layers so Keras sees their variables.
        self._extra = [layer for names in self.extra_layers for layer in names[1::2]]

    def call(self, images, training=None):
        endpoints = self.backbone(images, training=training)
        features = [endpoints[level] for level in BACKBONE_ENDPOINTS]
        x = features[-1]
        for _, reduce_layer, _, expand_layer in self.extra_layers:
            x = expand_layer(reduce_layer(x, training=training), training=training)
            features.append(x)
        return features

    def slim_variable_map(self) -> dict[str, tf.Variable]:
        """Variables under their TF-slim / OD API names (without the `FeatureExtractor/` scope)."""
        names: dict[str, tf.Variable] = {}

        def add_bn(prefix, bn):
            if bn.gamma is not None:   # scale=False: slim makes no gamma either
                names[f"{prefix}/BatchNorm/gamma"] = bn.gamma
            if bn.beta is not None:
                names[f"{prefix}/BatchNorm/beta"] = bn.beta
            names[f"{prefix}/BatchNorm/moving_mean"] = bn.moving_mean
            names[f"{prefix}/BatchNorm/moving_variance"] = bn.moving_variance

        blocks = [layer for layer in self.backbone.layers
                  if type(layer).__name__ in ("Conv2DBNBlock", "DepthwiseSeparableConvBlock")]
        if len(blocks) != 14:
            raise RuntimeError(f"expected 14 MobileNet v1 blocks, found {len(blocks)}")
        first = blocks[0]
        names["MobilenetV1/Conv2d_0/weights"] = first._conv0.kernel
        add_bn("MobilenetV1/Conv2d_0", first._norm0)
        for i, block in enumerate(blocks[1:], start=1):
            names[f"MobilenetV1/Conv2d_{i}_depthwise/depthwise_weights"] = block._dwconv0.depthwise_kernel
            add_bn(f"MobilenetV1/Conv2d_{i}_depthwise", block._norm0)
            names[f"MobilenetV1/Conv2d_{i}_pointwise/weights"] = block._conv1.kernel
            add_bn(f"MobilenetV1/Conv2d_{i}_pointwise", block._norm1)
        for reduce_name, reduce_layer, expand_name, expand_layer in self.extra_layers:
            for name, layer in ((reduce_name, reduce_layer), (expand_name, expand_layer)):
                names[f"MobilenetV1/{name}/weights"] = layer.conv.kernel
                if layer.bn is None:
                    names[f"MobilenetV1/{name}/biases"] = layer.conv.bias
                else:
                    add_bn(f"MobilenetV1/{name}", layer.bn)
        return names
