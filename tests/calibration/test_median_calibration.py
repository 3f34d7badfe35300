"""The order-statistic median interval: exact coverage, and no interval where none exists."""

import numpy as np
import pytest

from calibration.bands import assert_in_band, coverage_band
from shakeout.stats.quantile import median_coverage, median_interval, median_interval_min_rows

CALIBRATES = ("median_interval",)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_no_interval_below_the_rows_a_level_needs(n):
    """The range of 3 values covers the median 75% of the time: it is not a 95% interval."""
    assert median_interval(np.arange(float(n)), 0.95) is None
    assert median_coverage(n, 1) < 0.95


def test_min_rows_is_where_the_interval_starts():
    for level in (0.8, 0.9, 0.95, 0.99):
        need = median_interval_min_rows(level)
        assert median_interval(np.arange(float(need)), level) is not None
        assert median_interval(np.arange(float(need - 1)), level) is None


def _coverage(n, trials, seed, draw):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        lo, hi = median_interval(draw(rng, n), 0.95)
        hits += lo <= 0.0 <= hi
    return hits


def _skewed(rng, n):  # exponential shifted so that its median is 0
    return rng.exponential(1.0, n) - np.log(2)


@pytest.mark.parametrize("n", [6, 10, 30])
def test_coverage_is_at_least_nominal_at_small_n(n):
    """Coverage is the exact binomial level (>= 95%), never below, for any continuous law."""
    trials = 400
    hits = _coverage(n, trials, n, _skewed)
    lo, _ = coverage_band(trials, 0.95)
    assert hits >= lo, hits


@pytest.mark.slow
@pytest.mark.parametrize("n", [6, 7, 12, 25, 200])
def test_coverage_matches_its_exact_level(n):
    trials = 2000
    v = np.arange(float(n))
    lo_val, hi_val = median_interval(v, 0.95)
    j = int(lo_val) + 1
    level = median_coverage(n, j)
    assert level >= 0.95
    hits = _coverage(n, trials, 100 + n, _skewed)
    assert_in_band(hits, coverage_band(trials, level), f"median interval coverage at n={n}")
