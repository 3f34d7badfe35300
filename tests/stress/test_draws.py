"""Repeated draws: common random numbers across severities, pooled metrics, warnings."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from shakeout import wrap
from shakeout.perturb import GaussianNoise, Scaling
from shakeout.stress import Sweep, run
from shakeout.stress.metrics import METRICS
from shakeout.stress.paired import Draws, compare_outputs, summarise
from shakeout.stats import BootstrapPlan


def test_gaussian_noise_grid_is_one_draw_scaled_and_equals_apply():
    X = np.random.default_rng(0).normal(size=(50, 3))
    noise = GaussianNoise().fit(X)
    rng = np.random.default_rng(7)
    outs = dict(noise.apply_grid(X, (0.1, 0.3), rng))
    np.testing.assert_allclose((outs[0.3] - X), 3 * (outs[0.1] - X), rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(outs[0.1], noise.apply(X, 0.1, np.random.default_rng(7)))


def test_default_grid_gives_every_severity_the_same_random_state():
    X = np.ones((20, 2))
    p = Scaling().fit(X)
    outs = dict(p.apply_grid(X, (0.1, 0.2), np.random.default_rng(3)))
    np.testing.assert_allclose(outs[0.2] - 1, 2 * (outs[0.1] - 1), atol=1e-6)


def test_pooled_metric_is_the_metric_of_all_rows_times_draws():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    clean = rng.dirichlet(np.ones(3), 200)
    draws = [rng.dirichlet(np.ones(3), 200) for _ in range(4)]
    metrics = [METRICS["accuracy"], METRICS["log_loss"]]
    plan = BootstrapPlan(n=200, n_boot=50)
    pms, _ = compare_outputs(y, summarise(y, clean, metrics, plan), draws, metrics, plan,
                             "classification", draws=Draws(count=4))
    pooled = np.concatenate(draws)
    assert pms[0].b.value == pytest.approx(accuracy_score(np.tile(y, 4), pooled.argmax(1)))
    assert pms[0].change.value == pytest.approx(pms[0].a.value - pms[0].b.value)


def test_more_draws_narrow_the_curve_and_seed_fixes_it():
    rng = np.random.default_rng(0)
    X = rng.random((300, 1))
    y = (X[:, 0] > 0.5).astype(int)
    model = wrap(lambda Z: np.column_stack([1 - (Z[:, 0] > 0.5), Z[:, 0] > 0.5]) * 0.8 + 0.1,
                 task="classification")
    sweep = lambda: [Sweep(GaussianNoise(relative=False), (0, 0.1))]  # noqa: E731
    one = run(model, X, y, sweeps=sweep(), sensitivity=False, n_bootstrap=200, repeats=1)
    five = run(model, X, y, sweeps=sweep(), sensitivity=False, n_bootstrap=200, repeats=5)
    again = run(model, X, y, sweeps=sweep(), sensitivity=False, n_bootstrap=200, repeats=5)
    acc = lambda r: [f for f in r.select(metric="accuracy") if f.severity == 0.1][0]  # noqa: E731
    assert acc(five).ci[1] - acc(five).ci[0] < acc(one).ci[1] - acc(one).ci[0]
    assert acc(five).value == acc(again).value and acc(five).ci == acc(again).ci
    assert acc(five).details["draws"] == 5


def test_model_side_perturbation_with_one_draw_warns():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from calibration.stress_cases import ThresholdShift, data, threshold_model

    X, y = data(50, np.random.default_rng(0))
    with pytest.warns(UserWarning, match="repeats=1 its intervals leave out"):
        run(threshold_model(), X, y, sweeps=[Sweep(ThresholdShift(), (0, 0.05))],
            sensitivity=False, n_bootstrap=50, repeats=1)
