"""Exact McNemar, Clopper-Pearson and multiple-testing control."""

import numpy as np
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.stats import adjust_p_values, clopper_pearson, mcnemar_exact
from shakeout.stress.metrics import METRICS
from shakeout.stress.paired import paired_metrics
from shakeout.stats import BootstrapPlan

NULL_BAND = (11, 42)  # rejections in 500 trials at alpha = 0.05 (99.9% binomial band)


def test_mcnemar_matches_binomial_test():
    for b, c in [(3, 9), (20, 5), (0, 7), (50, 50)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)


@pytest.mark.slow
def test_mcnemar_false_positive_rate_when_models_are_equally_good():
    """Two models with the same accuracy and exchangeable errors: reject about 5% of the time."""
    rng = np.random.default_rng(11)
    rejections = 0
    for _ in range(500):
        n = 600
        y = rng.integers(0, 3, n)
        # Each row: both right, both wrong, or exactly one right, with equal chances either way.
        kind = rng.choice(4, size=n, p=[0.6, 0.1, 0.15, 0.15])
        right_a = (kind == 0) | (kind == 2)
        right_b = (kind == 0) | (kind == 3)
        def proba(right):
            label = np.where(right, y, (y + 1) % 3)
            return np.eye(3)[label] * 0.7 + 0.1
        pm = paired_metrics(y, proba(right_a), proba(right_b), [METRICS["accuracy"]],
                            BootstrapPlan(n=n, n_boot=10, seed=0))[0]
        rejections += pm.change.p_value < 0.05
    assert NULL_BAND[0] <= rejections <= NULL_BAND[1], rejections


def test_identical_outputs_give_p_one():
    y = np.array([0, 1, 1, 0])
    a = np.eye(2)[[0, 1, 0, 0]]
    pm = paired_metrics(y, a, a.copy(), [METRICS["accuracy"]], BootstrapPlan(n=4, n_boot=10))[0]
    assert pm.change.p_value == 1.0 and pm.change.value == 0.0


def test_clopper_pearson_matches_beta_quantiles_and_edges():
    lo, hi = clopper_pearson(7, 20, 0.9)
    assert lo == pytest.approx(stats.beta.ppf(0.05, 7, 14))
    assert hi == pytest.approx(stats.beta.ppf(0.95, 8, 13))
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


@pytest.mark.slow
def test_clopper_pearson_coverage_is_at_least_nominal():
    rng = np.random.default_rng(5)
    p, n = 0.3, 80
    hits = sum(lo <= p <= hi for lo, hi in (clopper_pearson(int(k), n) for k in rng.binomial(n, p, 1000)))
    assert hits >= stats.binom.ppf(0.0005, 1000, 0.95)


def test_holm_and_bh_against_hand_computed_values():
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)


def test_holm_controls_family_wise_error_under_the_null():
    rng = np.random.default_rng(0)
    any_rejected = sum((adjust_p_values(rng.random(20), "holm") < 0.05).any() for _ in range(500))
    assert any_rejected <= NULL_BAND[1]


def test_adjust_rejects_bad_input():
    with pytest.raises(ValidationError, match="method"):
        adjust_p_values([0.1], "fdr")
    with pytest.raises(ValidationError, match="NaN"):
        adjust_p_values([0.1, float("nan")], "holm")
