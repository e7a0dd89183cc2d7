"""Learning-rate schedules: hand-derived values, serialization and bad input."""

import math

import pytest

from danlu.optimizers import schedules


def test_exponential_and_inverse_time_decay():
    exp = schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    assert exp(0) == 0.1 and exp(2500) == pytest.approx(0.1 * 0.96**2.5)
    stair = schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96, staircase=True)
    assert stair(2500) == pytest.approx(0.1 * 0.96**2)
    inv = schedules.InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5)
    assert inv(4) == pytest.approx(1 / 2.0)
    assert schedules.InverseTimeDecay(1.0, 2, 0.5, staircase=True)(3) == pytest.approx(1 / 1.5)


def test_piecewise_constant_boundaries_are_inclusive_on_the_left_piece():
    pc = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pc(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]


def test_polynomial_decay_with_and_without_cycle():
    poly = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=2.0)
    assert poly(5) == pytest.approx(0.25) and poly(50) == 0.0
    cyc = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert cyc(15) == pytest.approx(1 - 15 / 20)  # horizon grows to 20


def test_cosine_decay_with_warmup_and_restarts():
    cos = schedules.CosineDecay(1.0, 10, alpha=0.1)
    assert cos(0) == 1.0 and cos(10) == pytest.approx(0.1) and cos(5) == pytest.approx(0.55)
    warm = schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    assert warm(2) == pytest.approx(0.5) and warm(4) == pytest.approx(1.0) and warm(9) == pytest.approx(0.5)
    sgdr = schedules.CosineDecayRestarts(1.0, 4, t_mul=2.0, m_mul=0.5)
    assert sgdr(4) == pytest.approx(0.5)  # the second period starts at half the rate
    assert sgdr(8) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_schedules_serialize_round_trip():
    for schedule in (
        schedules.ExponentialDecay(0.1, 100, 0.9), schedules.PiecewiseConstantDecay([1], [0.1, 0.01]),
        schedules.PolynomialDecay(0.1, 100), schedules.InverseTimeDecay(0.1, 10, 0.5),
        schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5), schedules.CosineDecayRestarts(0.1, 10),
    ):
        restored = schedules.deserialize(schedules.serialize(schedule))
        assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
        assert restored(37) == schedule(37)


def test_schedule_bad_input():
    with pytest.raises(ValueError, match="decay_steps must be in \\(0, inf\\]"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="one element fewer"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="increasing"):
        schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match='Unknown learning rate schedule identifier \'CosineDecai\'. Did you mean "CosineDecay"'):
        schedules.deserialize({"class_name": "CosineDecai", "config": {}})
    with pytest.raises(NotImplementedError, match="must implement __call__"):
        schedules.LearningRateSchedule()(0)
