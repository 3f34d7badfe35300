"""Every metric's point estimate is the statistic of the full sample, as scikit-learn computes it."""

import numpy as np
import pytest
from sklearn import metrics as skm

from shakeout.stress.metrics import ECE_BINS, METRICS


def _proba(rng, n, k):
    logits = rng.normal(size=(n, k)) * 2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _ece_loop(y, p, bins=ECE_BINS):
    """Expected calibration error written out by hand, bin by bin."""
    conf = p.max(axis=1)
    right = p.argmax(axis=1) == y
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if inside.any():
            total += abs(right[inside].sum() - conf[inside].sum())
    return total / len(y)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_point_estimates_match_sklearn(k, seed):
    rng = np.random.default_rng(seed)
    n = 257
    y = rng.integers(0, k, n)
    p = _proba(rng, n, k)
    pred = p.argmax(axis=1)
    assert METRICS["accuracy"].value(y, p) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert METRICS["macro_f1"].value(y, p) == pytest.approx(
        skm.f1_score(y, pred, average="macro", labels=np.unique(np.r_[y, pred])), abs=1e-12)
    auc = (skm.roc_auc_score(y, p[:, 1]) if k == 2
           else skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert METRICS["roc_auc"].value(y, p) == pytest.approx(auc, abs=1e-12)
    assert METRICS["log_loss"].value(y, p) == pytest.approx(
        skm.log_loss(y, p, labels=np.arange(k)), rel=1e-9)
    assert METRICS["ece"].value(y, p) == pytest.approx(_ece_loop(y, p), abs=1e-12)


def test_auc_with_ties_matches_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 1)  # many ties
    p = np.column_stack([1 - s, s])
    assert METRICS["roc_auc"].value(y, p) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_regression_point_estimates_match_sklearn():
    rng = np.random.default_rng(3)
    y = rng.normal(size=500)
    pred = y + rng.normal(size=500)
    assert METRICS["mae"].value(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
    assert METRICS["rmse"].value(y, pred) == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12)


def test_gbm_auc_drop_uses_the_real_auc():
    """The audit's case: a GBM on breast cancer was reported with AUC 1.0 (two rows)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    from shakeout.perturb import GaussianNoise
    from shakeout.stress import Sweep, run

    X, y = load_breast_cancer(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.5, random_state=0)
    gbm = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(Xa, ya)
    result = run(gbm, Xb, yb, sweeps=[Sweep(GaussianNoise(), (0, 1.0))], metrics=["roc_auc"],
                 n_bootstrap=200, sensitivity=False, seed=0)
    clean = [f for f in result.select(metric="roc_auc") if f.severity == 0][0]
    assert clean.value == pytest.approx(skm.roc_auc_score(yb, gbm.predict_proba(Xb)[:, 1]))
    assert clean.ci[0] <= clean.value <= clean.ci[1]
    drop = result.select(metric="roc_auc_drop")[0]
    perturbed = drop.details["perturbed"]
    assert drop.value == pytest.approx(clean.value - perturbed)
    assert drop.ci[0] <= drop.value <= drop.ci[1]
    assert 0 < perturbed < 1
