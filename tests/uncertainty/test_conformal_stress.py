"""A fitted conformal predictor's coverage and set size inside the stress drill."""

import numpy as np
import pytest

from conformal_cases import CLASSIFIER, REGRESSOR, class_data, model_proba, reg_data
from shakeout import stress
from shakeout.errors import NotFittedError, ValidationError
from shakeout.models import wrap
from shakeout.perturb import GaussianNoise
from shakeout.stress import Sweep
from shakeout.uncertainty.conformal import (ConformalClassifier, ConformalRegressor,
                                            coverage_findings)


class RecordedNoise(GaussianNoise):
    """Gaussian noise that keeps what it applied, to count coverage on the very same rows."""

    def __init__(self):
        super().__init__()
        self.applied = []

    def apply_grid(self, X, severities, rng, **_):  # new arrays, not the sweep's spares
        for severity, Xp in super().apply_grid(X, severities, rng):
            self.applied.append((severity, Xp))
            yield severity, Xp


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(7)
    return class_data(400, rng), class_data(300, rng)


def _run(model, X, y, metrics, sweep, repeats=1):
    return stress.run(model, X, y, sweeps=[sweep], metrics=metrics, n_bootstrap=200,
                      repeats=repeats, sensitivity=False, batch_size=len(y), seed=3)


def _at(result, metric):
    return {f.severity: f for f in result.findings if f.metric == metric}


@pytest.mark.parametrize("options", [{}, {"score": "aps"}, {"mondrian": True}])
def test_clean_coverage_and_set_size_equal_coverage_findings(rows, options):
    (Xc, yc), (Xt, yt) = rows
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1, **options).fit(Xc, yc)
    result = _run(CLASSIFIER, Xt, yt, ["accuracy", *cp.stress_metrics()],
                  Sweep(GaussianNoise(), (0, 0.5)))
    cov, size = coverage_findings(cp, Xt, yt)[:2]
    assert _at(result, "coverage")[0.0].value == cov.value
    assert _at(result, "set_size")[0.0].value == pytest.approx(size.value, abs=1e-12)
    low, high = _at(result, "coverage")[0.0].ci
    assert low <= cov.value <= high


@pytest.mark.parametrize("repeats", [1, 3])
def test_coverage_under_noise_is_the_count_over_the_perturbed_rows(rows, repeats):
    (Xc, yc), (Xt, yt) = rows
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1, score="aps").fit(Xc, yc)
    noise = RecordedNoise()
    result = _run(CLASSIFIER, Xt, yt, ["accuracy", *cp.stress_metrics()],
                  Sweep(noise, (0, 0.3, 1.0)), repeats=repeats)
    cov, size = _at(result, "coverage"), _at(result, "set_size")
    for sev in (0.3, 1.0):
        sets = [cp.predict(Xp) for s, Xp in noise.applied if s == sev]
        assert len(sets) == repeats
        hits = sum(int(s[np.arange(len(yt)), yt].sum()) for s in sets)
        assert cov[sev].value == hits / (len(yt) * repeats)
        assert size[sev].value == pytest.approx(
            sum(int(s.sum()) for s in sets) / (len(yt) * repeats), abs=1e-12)
        assert cov[sev].ci[0] <= cov[sev].value <= cov[sev].ci[1]
    drop = _at(result, "coverage_drop")[1.0]
    assert drop.value == pytest.approx(cov[0.0].value - cov[1.0].value, abs=1e-12)
    assert drop.value > 0 and drop.ci[0] > 0  # noise of one feature spread breaks the promise


def test_a_regressor_coverage_runs_in_the_stress_drill():
    rng = np.random.default_rng(1)
    (Xc, yc), (Xt, yt) = reg_data(300, rng), reg_data(300, rng)
    cr = ConformalRegressor(REGRESSOR, alpha=0.1).fit(Xc, yc)
    result = _run(REGRESSOR, Xt, yt, ["mae", *cr.stress_metrics()],
                  Sweep(GaussianNoise(), (0, 1.0)))
    cov = _at(result, "coverage")
    assert cov[0.0].value == coverage_findings(cr, Xt, yt)[0].value
    assert cov[1.0].value < cov[0.0].value


def test_a_regressor_metric_on_a_classifier_is_refused(rows):
    (_, _), (Xt, yt) = rows
    rng = np.random.default_rng(1)
    cr = ConformalRegressor(REGRESSOR, alpha=0.1).fit(*reg_data(100, rng))
    with pytest.raises(ValidationError, match=r"metric 'coverage' is for regression, but the "
                                              r"model is a classification model"):
        _run(CLASSIFIER, Xt, yt, ["accuracy", *cr.stress_metrics()],
             Sweep(GaussianNoise(), (0, 0.5)))


def test_a_model_with_other_classes_is_refused(rows):
    (Xc, yc), (Xt, yt) = rows
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1).fit(Xc, yc)
    two = wrap(lambda X: np.tile([0.4, 0.6], (len(X), 1)), task="classification")
    with pytest.raises(ValidationError, match=r"calibrated on a model with 3 classes, but the "
                                              r"stress model outputs shape \(300, 2\)"):
        _run(two, Xt, yt % 2, ["accuracy", *cp.stress_metrics()],
             Sweep(GaussianNoise(), (0, 0.5)))


@pytest.mark.parametrize("make, match", [
    (lambda Xc, yc: ConformalClassifier(CLASSIFIER, score="aps", randomized=True).fit(Xc, yc),
     r"randomized APS draws a u per row.*coverage_under_stress"),
    (lambda Xc, yc: ConformalClassifier(CLASSIFIER, shift=lambda X: np.ones(len(X))).fit(
        Xc, yc), r"one threshold per row.*coverage_under_stress"),
    (lambda Xc, yc: ConformalRegressor(
        lambda X: (X[:, 0] - 1, X[:, 0] + 1), score="cqr").fit(Xc, yc.astype(float)),
     r"score='cqr' intervals come from the quantile models"),
])
def test_predictors_whose_sets_need_more_than_the_outputs_are_refused(rows, make, match):
    (Xc, yc), _ = rows
    with pytest.raises(ValidationError, match=match):
        make(Xc, yc).stress_metrics()


def test_an_unfitted_predictor_has_no_stress_metrics():
    with pytest.raises(NotFittedError, match=r"call fit"):
        ConformalClassifier(CLASSIFIER).stress_metrics()


@pytest.mark.slow
def test_the_clean_coverage_interval_covers_the_predictors_true_coverage():
    """400 test samples against one calibration: the drill's nominal-95% interval holds the
    predictor's coverage (its conditional coverage, from 400,000 fresh rows) 366 to 394 times
    (the 99.9% binomial band)."""
    rng = np.random.default_rng(11)
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1).fit(*class_data(200, rng))
    coverage = cp.stress_metrics()[0]
    X_big, y_big = class_data(400_000, rng)
    truth = coverage.value(y_big, model_proba(X_big))
    hits = 0
    for trial in range(400):
        X, y = class_data(300, rng)
        result = stress.run(CLASSIFIER, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1))],
                            metrics=[coverage], n_bootstrap=200, repeats=1, sensitivity=False,
                            seed=trial)
        low, high = _at(result, "coverage")[0.0].ci
        hits += low <= truth <= high
    assert 366 <= hits <= 394
