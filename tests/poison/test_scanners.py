"""Tabular scanners: scores equal scikit-learn's and scipy's, the methods' own rules flag at
their known null rates, batches and subsamples change nothing they should not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.poison.scanners import (IsolationForestScanner, LOFScanner, RobustMahalanobis,
                                      RobustZScore, Scanner, TukeyIQR, fit_rows)

CALIBRATES = ("RobustZScore", "TukeyIQR", "RobustMahalanobis", "IsolationForestScanner",
              "LOFScanner")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

ALL = (RobustZScore, TukeyIQR, RobustMahalanobis, IsolationForestScanner, LOFScanner)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.r_[rng.normal(size=(300, 4)), rng.normal(5.0, 0.5, size=(6, 4))]


def test_robust_z_is_the_scaled_mad_z_of_scipy(X):
    scanner = RobustZScore()
    z = np.abs(X - np.median(X, axis=0)) / stats.median_abs_deviation(X, scale="normal")
    np.testing.assert_allclose(scanner.scores(X), z.max(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(scanner.feature_, z.argmax(axis=1))


def test_tukey_score_crosses_k_exactly_outside_the_fences(X):
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    iqr = stats.iqr(X, axis=0)
    outside = ((X < q1 - 1.5 * iqr) | (X > q3 + 1.5 * iqr)).any(axis=1)
    scanner = TukeyIQR()
    s = scanner.scores(X)
    np.testing.assert_array_equal(s > scanner.threshold, outside)
    np.testing.assert_allclose(s, (np.maximum(q1 - X, X - q3) / iqr).max(axis=1), rtol=1e-12)


def test_robust_z_null_rate_is_the_normal_tail():
    """One normal feature: |z| > 3.5 has probability 2 (1 - Phi(3.5)) = 4.65e-4; 200,000
    rows flag 93 expected, 99.9% binomial band [64, 125]."""
    x = np.random.default_rng(0).normal(size=(200_000, 1))
    flagged = int(np.sum(RobustZScore().scores(x) > 3.5))
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 200_000, 2 * stats.norm.sf(3.5))
    assert lo <= flagged <= hi


def test_zero_mad_and_constant_features_stay_finite():
    X = np.c_[np.r_[np.zeros(9), 4.0], np.full(10, 3.0), np.arange(10.0)]
    for scanner in (RobustZScore(), TukeyIQR()):
        s = scanner.scores(X)
        assert np.isfinite(s).all()
        assert int(np.argmax(s)) == 9 and scanner.feature_[9] == 0


@pytest.mark.parametrize("cls", [RobustMahalanobis, IsolationForestScanner])
def test_seeded_detectors_equal_scikit_learn(cls, X):
    from sklearn.covariance import MinCovDet
    from sklearn.ensemble import IsolationForest

    s = cls(seed=3).scores(X)
    if cls is RobustMahalanobis:
        expected = MinCovDet(random_state=3).fit(X).mahalanobis(X)
    else:
        expected = -IsolationForest(random_state=3).fit(X).score_samples(X)
    np.testing.assert_array_equal(s, expected)


def test_lof_equals_scikit_learn(X):
    from sklearn.neighbors import LocalOutlierFactor

    expected = -LocalOutlierFactor(n_neighbors=20).fit(X).negative_outlier_factor_
    np.testing.assert_array_equal(LOFScanner().scores(X), expected)


def test_subsampled_fits_score_every_row_as_scikit_learn_would(X):
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    rows = fit_rows(len(X), 100, np.random.default_rng(5))
    forest = IsolationForest(random_state=5).fit(X[rows])
    np.testing.assert_array_equal(
        IsolationForestScanner(max_fit_rows=100, batch_size=37, seed=5).scores(X),
        -forest.score_samples(X))
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(X[rows])
    expected = -lof.score_samples(X)
    expected[rows] = -lof.negative_outlier_factor_
    np.testing.assert_allclose(LOFScanner(max_fit_rows=100, batch_size=37, seed=5).scores(X),
                               expected, rtol=1e-12)


@pytest.mark.parametrize("cls", [RobustZScore, TukeyIQR, RobustMahalanobis])
def test_batches_change_nothing(cls, X):
    np.testing.assert_allclose(cls(batch_size=7).scores(X), cls(batch_size=10_000).scores(X),
                               rtol=1e-12)


def test_mcd_rule_flags_about_its_nominal_share():
    """Normal rows in 3 dimensions: the chi-square 97.5% cut on the consistency-corrected
    MCD distances flags about 2.5% (Rousseeuw & Van Driessen 1999)."""
    x = np.random.default_rng(2).normal(size=(4_000, 3))
    scanner = RobustMahalanobis(seed=0)
    share = np.mean(scanner.scores(x) > scanner.threshold)
    assert 0.015 <= share <= 0.04


@pytest.mark.parametrize("cls", ALL)
def test_planted_outliers_rank_first(cls, X):
    s = cls().scores(X)
    assert set(np.argsort(-s)[:6]) == set(range(300, 306))
    assert isinstance(cls(), Scanner)
    assert cls().needs == ()


def test_seed_repeats_and_changes():
    x = np.random.default_rng(0).normal(size=(200, 3))
    a, b = IsolationForestScanner(seed=1).scores(x), IsolationForestScanner(seed=1).scores(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, IsolationForestScanner(seed=2).scores(x))


def test_frames_and_reasons_name_features():
    frame = pd.DataFrame({"age": [30.0, 31, 29, 30, 90], "ok": [True, False, True, True, False]})
    scanner = RobustZScore()
    s = scanner.scores(frame)
    assert scanner.reasons(s, 4) == [f"age at {s[4]:.1f} robust z"]
    assert IsolationForestScanner().reasons(np.array([0.61]), 0) == ["isolation forest score 0.61"]


@pytest.mark.parametrize(("make", "data", "match"), [
    (RobustZScore, pd.DataFrame({"c": ["a", "b"]}), "column 'c' is not numeric"),
    (TukeyIQR, np.array([[1.0], [np.nan]]), "NaN or inf"),
    (RobustZScore, np.empty((0, 3)), "is empty"),
    (LOFScanner, np.ones((1, 2)), "at least 2 rows"),
    (RobustMahalanobis, np.random.default_rng(0).normal(size=(4, 5)), "more rows than features"),
])
def test_bad_data_is_named(make, data, match):
    with pytest.raises(ValidationError, match=match):
        make().scores(data)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: TukeyIQR(k=0), "k must be in"),
    (lambda: RobustZScore(batch_size=0), "batch_size"),
    (lambda: LOFScanner(n_neighbors=0), "n_neighbors"),
    (lambda: IsolationForestScanner(seed=-1), "seed must be"),
    (lambda: RobustMahalanobis(max_fit_rows=1), "max_fit_rows"),
])
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_reasons_before_scores():
    from shakeout.errors import NotFittedError

    with pytest.raises(NotFittedError, match="call scores"):
        RobustZScore().reasons(np.zeros(1), 0)
