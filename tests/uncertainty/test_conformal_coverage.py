"""Split-conformal coverage over many calibration draws: in [1 - alpha, 1 - alpha + 1/(n+1)].

Each draw takes fresh exchangeable calibration and test rows; the mean coverage over draws
must fall in the finite-sample band widened by 3.29 standard errors of that mean (a
calibrated method leaves it one time in a thousand). The fast versions run unmarked; the
full replications (more draws, more sizes) are ``slow``.
"""

import numpy as np
import pytest

from conformal_cases import (BIASED, CLASSIFIER, REGRESSOR, class_data, mean_coverage_band,
                             reg_data, reg_quantiles, shift_ratio)
from shakeout.uncertainty.conformal import ConformalClassifier, ConformalRegressor

CALIBRATES = ("ConformalClassifier", "ConformalRegressor")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

N_TEST = 400


def _class_coverage(draws, n, alpha, seed, model=CLASSIFIER, **kwargs):
    """Per draw: the share of test rows covered, and per class the share and n of that class."""
    rng = np.random.default_rng(seed)
    covered, per_class = [], []
    for _ in range(draws):
        X, y = class_data(n, rng)
        Xt, yt = class_data(N_TEST, rng)
        cp = ConformalClassifier(model, alpha=alpha, **kwargs).fit(X, y, seed=rng)
        hit = cp.predict(Xt, seed=rng)[np.arange(N_TEST), yt]
        covered.append(hit.mean())
        per_class.append([(hit[yt == c].mean(), np.sum(y == c)) for c in range(3)])
    return np.array(covered), np.array(per_class)


def _check(covered, alpha, n, ties=False):
    """The band; with tied scores only its lower end (ties can only add coverage)."""
    m, (lo, hi) = mean_coverage_band(covered, 1 - alpha, 1 - alpha + 1 / (n + 1))
    top = np.inf if ties else hi
    assert lo <= m <= top, f"mean coverage {m:.4f} outside [{lo:.4f}, {top:.4f}]"


def _ties(kwargs):
    """Non-randomised APS gives the last-ranked label the score 1 on every row: ties."""
    return kwargs.get("score") == "aps" and not kwargs.get("randomized")


CLASS_CASES = [({"score": "lac"}, 0.1, 100), ({"score": "aps"}, 0.1, 100),
               ({"score": "aps", "randomized": True}, 0.2, 50)]


@pytest.mark.parametrize("kwargs,alpha,n", CLASS_CASES)
def test_classification_coverage_in_its_finite_sample_bounds(kwargs, alpha, n):
    covered, _ = _class_coverage(200, n, alpha, seed=11, **kwargs)
    _check(covered, alpha, n, ties=_ties(kwargs))


def _check_per_class(per_class, alpha):
    for c in range(per_class.shape[1]):
        cov, n_c = per_class[:, c, 0], per_class[:, c, 1]
        upper = float(np.mean(1 - alpha + 1 / (n_c + 1)))
        m, (lo, hi) = mean_coverage_band(cov, 1 - alpha, upper)
        assert lo <= m <= hi, f"class {c}: mean coverage {m:.4f} outside [{lo:.4f}, {hi:.4f}]"


def test_mondrian_covers_every_class_where_marginal_does_not():
    _, per_class = _class_coverage(150, 300, 0.1, seed=12, model=BIASED, mondrian=True)
    _check_per_class(per_class, 0.1)
    _, marginal = _class_coverage(150, 300, 0.1, seed=12, model=BIASED)
    m, (lo, _) = mean_coverage_band(marginal[:, 2, 0], 0.9, 1.0)
    assert m < lo  # the under-rated class is missed without per-class thresholds


def _reg_coverage(draws, n, alpha, seed, move=0.0, **kwargs):
    """Per draw: the share covered of test rows whose ``x1`` moved by ``move``."""
    rng = np.random.default_rng(seed)
    covered = []
    for _ in range(draws):
        X, y = reg_data(n, rng)
        Xt, yt = reg_data(N_TEST, rng, shift=move)
        model = reg_quantiles if kwargs.get("score") == "cqr" else REGRESSOR
        target = Xt if kwargs.get("shift") == "domain" else None
        iv = ConformalRegressor(model, alpha=alpha, **kwargs).fit(X, y, target=target).predict(Xt)
        covered.append(np.mean((iv[:, 0] <= yt) & (yt <= iv[:, 1])))
    return np.array(covered)


@pytest.mark.parametrize("score", ["absolute", "cqr"])
def test_regression_coverage_in_its_finite_sample_bounds(score):
    _check(_reg_coverage(200, 100, 0.1, seed=13, score=score), 0.1, 100)


def test_covariate_shift_breaks_unweighted_coverage_and_the_true_ratio_restores_it():
    # the test rows move to where the noise is larger: unweighted intervals under-cover
    m, (lo, _) = mean_coverage_band(_reg_coverage(100, 200, 0.1, seed=14, move=1.0), 0.9, 1.0)
    assert m < lo
    # Tibshirani et al. (2019), theorem 2: with the exact likelihood ratio, at least 1 - alpha
    weighted = _reg_coverage(150, 200, 0.1, seed=14, move=1.0, shift=shift_ratio(1.0))
    m, (lo, _) = mean_coverage_band(weighted, 0.9, 1.0)
    assert m >= lo, f"weighted coverage {m:.4f} below {lo:.4f}"


def test_a_domain_classifier_brings_coverage_close_to_its_promise():
    plain = _reg_coverage(60, 300, 0.1, seed=16, move=1.0).mean()
    domain = _reg_coverage(60, 300, 0.1, seed=16, move=1.0, shift="domain").mean()
    assert plain < 0.86 and abs(domain - 0.9) < 0.02, (plain, domain)


@pytest.mark.slow
@pytest.mark.parametrize("alpha,n", [(0.1, 20), (0.05, 100), (0.1, 500), (0.2, 30)])
@pytest.mark.parametrize("kwargs", [{"score": "lac"}, {"score": "aps"},
                                    {"score": "aps", "randomized": True}])
def test_classification_coverage_full_replication(kwargs, alpha, n):
    covered, _ = _class_coverage(2000, n, alpha, seed=21, **kwargs)
    _check(covered, alpha, n, ties=_ties(kwargs))


@pytest.mark.slow
@pytest.mark.parametrize("alpha,n", [(0.1, 150), (0.05, 600)])
def test_mondrian_coverage_full_replication(alpha, n):
    _, per_class = _class_coverage(1000, n, alpha, seed=22, model=BIASED, mondrian=True)
    _check_per_class(per_class, alpha)


@pytest.mark.slow
@pytest.mark.parametrize("alpha,n", [(0.1, 20), (0.05, 100), (0.1, 500)])
@pytest.mark.parametrize("score", ["absolute", "cqr"])
def test_regression_coverage_full_replication(score, alpha, n):
    _check(_reg_coverage(2000, n, alpha, seed=23, score=score), alpha, n)
