"""Selective prediction: curves against hand loops, SGR's guarantee over draws, detection
scores against scikit-learn and their coverage, the Selective wrapper."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared bands
from calibration.bands import assert_in_band, coverage_band, rejection_band  # noqa: E402
from shakeout.errors import NotFittedError, ValidationError  # noqa: E402
from shakeout.models import wrap  # noqa: E402
from shakeout.uncertainty import (Selective, aurc, delong_interval, detection_findings,  # noqa: E402
                                  fpr_at_tpr, guaranteed_threshold, risk_coverage,
                                  selective_findings)
from shakeout.uncertainty.risk import risk_bound  # noqa: E402

CALIBRATES = ("risk_coverage", "aurc", "selective_findings", "guaranteed_threshold",
              "delong_interval", "detection_findings", "fpr_at_tpr")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


def _draw(rng, n):
    """Confidence U(0.5, 1), right with probability confidence: answering confidence >= t
    has true selective risk (1 - t) / 2."""
    conf = rng.uniform(0.5, 1.0, n)
    return conf, (rng.random(n) < conf).astype(int)


def test_risk_coverage_and_aurc_equal_a_hand_written_loop():
    conf, right = _draw(np.random.default_rng(0), 300)
    order = np.argsort(-conf)
    risks = [1 - np.mean(right[order[:k]]) for k in range(1, 301)]
    coverage, risk, threshold = risk_coverage(conf, right)
    np.testing.assert_allclose(coverage, np.arange(1, 301) / 300)
    np.testing.assert_allclose(risk, risks)
    np.testing.assert_allclose(threshold, conf[order])
    assert aurc(conf, right) == pytest.approx(np.mean(risks), abs=1e-12)


def test_tied_confidences_are_answered_together_whatever_their_order():
    conf = np.array([0.9, 0.7, 0.7, 0.7, 0.5])
    a = aurc(conf, [1, 0, 1, 1, 0])
    b = aurc(conf, [1, 1, 1, 0, 0])
    assert a == b == pytest.approx(0.2 * 0 + 0.6 * 0.25 + 0.2 * 0.4)
    assert risk_coverage(conf, [1, 0, 1, 1, 0])[0].tolist() == [0.2, 0.8, 1.0]


def test_risk_bound_is_the_one_sided_clopper_pearson_limit():
    for k, n in ((0, 20), (5, 100), (40, 90)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert risk_bound(k, n, 0.05) == pytest.approx(ci.high, rel=1e-9)
    assert risk_bound(3, 3, 0.05) == 1.0 and risk_bound(0, 0, 0.05) == 1.0


def _violations(trials, n, target, delta, seed=0):
    rng = np.random.default_rng(seed)
    failed, naive_failed, coverage = 0, 0, []
    for _ in range(trials):
        conf, right = _draw(rng, n)
        g = guaranteed_threshold(conf, right, risk=target, delta=delta)
        failed += np.isfinite(g.threshold) and (1 - g.threshold) / 2 > target
        coverage.append(g.coverage)
        # the naive pick: the lowest threshold whose empirical risk meets the target
        cov, risk, thr = risk_coverage(conf, right)
        naive = thr[risk <= target].min()
        naive_failed += (1 - naive) / 2 > target
    return failed, naive_failed, np.mean(coverage)


def test_sgr_guarantee_holds_over_repeated_draws():
    trials, delta = 200, 0.1
    failed, naive_failed, coverage = _violations(trials, 1000, 0.1, delta)
    assert failed <= rejection_band(trials, delta)[1]
    assert naive_failed > rejection_band(trials, delta)[1]  # the test can fail
    assert coverage > 0.15  # the ideal threshold 0.8 covers 0.4


@pytest.mark.slow
def test_sgr_guarantee_holds_over_many_draws():
    trials, delta = 1000, 0.2
    failed, _, coverage = _violations(trials, 2000, 0.08, delta, seed=1)
    assert failed <= rejection_band(trials, delta)[1] and coverage > 0.15


def test_sgr_answers_nothing_when_no_threshold_meets_the_target_and_refuses_bad_targets():
    conf, right = _draw(np.random.default_rng(0), 50)
    g = guaranteed_threshold(conf, right, risk=0.001, delta=0.05)
    assert g.threshold == np.inf and g.coverage == 0 and g.bound == 1.0
    with pytest.raises(ValidationError, match="guaranteed_threshold: delta must be in \\(0, 1\\)"):
        guaranteed_threshold(conf, right, risk=0.1, delta=1.0)
    with pytest.raises(ValidationError, match="guaranteed_threshold: risk must be in \\(0, 1\\)"):
        guaranteed_threshold(conf, right, risk=0, delta=0.1)
    with pytest.raises(ValidationError, match="correct must hold 0/1"):
        guaranteed_threshold(conf, right * 2.5, risk=0.1)
    with pytest.raises(ValidationError, match="confidence contains NaN"):
        risk_coverage(np.r_[np.nan, conf[1:]], right)


def test_selective_findings_draw_the_curve_from_risk_coverage():
    conf, right = _draw(np.random.default_rng(2), 500)
    found = selective_findings(conf, right, score="margin", coverages=(0.2, 1.0))
    coverage, risk, _ = risk_coverage(conf, right)
    assert [f.value for f in found[:2]] == pytest.approx([risk[99], risk[-1]])
    assert all(f.ci[0] <= f.value <= f.ci[1] for f in found[:2])
    assert found[-1].metric == "aurc" and found[-1].value == pytest.approx(aurc(conf, right))
    assert {f.group for f in found} == {"selective/margin"}


def _aurc_coverage(trials, n, n_boot):
    """Confidence U(0.5, 1) right with probability confidence: at coverage c the threshold is
    1 - c / 2 and the risk c / 4, so the true AURC is 1/8."""
    rng = np.random.default_rng(n)
    covered = 0
    for t in range(trials):
        conf, right = _draw(rng, n)
        lo, hi = selective_findings(conf, right, score="max_probability", coverages=(1.0,),
                                    n_boot=n_boot, seed=t)[-1].ci
        covered += lo <= 0.125 <= hi
    return covered


def test_aurc_interval_covers_the_true_area():
    assert_in_band(_aurc_coverage(100, 1000, 200), coverage_band(100, 0.95), "AURC intervals")


@pytest.mark.slow
def test_aurc_interval_coverage_over_many_draws():
    assert_in_band(_aurc_coverage(500, 500, 500), coverage_band(500, 0.95), "AURC intervals")


def _hand_delong(neg, pos):
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_auroc_is_scikit_learns_and_delong_variance_equals_the_pairwise_formula():
    rng = np.random.default_rng(0)
    neg, pos = np.round(rng.normal(0, 1, 80), 1), np.round(rng.normal(0.8, 1, 60), 1)  # ties
    auc, lo, hi = delong_interval(neg, pos, level=0.9)
    want, var = _hand_delong(neg, pos)
    assert auc == pytest.approx(roc_auc_score(np.r_[np.zeros(80), np.ones(60)], np.r_[neg, pos]))
    assert auc == pytest.approx(want)
    assert (hi - lo) / 2 == pytest.approx(stats.norm.ppf(0.95) * np.sqrt(var), rel=1e-9)


def _auroc_coverage(trials, seed):
    rng = np.random.default_rng(seed)
    truth = stats.norm.cdf(1.0 / np.sqrt(2))  # binormal, shift 1: P(pos > neg)
    covered = 0
    for _ in range(trials):
        _, lo, hi = delong_interval(rng.normal(0, 1, 150), rng.normal(1, 1, 100))
        covered += lo <= truth <= hi
    return covered


def test_delong_interval_covers_the_true_auroc():
    assert_in_band(_auroc_coverage(300, 0), coverage_band(300, 0.95), "DeLong intervals")


@pytest.mark.slow
def test_delong_interval_coverage_over_many_draws():
    assert_in_band(_auroc_coverage(1000, 1), coverage_band(1000, 0.95), "DeLong intervals")


def test_fpr_at_95_tpr_matches_the_roc_curve():
    rng = np.random.default_rng(3)
    neg, pos = rng.normal(0, 1, 400), rng.normal(1.5, 1, 300)
    fpr, tpr, _ = roc_curve(np.r_[np.zeros(400), np.ones(300)], np.r_[neg, pos])
    got, _ = fpr_at_tpr(neg, pos, tpr=0.95)
    assert got == pytest.approx(fpr[np.argmax(tpr >= 0.95)])
    found = detection_findings(neg, pos, score="entropy", shift="gaussian_noise")
    assert found[1].value == pytest.approx(got)
    assert found[0].group == "detection/gaussian_noise" and found[0].feature == "entropy"


def _fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-3 * X[:, 0]))).astype(int)
    return LogisticRegression().fit(X[:1000], y[:1000]), X[1000:], y[1000:]


def test_selective_fit_keeps_the_risk_it_promises_on_new_data():
    clf, X, y = _fitted()
    guard = Selective(clf, risk=0.08, delta=0.05).fit(X[:1500], y[:1500])
    answered = guard.accepts(X[1500:])
    assert 0.2 < answered.mean() < 0.9
    err = np.mean(clf.predict(X[1500:])[answered] != y[1500:][answered])
    assert err <= 0.08 and guard.guarantee_.bound <= 0.08
    out = guard.predict(X[1500:])
    assert all(v is None for v in out[~answered]) and np.all(out[answered] ==
                                                               clf.predict(X[1500:])[answered])


def test_selective_hands_refused_rows_to_a_fallback_model_with_dataframes():
    _, X, y = _fitted()
    frame = pd.DataFrame(X[:200], columns=["a", "b"])
    clf = LogisticRegression().fit(pd.DataFrame(X[:1000], columns=["a", "b"]), y[:1000])
    backup = LogisticRegression().fit(X[:1000, ::-1], y[:1000])
    swap = type("Swap", (), {"predict": lambda self, F: backup.predict(F.to_numpy()[:, ::-1])})
    guard = Selective(wrap(clf), threshold=0.9, fallback=swap(), abstain="ignored")
    out = guard.predict(frame)
    refused = ~guard.accepts(frame)
    assert refused.any() and out.dtype.kind == "i"
    assert np.array_equal(out[refused], backup.predict(X[:200][refused][:, ::-1]))
    assert np.array_equal(out[~refused], clf.predict(frame[~refused]))


def test_selective_refuses_bad_settings():
    clf, X, y = _fitted()
    with pytest.raises(ValidationError, match="Selective: risk must be in \\(0, 1\\), got 1.2"):
        Selective(clf, risk=1.2)
    with pytest.raises(ValidationError, match="Selective: score must be one of"):
        Selective(clf, score="variance")
    with pytest.raises(ValidationError, match="fallback must be a model, a callable rule"):
        Selective(clf, threshold=0.9, fallback=3)
    with pytest.raises(NotFittedError, match="pass threshold=... or call fit"):
        Selective(clf).predict(X)
    with pytest.raises(ValidationError, match="Selective needs class probabilities, but "
                                              "<lambda> is a regressor"):
        Selective(wrap(lambda X: X[:, 0], task="regression"))
