"""Optimizers and learning-rate schedules named as in the Object Detection API's optimizer.proto."""
from __future__ import annotations

import math

import tensorflow as tf
import tf_keras

from common.errors import UserError


class ExponentialDecayWithBurnin(tf_keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial, decay_steps, decay_factor, staircase=True,
                 burnin_learning_rate=0.0, burnin_steps=0, min_learning_rate=0.0):
        self.initial, self.decay_steps, self.decay_factor = initial, decay_steps, decay_factor
        self.staircase, self.burnin_lr, self.burnin_steps = staircase, burnin_learning_rate, burnin_steps
        self.min_lr = min_learning_rate

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        exponent = (step - self.burnin_steps) / float(self.decay_steps)
        if self.staircase:
            exponent = tf.floor(exponent)
        lr = self.initial * tf.pow(self.decay_factor, tf.maximum(exponent, 0.0))
        if self.burnin_steps > 0:
            burnin = self.burnin_lr if self.burnin_lr > 0 else self.initial
            lr = tf.where(step < self.burnin_steps, burnin, lr)
        # The OD API's floor bounds the burn-in rate too.
        return tf.maximum(lr, self.min_lr)

    def get_config(self):
        return dict(initial=self.initial, decay_steps=self.decay_steps, decay_factor=self.decay_factor)


class CosineDecayWithWarmup(tf_keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, base, total_steps, warmup_learning_rate=0.0, warmup_steps=0, hold_base_rate_steps=0):
        if total_steps < warmup_steps:
            raise UserError("cosine_decay_learning_rate: total_steps must be >= warmup_steps")
        self.base, self.total_steps = base, total_steps
        self.warmup_lr, self.warmup_steps, self.hold = warmup_learning_rate, warmup_steps, hold_base_rate_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decay_span = max(1.0, float(self.total_steps - self.warmup_steps - self.hold))
        progress = tf.clip_by_value((step - self.warmup_steps - self.hold) / decay_span, 0.0, 1.0)
        lr = 0.5 * self.base * (1.0 + tf.cos(math.pi * progress))
        if self.hold > 0:
            lr = tf.where(step > self.warmup_steps + self.hold, lr, self.base)
        if self.warmup_steps > 0:
            slope = (self.base - self.warmup_lr) / self.warmup_steps
            lr = tf.where(step < self.warmup_steps, self.warmup_lr + slope * step, lr)
        return tf.where(step > self.total_steps, 0.0, lr)

    def get_config(self):
        return dict(base=self.base, total_steps=self.total_steps)


class RMSPropTF1(tf_keras.optimizers.RMSprop):
    """RMSProp as TF1's `tf.train.RMSPropOptimizer`, which the OD API's rms_prop_optimizer builds.

    TF1 starts the mean square at 1.0; Keras starts it at 0. With the classic
    configs' `epsilon: 1.0` the first steps then differ by up to 1/sqrt(eps):
    Keras takes steps several times larger (about lr * g / 1 instead of
    lr * g / sqrt(1 + ...)) just while the fresh heads have their largest
    gradients. The update itself, ms = rho*ms + (1-rho)*g^2, mom = momentum*mom
    + lr*g/sqrt(ms + eps), var -= mom, is the same in both, so only the slot's
    initial value changes here.
    """

    def add_variable_from_reference(self, model_variable, variable_name, shape=None,
                                    initial_value=None):
        if variable_name == "velocity" and initial_value is None:
            dtype = getattr(model_variable, "true_dtype", model_variable.dtype)
            initial_value = tf.ones(model_variable.shape if shape is None else shape, dtype=dtype)
        return super().add_variable_from_reference(model_variable, variable_name, shape,
                                                   initial_value)


def learning_rate_from_proto(lr_proto):
    kind = lr_proto.WhichOneof("learning_rate")
    if kind == "constant_learning_rate":
        return lr_proto.constant_learning_rate.learning_rate
    if kind == "exponential_decay_learning_rate":
        p = lr_proto.exponential_decay_learning_rate
        return ExponentialDecayWithBurnin(p.initial_learning_rate, p.decay_steps, p.decay_factor,
                                          p.staircase, p.burnin_learning_rate, p.burnin_steps,
                                          p.min_learning_rate)
    if kind == "cosine_decay_learning_rate":
        p = lr_proto.cosine_decay_learning_rate
        return CosineDecayWithWarmup(p.learning_rate_base, p.total_steps, p.warmup_learning_rate,
                                     p.warmup_steps, p.hold_base_rate_steps)
    raise UserError("optimizer: learning_rate must set one of constant_learning_rate, "
                    "exponential_decay_learning_rate, cosine_decay_learning_rate")


def optimizer_from_proto(optimizer_proto):
    """Returns (optimizer, schedule_or_float)."""
    kind = optimizer_proto.WhichOneof("optimizer")
    if kind is None:
        raise UserError("train_config.optimizer: no optimizer set (rms_prop_optimizer, "
                        "momentum_optimizer or adam_optimizer)")
    p = getattr(optimizer_proto, kind)
    lr = learning_rate_from_proto(p.learning_rate)
    if kind == "rms_prop_optimizer":
        opt = RMSPropTF1(lr, rho=p.decay, momentum=p.momentum_optimizer_value, epsilon=p.epsilon)
    elif kind == "momentum_optimizer":
        opt = tf_keras.optimizers.SGD(lr, momentum=p.momentum_optimizer_value)
    elif kind == "adam_optimizer":
        opt = tf_keras.optimizers.Adam(lr, epsilon=p.epsilon)
    else:
        raise UserError(f"train_config.optimizer: {kind} is not supported")
    return opt, lr


def learning_rate_at(schedule, step) -> float:
    if callable(schedule):
        return float(schedule(step))
    return float(schedule)
