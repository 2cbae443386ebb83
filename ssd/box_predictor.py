"""Convolutional box predictors: one box-encoding and one class conv per feature map.

Outputs are flattened in (row, column, anchor) order so row k lines up with
anchor k from `anchors.generate_anchors`.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras

from ssd.feature_extractor import ConvHyperparams


class ConvolutionalBoxPredictor(tf_keras.layers.Layer):
    def __init__(self, num_classes: int, anchors_per_location: list[int], kernel_size: int = 1,
                 box_code_size: int = 4, class_prediction_bias_init: float = 0.0,
                 use_dropout: bool = False, dropout_keep_probability: float = 0.8,
                 hyper: ConvHyperparams = ConvHyperparams(), **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.box_code_size = box_code_size
        self.dropout = (tf_keras.layers.Dropout(1.0 - dropout_keep_probability)
                        if use_dropout else None)

        def conv(filters, bias_init=0.0):
            return tf_keras.layers.Conv2D(
                filters, kernel_size, padding="same", use_bias=True,
                kernel_initializer=hyper.initializer(), kernel_regularizer=hyper.regularizer(),
                bias_initializer=tf_keras.initializers.Constant(bias_init))

        self.box_convs = [conv(n * box_code_size) for n in anchors_per_location]
        self.class_convs = [conv(n * (num_classes + 1), class_prediction_bias_init)
                            for n in anchors_per_location]

    def call(self, features, training=None):
        boxes, classes = [], []
        for feature, box_conv, class_conv in zip(features, self.box_convs, self.class_convs):
            batch = tf.shape(feature)[0]
            boxes.append(tf.reshape(box_conv(feature), [batch, -1, self.box_code_size]))
            if self.dropout is not None:
                feature = self.dropout(feature, training=training)
            classes.append(tf.reshape(class_conv(feature), [batch, -1, self.num_classes + 1]))
        return tf.concat(boxes, axis=1), tf.concat(classes, axis=1)

    def slim_variable_map(self) -> dict[str, tf.Variable]:
        names = {}
        for i, (box_conv, class_conv) in enumerate(zip(self.box_convs, self.class_convs)):
            names[f"BoxPredictor_{i}/BoxEncodingPredictor/weights"] = box_conv.kernel
            names[f"BoxPredictor_{i}/BoxEncodingPredictor/biases"] = box_conv.bias
            names[f"BoxPredictor_{i}/ClassPredictor/weights"] = class_conv.kernel
            names[f"BoxPredictor_{i}/ClassPredictor/biases"] = class_conv.bias
        return names
