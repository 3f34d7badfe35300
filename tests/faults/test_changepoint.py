"""Change-point tests: size on series without change, power on a step, step versus gradual,
and the statistics against scipy's."""

import numpy as np
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.faults.changepoint import change_point
from calibration.bands import assert_in_band, rejection_band

CALIBRATES = ("change_point", "ChangePoint")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

TRIALS, ALPHA, B, N = 500, 0.05, 199, 20


def _step(rng, n=N, at=10, size=3.0):
    return rng.normal(size=n) + size * (np.arange(n) >= at)


def test_no_change_rejection_rate_is_in_its_binomial_band():
    rng = np.random.default_rng(1)
    rejected = sum(change_point(rng.normal(size=N), n_permutations=B, seed=rng).p_value <= ALPHA
                   for _ in range(TRIALS))
    assert_in_band(rejected, rejection_band(TRIALS, ALPHA), "change-point test, no change")


def test_no_change_rejection_rate_holds_for_skewed_short_series():
    rng = np.random.default_rng(2)
    rejected = sum(change_point(rng.exponential(size=12), n_permutations=B, seed=rng).p_value
                   <= ALPHA for _ in range(TRIALS))
    assert_in_band(rejected, rejection_band(TRIALS, ALPHA), "change-point test, skewed, n=12")


def test_a_three_sd_step_is_found_and_placed():
    rng = np.random.default_rng(3)
    cps = [change_point(_step(rng, at=12), n_permutations=B, seed=rng) for _ in range(200)]
    assert np.mean([cp.p_value <= ALPHA for cp in cps]) >= 0.9
    assert np.mean([cp.index == 12 for cp in cps]) >= 0.8


def test_a_linear_trend_is_not_called_a_step_beyond_the_nominal_rate():
    """The step-versus-trend p-value under a linear trend (its null): rejections in band."""
    rng = np.random.default_rng(4)
    trend = np.linspace(0.0, 3.0, N)
    called_step = sum(change_point(trend + rng.normal(size=N), n_permutations=B,
                                   seed=rng).step_p_value <= ALPHA for _ in range(TRIALS))
    assert_in_band(called_step, rejection_band(TRIALS, ALPHA), "step p-value, linear trend")


def test_steps_are_called_steps_and_trends_gradual():
    rng = np.random.default_rng(5)
    steps = [change_point(_step(rng, size=4.0), n_permutations=B, seed=rng).shape(ALPHA)
             for _ in range(200)]
    trends = [change_point(np.linspace(0, 4, N) + rng.normal(size=N), n_permutations=B,
                           seed=rng).shape(ALPHA) for _ in range(200)]
    assert steps.count("step") >= 180
    assert trends.count("gradual") >= 170


def test_statistic_is_the_squared_two_sample_t_at_the_break_and_the_slope_scipys():
    rng = np.random.default_rng(6)
    y = _step(rng, size=1.5)
    cp = change_point(y, n_permutations=99)
    t = stats.ttest_ind(y[cp.index:], y[:cp.index]).statistic
    n = len(y)
    assert (n - 2) * cp.statistic / cp.rss_step == pytest.approx(t**2)
    fit = stats.linregress(np.arange(n), y)
    assert cp.slope == pytest.approx(fit.slope)
    assert cp.rss_linear == pytest.approx(np.sum((y - fit.intercept - fit.slope * np.arange(n))**2))
    assert cp.change == pytest.approx(y[cp.index:].mean() - y[:cp.index].mean())
    splits = [stats.ttest_ind(y[k:], y[:k]).statistic ** 2 for k in range(1, n)]
    assert cp.index == int(np.argmax(splits)) + 1  # the break maximises |t|


def test_same_seed_same_numbers_and_a_constant_series_has_no_change():
    y = _step(np.random.default_rng(7), size=1.0)
    assert change_point(y, seed=3) == change_point(y, seed=3)
    flat = change_point(np.full(6, 2.5))
    assert (flat.p_value, flat.shape(), flat.change) == (1.0, "none", 0.0)


def test_a_noiseless_step_is_a_step_and_a_noiseless_line_gradual():
    assert change_point(np.r_[np.zeros(5), np.ones(5)], n_permutations=99).shape() == "step"
    assert change_point(np.arange(10.0), n_permutations=99).shape() == "gradual"


@pytest.mark.parametrize(("values", "kwargs", "match"), [
    ([1.0, 2.0, 3.0], {}, "at least 4 windows"),
    ([1.0, np.nan, 3.0, 4.0], {}, "NaN"),
    ([1.0, 2.0, 3.0, 4.0], {"n_permutations": 0}, "n_permutations"),
    ([1.0, 2.0, 3.0, 4.0], {"seed": -1}, "seed"),
])
def test_bad_input_is_named(values, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        change_point(values, **kwargs)
