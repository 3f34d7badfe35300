"""Conformal coverage's verdict: the exchangeability test has its size at small and large n,
with tied scores and per class (Mondrian), through the public findings too; the rule it
replaced (the coverage interval lies below 1 - alpha) rejects about half the time at large n.

Under exchangeability the threshold is the ``k``-th smallest of ``n`` calibration scores,
``k = ceil((n + 1)(1 - alpha))``, so a new row is covered with probability ``F(S_(k))``;
each trial draws the calibration scores, then the covered count of ``m`` test rows.
"""

import numpy as np
import pytest

from calibration.bands import assert_in_band, rejection_band
from shakeout.stats import clopper_pearson
from shakeout.uncertainty._conformal_findings import exchangeability_p
from shakeout.uncertainty._conformal_scores import calibration_rank

CALIBRATES = ("exchangeability_p",)
ALPHA, LEVEL, TRIALS = 0.1, 0.95, 2000


def _covered(rng, trials, n, m, levels=None):
    """Covered counts of ``m`` test rows, one per calibration draw of ``n`` scores:
    continuous scores (uniform), or scores tied on ``levels`` equally likely values."""
    k = calibration_rank(n, ALPHA)
    if levels is None:
        chance = np.sort(rng.random((trials, n)), axis=1)[:, k - 1]
    else:
        q = np.sort(rng.integers(0, levels, (trials, n)), axis=1)[:, k - 1]
        chance = (q + 1) / levels  # a row is covered when its score is at most q
    return rng.binomial(m, chance)


def _critical(parts):
    """The largest covered count the test rejects (-1: none) and its exact size for
    continuous scores, found by bisection: the p-value grows with the count."""
    low, high = -1, sum(m for m, _ in parts)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if exchangeability_p(mid, parts, ALPHA) < 1 - LEVEL else (low, mid)
    return low, (exchangeability_p(low, parts, ALPHA) if low >= 0 else 0.0)


@pytest.mark.parametrize("n,m", [(19, 10), (30, 30), (200, 1000), (1000, 100_000)])
def test_size_with_continuous_scores(n, m):
    counts = _covered(np.random.default_rng(n + m), TRIALS, n, m)
    cut, size = _critical([(m, n)])
    assert size <= 1 - LEVEL
    assert_in_band(int(np.sum(counts <= cut)), rejection_band(TRIALS, size),
                   f"rejections at n={n}, m={m}")


@pytest.mark.parametrize("n,m", [(50, 200), (1000, 50_000)])
def test_tied_scores_keep_the_size(n, m):
    counts = _covered(np.random.default_rng(m), TRIALS, n, m, levels=5)
    cut, _ = _critical([(m, n)])
    assert np.sum(counts <= cut) <= rejection_band(TRIALS, 1 - LEVEL)[1]


def test_size_per_class_groups_mondrian():
    """Two classes calibrated apart: their counts add, and the test of the sum has its size."""
    rng = np.random.default_rng(5)
    parts = [(300, 60), (100, 250)]
    counts = sum(_covered(rng, TRIALS, n, m) for m, n in parts)
    cut, size = _critical(parts)
    assert_in_band(int(np.sum(counts <= cut)), rejection_band(TRIALS, size),
                   "Mondrian rejections")


def test_the_interval_rule_it_replaced_rejects_half_the_time_at_large_n():
    n, m = 1000, 100_000
    counts = _covered(np.random.default_rng(9), 400, n, m)
    rejected = sum(clopper_pearson(int(c), m, LEVEL)[1] < 1 - ALPHA for c in counts)
    assert rejected > rejection_band(400, 1 - LEVEL)[1] * 3


def test_coverage_findings_fail_at_the_size_on_exchangeable_rows():
    """Through the public API: a calibrated classifier on fresh rows of the same law."""
    from shakeout.uncertainty import ConformalClassifier, coverage_findings

    rng = np.random.default_rng(3)
    weights = rng.normal(size=(4, 3))

    def model(X):
        z = np.exp(X @ weights)
        return z / z.sum(axis=1, keepdims=True)

    def rows(k):
        X = rng.normal(size=(k, 4))
        chance = model(X)
        return X, (chance.cumsum(axis=1) < rng.random((k, 1))).sum(axis=1)

    trials, failed = 300, 0
    for _ in range(trials):
        predictor = ConformalClassifier(model, alpha=ALPHA).fit(*rows(100))
        failed += coverage_findings(predictor, *rows(2000))[0].status == "fail"
    assert_in_band(failed, rejection_band(trials, 1 - LEVEL), "coverage fails")
