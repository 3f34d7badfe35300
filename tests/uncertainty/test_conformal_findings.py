"""Findings of conformal predictors: coverage with its exact interval (scipy's), mean set size
and width with Student-t intervals (scipy's), per class, per perturbation severity."""

import numpy as np
import pytest
from scipy import stats

from conformal_cases import BIASED, CLASSIFIER, REGRESSOR, class_data, reg_data
from shakeout.errors import NotFittedError, ValidationError
from shakeout.perturb import GaussianNoise, WeightNoise
from shakeout.uncertainty.conformal import (ConformalClassifier, ConformalRegressor,
                                            coverage_at, coverage_findings,
                                            coverage_under_stress)

CALIBRATES = ("coverage_findings", "coverage_at", "coverage_under_stress")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


def _fitted(model=CLASSIFIER, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    X, y = class_data(500, rng)
    Xt, yt = class_data(1000, rng)
    return ConformalClassifier(model, **kwargs).fit(X, y), Xt, yt


def test_coverage_and_set_size_equal_scipy():
    cp, Xt, yt = _fitted(alpha=0.1)
    cov, size, *per_class = coverage_findings(cp, Xt, yt, level=0.9)
    sets = cp.predict(Xt)
    hits = sets[np.arange(len(yt)), yt]
    exact = stats.binomtest(int(hits.sum()), len(hits)).proportion_ci(0.9, method="exact")
    assert cov.value == hits.mean() and cov.ci == pytest.approx((exact.low, exact.high))
    sizes = sets.sum(axis=1)
    t = stats.t.interval(0.9, len(sizes) - 1, loc=sizes.mean(), scale=stats.sem(sizes))
    assert size.value == sizes.mean() and size.ci == pytest.approx(t)
    assert size.details["size_counts"] == np.bincount(sizes).tolist()
    assert [f.name for f in per_class] == [
        f"uncertainty/conformal/class_coverage/{c}" for c in range(3)]
    assert [f.details["class"] for f in per_class] == ["0", "1", "2"]
    for c, f in enumerate(per_class):
        assert f.value == hits[yt == c].mean()
    assert {(f.drill, f.group) for f in (cov, size, *per_class)} == {("uncertainty", "conformal")}
    assert cov.status == "pass" and cov.details["upper_bound"] == pytest.approx(0.9 + 1 / 501)


def test_a_class_below_target_warns_under_marginal_calibration_and_passes_under_mondrian():
    cp, Xt, yt = _fitted(BIASED, alpha=0.1)
    per_class = coverage_findings(cp, Xt, yt)[2:]
    assert [f.status for f in per_class] == ["pass", "pass", "warn"]
    assert "mondrian=True calibrates each class" in per_class[2].message
    mondrian, Xt, yt = _fitted(BIASED, alpha=0.1, mondrian=True)
    judged = [f for f in coverage_findings(mondrian, Xt, yt) if "coverage" in f.metric]
    assert [f.status for f in judged] == ["pass"] * 4


def test_coverage_fails_when_test_rows_are_not_exchangeable():
    rng = np.random.default_rng(1)
    X, y = reg_data(500, rng)
    Xt, yt = reg_data(2000, rng, shift=1.5)
    cov, width = coverage_findings(ConformalRegressor(REGRESSOR).fit(X, y), Xt, yt)
    assert cov.status == "fail" and cov.ci[1] < 0.9
    assert width.metric == "interval_width" and width.ci[0] == pytest.approx(width.value)
    assert width.name == "uncertainty/conformal/interval_width"


def test_weighted_intervals_may_be_infinite_and_say_so():
    rng = np.random.default_rng(2)
    X, y = reg_data(30, rng)
    Xt, yt = reg_data(200, rng, shift=3.0)
    cr = ConformalRegressor(REGRESSOR, shift=lambda Z: np.exp(3 * Z[:, 0] - 4.5)).fit(X, y)
    iv = cr.predict(Xt)
    width = coverage_findings(cr, Xt, yt)[1]
    share = float(np.mean(np.isinf(iv[:, 1])))
    assert 0 < share and width.details["infinite_share"] == share and width.ci is None


def test_stress_severity_zero_is_the_clean_finding_and_noise_lowers_coverage():
    cp, Xt, yt = _fitted(alpha=0.1)
    clean = coverage_findings(cp, Xt, yt)
    fs = coverage_under_stress(cp, Xt, yt, GaussianNoise(), [0.0, 0.5, 2.0], seed=3)
    assert [f.name for f in fs[:2]] == ["uncertainty/conformal/gaussian_noise/coverage@0",
                                        "uncertainty/conformal/gaussian_noise/set_size@0"]
    assert fs[0].value == clean[0].value and fs[1].value == clean[1].value
    cov = [f for f in fs if f.metric == "coverage"]
    assert [f.severity for f in cov] == [0.0, 0.5, 2.0]
    assert cov[0].value > cov[1].value > cov[2].value and cov[2].status == "fail"
    assert cov[2].unit == GaussianNoise().unit and cov[2].group == "conformal"
    again = coverage_under_stress(cp, Xt, yt, GaussianNoise(), [0.0, 0.5, 2.0], seed=3)
    assert [f.value for f in again] == [f.value for f in fs]


def test_one_point_of_a_sweep_that_perturbs_the_rows_itself():
    cp, Xt, yt = _fitted(alpha=0.1)
    noise = GaussianNoise().fit(Xt)
    rng = np.random.default_rng(0).spawn(2)[1]
    point = coverage_at(cp, noise.apply(Xt, 0.5, rng), yt, noise, 0.5)
    grid = coverage_under_stress(cp, Xt, yt, noise, [0.0, 0.5], seed=0)[2:]
    assert [(f.name, f.value, f.severity) for f in point] == [
        (f.name, f.value, f.severity) for f in grid]


def test_bad_input_to_the_findings_is_named():
    cp, Xt, yt = _fitted()
    with pytest.raises(NotFittedError, match="call fit"):
        coverage_findings(ConformalClassifier(CLASSIFIER), Xt, yt)
    with pytest.raises(ValidationError, match="level must be in"):
        coverage_findings(cp, Xt, yt, level=95)
    with pytest.raises(ValidationError, match="must be an input perturbation.*got 'model'"):
        coverage_under_stress(cp, Xt, yt, WeightNoise())
    with pytest.raises(ValidationError, match="unknown perturbation 'blur'"):
        coverage_under_stress(cp, Xt, yt, "blur")
    with pytest.raises(ValidationError, match="severities must be strictly increasing"):
        coverage_under_stress(cp, Xt, yt, GaussianNoise(), [0.5, 0.1])
    with pytest.raises(ValidationError, match="X has 1000 rows but y has 999"):
        coverage_findings(cp, Xt, yt[:-1])
