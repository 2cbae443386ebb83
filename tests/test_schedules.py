"""Learning-rate schedules against the Object Detection API's formulas (issue 8, defect 8).

The references below restate research/object_detection/utils/learning_schedules.py
(the TF2 version, which model_lib_v2 builds from optimizer.proto) in plain
Python, step by step; the schedules are built from config text the way
train.py builds them, and read back through the optimizer they drive.
"""
from __future__ import annotations

import math

import pytest

tf = pytest.importorskip("tensorflow")

from google.protobuf import text_format

from config.pipeline_pb2 import Optimizer
from training.optimizers import learning_rate_at, optimizer_from_proto


def od_exponential_decay_with_burnin(step, learning_rate_base, decay_steps, decay_factor,
                                     burnin_learning_rate=0.0, burnin_steps=0,
                                     min_learning_rate=0.0, staircase=True):
    """learning_schedules.exponential_decay_with_burnin."""
    if burnin_learning_rate == 0:
        burnin_learning_rate = learning_rate_base
    exponent = (step - burnin_steps) / decay_steps
    if staircase:
        exponent = math.floor(exponent)
    post_burnin = learning_rate_base * decay_factor ** exponent
    rate = burnin_learning_rate if step < burnin_steps else post_burnin
    return max(rate, min_learning_rate)


def od_cosine_decay_with_warmup(step, learning_rate_base, total_steps, warmup_learning_rate=0.0,
                                warmup_steps=0, hold_base_rate_steps=0):
    """learning_schedules.cosine_decay_with_warmup."""
    rate = 0.5 * learning_rate_base * (1 + math.cos(
        math.pi * (step - warmup_steps - hold_base_rate_steps)
        / float(total_steps - warmup_steps - hold_base_rate_steps)))
    if hold_base_rate_steps > 0:
        rate = rate if step > warmup_steps + hold_base_rate_steps else learning_rate_base
    if warmup_steps > 0:
        slope = (learning_rate_base - warmup_learning_rate) / warmup_steps
        if step < warmup_steps:
            rate = slope * step + warmup_learning_rate
    return 0.0 if step > total_steps else rate


def build(text: str):
    """(optimizer, schedule) from an optimizer { ... } block, as train.py builds them."""
    return optimizer_from_proto(text_format.Parse(text, Optimizer()))


def rate_seen_by_optimizer(optimizer, variable, step: int) -> float:
    """The rate the optimizer applies at `step` (Keras sets it at the start of apply_gradients)."""
    optimizer.iterations.assign(step)
    optimizer.apply_gradients([(tf.zeros_like(variable), variable)])
    return float(optimizer.learning_rate)


def check(text: str, reference, steps) -> None:
    """Schedule and optimizer agree with `reference` at every step (float32: 2e-8 absolute,
    where the cosine's 1 + cos(x) cancels near the end of the schedule)."""
    optimizer, schedule = build(text)
    variable = tf.Variable([1.0, -2.0])
    for step in steps:
        want = reference(step)
        assert learning_rate_at(schedule, step) == pytest.approx(want, rel=1e-5, abs=2e-8), step
        assert rate_seen_by_optimizer(optimizer, variable, step) == pytest.approx(want, rel=1e-5, abs=2e-8), step


def test_constant_learning_rate():
    check("momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.0123 } } "
          "momentum_optimizer_value: 0.9 }",
          lambda step: 0.0123, [0, 1, 1000, 10 ** 6])


def test_classic_recipe_exponential_decay():
    """The classic ssd_mobilenet_v1_coco.config schedule (staircase by default)."""
    text = """rms_prop_optimizer {
      learning_rate { exponential_decay_learning_rate {
        initial_learning_rate: 0.004 decay_steps: 800720 decay_factor: 0.95 } }
      momentum_optimizer_value: 0.9 decay: 0.9 epsilon: 1.0 }"""
    check(text, lambda s: od_exponential_decay_with_burnin(s, 0.004, 800720, 0.95),
          [0, 1, 800719, 800720, 800721, 2 * 800720 + 5, 10 ** 7])


def test_exponential_decay_with_burnin_and_floor():
    text = """momentum_optimizer { momentum_optimizer_value: 0.9
      learning_rate { exponential_decay_learning_rate {
        initial_learning_rate: 0.08 decay_steps: 100 decay_factor: 0.5
        burnin_learning_rate: 0.01 burnin_steps: 30 min_learning_rate: 0.001 } } }"""
    ref = lambda s: od_exponential_decay_with_burnin(s, 0.08, 100, 0.5, 0.01, 30, 0.001)  # noqa: E731
    check(text, ref, [0, 1, 29, 30, 31, 129, 130, 131, 229, 230, 500, 1000, 5000])
    # Shape: burn-in, then full rate, halving every 100 steps, never below the floor.
    assert ref(29) == 0.01 and ref(30) == 0.08 and ref(130) == 0.04 and ref(5000) == 0.001


def test_exponential_decay_without_staircase_and_burnin_at_base_rate():
    text = """adam_optimizer { learning_rate { exponential_decay_learning_rate {
        initial_learning_rate: 0.002 decay_steps: 50 decay_factor: 0.9 staircase: false
        burnin_steps: 10 } } }"""
    check(text, lambda s: od_exponential_decay_with_burnin(s, 0.002, 50, 0.9, 0.0, 10, 0.0, False),
          [0, 9, 10, 11, 37, 60, 61, 333])


def test_exponential_decay_floor_also_bounds_the_burnin_rate():
    text = """momentum_optimizer { learning_rate { exponential_decay_learning_rate {
        initial_learning_rate: 0.1 decay_steps: 100 decay_factor: 0.5
        burnin_learning_rate: 0.0001 burnin_steps: 20 min_learning_rate: 0.001 } } }"""
    check(text, lambda s: od_exponential_decay_with_burnin(s, 0.1, 100, 0.5, 0.0001, 20, 0.001),
          [0, 19, 20, 500])


def test_cosine_decay_with_warmup_as_in_the_shipped_config():
    text = """rms_prop_optimizer { momentum_optimizer_value: 0.9 decay: 0.9 epsilon: 1.0
      learning_rate { cosine_decay_learning_rate {
        learning_rate_base: 0.004 total_steps: 20000
        warmup_learning_rate: 0.0004 warmup_steps: 500 } } }"""
    ref = lambda s: od_cosine_decay_with_warmup(s, 0.004, 20000, 0.0004, 500)  # noqa: E731
    check(text, ref, [0, 1, 250, 499, 500, 501, 5000, 10250, 19999, 20000, 20001, 40000])
    assert ref(0) == 0.0004 and ref(500) == 0.004 and ref(10250) == pytest.approx(0.002)
    assert ref(20001) == 0.0


def test_cosine_decay_with_hold_and_no_warmup():
    text = """momentum_optimizer { learning_rate { cosine_decay_learning_rate {
        learning_rate_base: 0.2 total_steps: 1000 hold_base_rate_steps: 100
        warmup_steps: 0 } } }"""
    check(text, lambda s: od_cosine_decay_with_warmup(s, 0.2, 1000, 0.0, 0, 100),
          [0, 50, 99, 100, 101, 550, 999, 1000, 1001])


def test_cosine_decay_with_warmup_and_hold():
    text = """momentum_optimizer { learning_rate { cosine_decay_learning_rate {
        learning_rate_base: 0.04 total_steps: 2000 warmup_learning_rate: 0.001
        warmup_steps: 200 hold_base_rate_steps: 300 } } }"""
    check(text, lambda s: od_cosine_decay_with_warmup(s, 0.04, 2000, 0.001, 200, 300),
          [0, 100, 199, 200, 201, 499, 500, 501, 1250, 1999, 2000, 2001])
