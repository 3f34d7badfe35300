"""Coverage and calibration of the paired bootstrap and its m-out-of-n variant."""

import numpy as np
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.stats import BootstrapPlan, interval, p_value
from shakeout.stress.metrics import METRICS
from shakeout.stress.paired import paired_metrics

# 1,000 nominal-95% intervals should contain the truth 926 to 971 times (99.9% binomial band).
BAND_1000 = stats.binom.ppf([0.0005, 0.9995], 1000, 0.95)


def paired_outputs(n, rng, p_clean=0.9, p_lost=0.08, p_gained=0.02):
    """Labels and two sets of binary outputs whose true accuracy drop is p_lost - p_gained."""
    y = rng.integers(0, 2, n)
    right = rng.random(n) < p_clean
    u = rng.random(n)
    right_b = np.where(right, u >= p_lost / p_clean, u < p_gained / (1 - p_clean))
    def to_proba(correct):
        label = np.where(correct, y, 1 - y)
        return np.column_stack([1 - label, label]) * 0.8 + 0.1
    return y, to_proba(right), to_proba(right_b)


@pytest.mark.slow
def test_paired_interval_covers_true_accuracy_drop():
    truth = 0.08 - 0.02
    rng = np.random.default_rng(2024)
    hits = 0
    for trial in range(1000):
        y, a, b = paired_outputs(400, rng)
        pm = paired_metrics(y, a, b, [METRICS["accuracy"]], BootstrapPlan(n=400, n_boot=400, seed=trial))[0]
        hits += pm.change.ci[0] <= truth <= pm.change.ci[1]
    assert BAND_1000[0] <= hits <= BAND_1000[1], hits


@pytest.mark.slow
def test_m_out_of_n_interval_covers_truth_with_rescaling():
    """With 20x more rows than a resample holds, the rescaled interval keeps its coverage."""
    truth = 0.06
    rng = np.random.default_rng(7)
    hits, trials = 0, 300
    widths = []
    for trial in range(trials):
        y, a, b = paired_outputs(10_000, rng)
        plan = BootstrapPlan(n=10_000, n_boot=300, seed=trial, max_rows=500)
        ci = paired_metrics(y, a, b, [METRICS["accuracy"]], plan)[0].change.ci
        hits += ci[0] <= truth <= ci[1]
        widths.append(ci[1] - ci[0])
    lo, hi = stats.binom.ppf([0.0005, 0.9995], trials, 0.95)
    assert lo <= hits <= hi, hits
    # The interval has the width of n = 10,000 rows, not of the 500-row resamples.
    sd = np.sqrt((0.08 + 0.02 - truth**2) / 10_000)
    assert np.mean(widths) == pytest.approx(2 * 1.96 * sd, rel=0.1)


def test_percentile_interval_matches_normal_quantiles():
    reps = np.random.default_rng(0).normal(1.0, 2.0, 200_000)
    lo, hi = interval(1.0, reps, level=0.9)
    assert lo == pytest.approx(1 - 1.645 * 2, abs=0.03)
    assert hi == pytest.approx(1 + 1.645 * 2, abs=0.03)


def test_bootstrap_p_values_are_uniform_under_the_null():
    """Paired bootstrap p-values for a metric with no true change are roughly uniform."""
    rng = np.random.default_rng(3)
    ps = []
    for trial in range(200):
        y = rng.integers(0, 2, 300)
        pa, pb = rng.uniform(0.05, 0.95, (2, 300))  # both sides drawn from one law: no change
        a = np.column_stack([1 - pa, pa])
        b = np.column_stack([1 - pb, pb])
        pm = paired_metrics(y, a, b, [METRICS["log_loss"]], BootstrapPlan(n=300, n_boot=200, seed=trial))[0]
        ps.append(pm.change.p_value)
    assert stats.kstest(ps, "uniform").pvalue > 0.001
    rejections = int(np.sum(np.array(ps) < 0.05))
    assert rejections <= stats.binom.ppf(0.9995, 200, 0.05)


def test_p_value_never_zero():
    reps = np.zeros(99)
    assert p_value(5.0, reps) == pytest.approx(1 / 100)


def test_plan_replays_the_same_resamples():
    plan = BootstrapPlan(n=50, n_boot=130, seed=4)
    first = np.concatenate(list(plan.indices()))
    second = np.concatenate(list(plan.indices()))
    assert first.shape == (130, 50)
    np.testing.assert_array_equal(first, second)


def test_plan_rejects_bad_sizes():
    with pytest.raises(ValidationError, match="n_boot"):
        BootstrapPlan(n=10, n_boot=0)
    with pytest.raises(ValidationError, match="max_rows"):
        BootstrapPlan(n=10, max_rows=1)
