"""Bagging's certified poisoning radius (Jia, Cao & Gong 2021) and retraining after removal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.robust import bagging, certified_radius, quarantined, vote_bounds
from calibration.bands import rejection_band

CALIBRATES = ("certified_radius", "vote_bounds")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


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


def test_vote_bounds_are_scipys_exact_binomial_bounds_at_alpha_over_the_labels():
    from scipy import stats

    counts, alpha = [300, 620, 80], 0.03                 # one-sided at 0.01: two-sided 98%
    label, p_a, p_b = vote_bounds(counts, alpha=alpha)
    ci = [stats.binomtest(k, 1000).proportion_ci(0.98, method="exact") for k in counts]
    assert label == 1 and p_a == pytest.approx(ci[1].low, rel=1e-10)
    assert p_b == pytest.approx(ci[0].high, rel=1e-10)   # the runner-up's upper bound


def test_vote_bounds_hold_together_at_their_level_on_a_near_tie():
    """Two labels nearly tied, votes multinomial: the top label's lower bound and every
    other label's upper bound hold together in at least 1 - alpha of the draws, so the
    failures stay below the top of alpha's binomial band (measured: 100 of these 1000 draws,
    9.4% of 20,000; without the Bonferroni division 241, at twice alpha 166)."""
    p, alpha, trials = np.array([0.45, 0.45, 0.1]), 0.1, 1000
    rng = np.random.default_rng(0)
    failed = 0
    for _ in range(trials):
        top, p_a, p_b = vote_bounds(rng.multinomial(400, p), alpha=alpha)
        failed += p_a > p[top] or p_b < np.delete(p, top).max()
    assert failed <= rejection_band(trials, alpha)[1], f"{failed} of {trials} failed"


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


# --- robust training measured by the poison drill ----------------------------------------

def _tree(X, y):
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def backdoored_cancer():
    """Breast cancer (standardised), a tabular backdoor on two features, and the drill's
    arguments: half the rows to train on, half to test, rates 0 and 3%."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from shakeout.poison import TabularBackdoor

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    attack = {"backdoor": TabularBackdoor(target=0, features=[3, 7], values=[8.0, -3.0])}
    return dict(X=X[::2], y=y[::2], X_test=X[1::2], y_test=y[1::2], attacks=attack,
                rates=(0, 0.03), seed=0)


def _success(result):
    f = result.select(metric="attack_success_rate", severity=0.03)[0]
    return f.value, f.status


def test_the_drill_reports_the_certified_radius_of_a_bagged_model(backdoored_cancer):
    """The findings equal the certificate computed by hand on the same poisoned rows (the
    drill's second unit stream) with the same ensemble."""
    from shakeout.poison import run

    d = backdoored_cancer
    train = bagging(_tree, models=30, sample_size=0.05, seed=0)
    result = run(train, d["X"], d["y"], d["X_test"], d["y_test"], attacks=d["attacks"],
                 rates=d["rates"], seed=0, alpha=0.01)
    poisoned = d["attacks"]["backdoor"].apply(d["X"], d["y"], 0.03,
                                              seed=np.random.default_rng(0).spawn(2)[1])
    labels, radii = train(poisoned.X, poisoned.y).certify(d["X_test"], alpha=0.01)
    r = int(poisoned.mask.sum())
    median = result.select(metric="certified_radius", severity=0.03)[0]
    share = result.select(metric="certified_share", severity=0.03)[0]
    right = result.select(metric="certified_accuracy", severity=0.03)[0]
    assert median.value == np.median(radii) and median.details["alpha"] == 0.01
    assert median.details["k"] == round(0.05 * len(d["y"])) and median.details["models"] == 30
    assert share.value == np.mean(radii >= r) and share.details["poisoned_rows"] == r
    assert right.value == np.mean((radii >= r) & (labels == d["y_test"]))
    headline = [f for f in result.select(metric="certified_share") if f.severity is None]
    assert len(headline) == 1 and headline[0].details["rate"] == 0.03
    assert not run(_tree, d["X"], d["y"], d["X_test"], d["y_test"], attacks=d["attacks"],
                   rates=d["rates"], seed=0).select(metric="certified_radius")


def test_the_drill_measures_each_robust_training_on_the_same_poison(backdoored_cancer):
    """A 3% backdoor plants itself in a decision tree (97-99% success); bagging on 5%
    subsamples (a base model rarely sees enough triggered rows) brings the success rate
    under the plain tree's unpoisoned floor (measured 8.6% against 8%; still above the
    bagged model's own floor of 0, so the drill says the backdoor shows), and retraining
    without the rows the robust Mahalanobis distance quarantines brings it back to the
    floor (status pass). The merged report shows the rate for every training function."""
    from shakeout.poison import run
    from shakeout.poison.scanners import RobustMahalanobis
    from shakeout.report.markdown import render_markdown
    from shakeout.report.result import Result

    d = backdoored_cancer
    trainings = {"tree": _tree,
                 "bagged": bagging(_tree, models=30, sample_size=0.05, seed=0),
                 "quarantined": quarantined(_tree, RobustMahalanobis(), budget=0.05)}
    results = {name: run(fit, d["X"], d["y"], d["X_test"], d["y_test"], attacks=d["attacks"],
                         rates=d["rates"], seed=0) for name, fit in trainings.items()}
    plain, status = _success(results["tree"])
    assert plain > 0.9 and status == "fail"
    assert _success(results["bagged"])[0] < 0.2
    value, status = _success(results["quarantined"])
    assert value < 0.2 and status == "pass"
    merged = Result.merge("robust training", list(results.items()))
    text = render_markdown(merged)
    for name in trainings:
        section = text.split(f"### Poisoning — {name}")[1].split("###")[0]
        assert "attack success rate" in section
        assert ("certified share" in section) == (name == "bagged")
