"""Calibration: ECE against a hand-written loop, the interval's coverage, temperature scaling."""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared bands
from calibration.bands import assert_in_band, coverage_band  # noqa: E402

from shakeout.errors import NotFittedError, ValidationError  # noqa: E402
from shakeout.models import wrap  # noqa: E402
from shakeout.uncertainty import TemperatureScaled, calibration, debiased_ece, ece  # noqa: E402

CALIBRATES = ("ece", "debiased_ece", "calibration", "TemperatureScaled")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


def _hand_ece(proba, y, n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        inside = [i for i in range(len(y)) if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if inside:
            acc = np.mean([pred[i] == y[i] for i in inside])
            total += len(inside) / len(y) * abs(acc - np.mean(conf[inside]))
    return total


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_equals_a_hand_written_loop(n_bins):
    rng = np.random.default_rng(n_bins)
    proba = rng.dirichlet(np.ones(3) * 0.5, size=400)
    proba[:5] = [0.7, 0.2, 0.1]  # on a bin edge
    y = rng.integers(0, 3, size=400)
    assert ece(proba, y, n_bins=n_bins) == pytest.approx(_hand_ece(proba, y, n_bins), abs=1e-12)


def _draw(rng, n, gap):
    """A binary model of confidence U(0.6, 1) right with probability confidence - gap: its
    true binned calibration error is ``gap`` for any binning."""
    conf = rng.uniform(0.6, 1.0, n)
    right = rng.random(n) < conf - gap
    return np.c_[conf, 1 - conf], np.where(right, 0, 1)


def test_debiased_ece_removes_most_of_the_plug_in_bias():
    rng = np.random.default_rng(0)
    draws = [_draw(rng, 500, 0.05) for _ in range(200)]
    plug = np.mean([ece(p, y) for p, y in draws])
    debiased = np.mean([debiased_ece(p, y) for p, y in draws])
    assert abs(debiased - 0.05) < abs(plug - 0.05) / 2


def _coverage(trials, n, gap, n_boot):
    rng = np.random.default_rng(int(gap * 1000) + n)
    covered = 0
    for t in range(trials):
        f = calibration(*_draw(rng, n, gap), n_boot=n_boot, seed=t)[0]
        covered += f.ci[0] <= gap <= f.ci[1]
    return covered


@pytest.mark.parametrize("gap", [0.0, 0.1])
def test_ece_interval_covers_the_true_calibration_error(gap):
    trials = 200
    assert_in_band(_coverage(trials, 400, gap, 200), coverage_band(trials, 0.95),
                   f"ECE intervals covering {gap}")


@pytest.mark.slow
@pytest.mark.parametrize("gap", [0.0, 0.03, 0.1])
def test_ece_interval_coverage_over_many_draws(gap):
    trials = 400
    assert_in_band(_coverage(trials, 1000, gap, 400), coverage_band(trials, 0.95),
                   f"ECE intervals covering {gap}")


def test_calibration_findings_flag_an_over_confident_model_and_draw_the_reliability_curve():
    rng = np.random.default_rng(1)
    found = calibration(*_draw(rng, 2000, 0.15), n_bins=10, n_boot=200, seed=0)
    e, bins = found[0], found[1:]
    assert e.status == "warn" and e.p_value < 0.01 and e.ci[0] > 0.1
    assert e.drill == "uncertainty" and e.metric == "ece" and e.group == "calibration"
    assert [f.group for f in bins] == ["reliability"] * 4
    assert all(f.severity is not None and f.ci[0] <= f.value <= f.ci[1] for f in bins)
    assert all(f.value < f.severity for f in bins)  # right less often than it claims
    assert sum(f.details["rows"] for f in bins) == 2000
    assert len({f.name for f in found}) == len(found)


def test_calibration_refuses_bad_input():
    p, y = _draw(np.random.default_rng(0), 50, 0.0)
    with pytest.raises(ValidationError, match="calibration: level must be in \\(0, 1\\), got 1.5"):
        calibration(p, y, level=1.5)
    with pytest.raises(ValidationError, match="proba contains NaN"):
        ece(np.where(np.arange(100).reshape(50, 2) == 3, np.nan, p), y)
    with pytest.raises(ValidationError, match="y must hold class indices 0 .. 1"):
        ece(p, y + 5)
    with pytest.raises(ValidationError, match="proba has 50 rows but y has 49"):
        ece(p, y[1:])
    with pytest.raises(ValidationError, match="n_bins must be"):
        ece(p, y, n_bins=0)


def _logistic_truth(rng, n):
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - X[:, 1])))).astype(int)
    return X, y


def test_temperature_scaling_recovers_the_temperature_and_reduces_ece():
    rng = np.random.default_rng(0)
    X, y = _logistic_truth(rng, 6000)
    fitted = LogisticRegression().fit(X, y)
    sure = wrap(lambda X: fitted.predict_proba(X * 4.0), task="classification")  # 4x too sharp
    scaled = TemperatureScaled(sure).fit(X[:3000], y[:3000])
    assert 3.4 < scaled.temperature_ < 4.6
    Xt, yt = X[3000:], y[3000:]
    before, after = ece(sure.predict_proba(Xt), yt), ece(scaled.predict_proba(Xt), yt)
    assert after < before / 3
    assert np.array_equal(scaled.predict(Xt), sure.predict(Xt))  # top class kept
    assert wrap(scaled) is scaled and scaled.task == "classification"


def test_temperature_minimises_the_negative_log_likelihood():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(4) * 0.3, size=500)
    y = np.array([rng.choice(4, p=row ** 0.5 / (row ** 0.5).sum()) for row in p])
    scaled = TemperatureScaled(wrap(lambda X: p[X[:, 0].astype(int)], task="classification"))
    X = np.arange(500)[:, None]
    scaled.fit(X, y)

    def nll(t):
        q = scaled.predict_proba(X) if t is None else _scaled(p, t)
        return -np.mean(np.log(q[np.arange(500), y]))

    grid = np.linspace(0.5, 5, 451)
    best = grid[np.argmin([nll(t) for t in grid])]
    assert abs(scaled.temperature_ - best) <= 0.01 + 1e-9
    assert nll(None) <= min(nll(t) for t in grid) + 1e-9


def _scaled(p, t):
    z = np.log(p) / t
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_scaling_refuses_what_it_cannot_fit():
    rng = np.random.default_rng(0)
    X, y = _logistic_truth(rng, 100)
    never_b = wrap(lambda X: np.tile([1.0, 0.0], (len(X), 1)), task="classification",
                   classes=["a", "b"])
    with pytest.raises(ValidationError, match=r"probability 0 to the true class of \d+ "
                                              r"calibration rows \(first: row \d+, class 'b'\)"):
        TemperatureScaled(never_b).fit(X, np.where(y == 1, "b", "a"))
    with pytest.raises(NotFittedError, match="call fit\\(X_calibration, y_calibration\\)"):
        TemperatureScaled(LogisticRegression().fit(X, y)).predict_proba(X)
    with pytest.raises(ValidationError, match="TemperatureScaled needs class probabilities, "
                                              "but <lambda> is a regressor"):
        TemperatureScaled(wrap(lambda X: X[:, 0], task="regression"))
    with pytest.raises(ValidationError, match="the model's probabilities contains NaN"):
        TemperatureScaled(wrap(lambda X: np.full((len(X), 2), np.nan),
                               task="classification")).fit(X, y)
