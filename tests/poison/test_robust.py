"""Bagging's certified poisoning radius (Jia, Cao & Gong 2021) and retraining after removal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.robust import bagging, certified_radius, quarantined, vote_bounds


def _by_hand(p_a, p_b, n, k):
    """Theorem 1 evaluated at every n' in [n - r, n + r], r = 0, 1, ... (no shortcut)."""
    r = -1
    while r + 1 <= n:
        cand = r + 1
        worst = max((m / n) ** k - 2 * (max(m, n) - cand) ** k / n ** k
                    for m in range(n - cand, n + cand + 1))
        if worst + 1 - (p_a - p_b) >= 0:
            break
        r = cand
    return r


def test_radius_equals_the_hand_computation():
    # n = 10, k = 2, p_a = 1: r = 2 holds (1 - 2 * 0.64 < 0), r = 3 fails (1 - 2 * 0.49 > 0)
    assert certified_radius(1.0, 0.0, 10, 2) == 2
    for p_a, p_b, n, k in [(0.9, 0.1, 50, 5), (0.7, 0.3, 200, 10), (0.99, 0.01, 1000, 30),
                           (0.6, 0.2, 37, 3)]:
        assert certified_radius(p_a, p_b, n, k) == _by_hand(p_a, p_b, n, k)
    assert certified_radius(0.4, 0.4, 100, 5) == -1


def test_vote_bounds_are_the_simultaneous_clopper_pearson_bounds():
    label, p_a, p_b = vote_bounds([0, 1000, 0], alpha=0.003)
    assert label == 1 and p_a == pytest.approx(0.001 ** (1 / 1000))  # alpha / c = 0.001
    assert p_b == pytest.approx(1 - p_a)
    with pytest.raises(ValidationError, match="counts must be"):
        vote_bounds([5])


def test_radius_is_a_guarantee_for_a_majority_label_learner():
    """Base learner: the majority label of its subsample (exact probabilities by the
    binomial law); flipping r labels of the top class is the strongest attack on it."""
    from scipy import stats

    n, k, ones = 30, 5, 24

    def p_one(count):  # P(majority of k draws is 1), k odd
        return float(stats.binom.sf(k // 2, k, count / n))

    p_a = p_one(ones)
    r = certified_radius(p_a, 1 - p_a, n, k)
    assert r >= 1
    assert p_one(ones - r) > 0.5  # still predicts 1 after r flips


def test_bagging_certifies_easy_rows_and_abstains_on_the_boundary():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)); y = (X[:, 0] > 0).astype(int)
    ens = bagging(lambda X, y: LogisticRegression().fit(X, y), models=40, sample_size=30,
                  seed=0)(X, y)
    labels, radii = ens.certify(np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 0.0]]))
    assert labels[:2].tolist() == [1, 0] and (radii[:2] > 0).all() and radii[2] == -1
    assert np.allclose(ens.predict_proba(X[:5]).sum(axis=1), 1)


def test_quarantined_retrains_without_the_top_rows():
    from sklearn.linear_model import LogisticRegression

    from shakeout.poison.scanners import RobustZScore

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(95, 2)), np.full((5, 2), 30.0)]
    y = np.r_[(X[:95, 0] > 0).astype(int), np.zeros(5, dtype=int)]
    seen = []

    def fit(X, y):
        seen.append(len(y))
        return LogisticRegression().fit(X, y)

    quarantined(fit, RobustZScore(), budget=0.05)(X, y)
    assert seen == [100, 95]
