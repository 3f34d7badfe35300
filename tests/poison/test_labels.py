"""Label scanners: the confident joint is eq. (1) of Northcutt et al. (2021), out-of-fold
probabilities are scikit-learn's, kNN disagreement is the brute-force count, and on breast
cancer with 10% random flips confident learning and out-of-fold probability find the flips."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.labels import (ConfidentLearning, KNNLabels, OutOfFoldProbability,
                                    confident_joint, default_estimator, normalized_margin,
                                    out_of_fold_proba)

CALIBRATES = ("ConfidentLearning", "KNNLabels", "OutOfFoldProbability", "confident_joint")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


def _joint_by_definition(proba, labels):
    """Eq. (1), row by row: t_j the mean p_j over rows labelled j; a row labelled i goes to
    (i, argmax over {j : p_j >= t_j} of p_j), nowhere when that set is empty."""
    k = proba.shape[1]
    t = [np.mean([p[j] for p, lab in zip(proba, labels) if lab == j]) for j in range(k)]
    joint, off = np.zeros((k, k), int), []
    for p, lab in zip(proba, labels):
        above = [j for j in range(k) if p[j] >= t[j]]
        if above:
            j = max(above, key=lambda c: p[c])
            joint[lab, j] += 1
            off.append(j != lab)
        else:
            off.append(False)
    return joint, np.array(off), np.array(t)


def test_confident_joint_is_the_papers_definition():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4) * 0.7, size=400)
    labels = rng.integers(0, 4, size=400)
    joint, off, t = confident_joint(proba, labels)
    want_joint, want_off, want_t = _joint_by_definition(proba, labels)
    np.testing.assert_array_equal(joint, want_joint)
    np.testing.assert_array_equal(off, want_off)
    np.testing.assert_allclose(t, want_t, rtol=1e-12)
    assert joint.sum() <= 400 and joint.sum() - np.trace(joint) == off.sum()


def test_score_orders_issues_first_then_by_margin():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=200)
    labels = rng.integers(0, 3, size=200)
    _, off, _ = confident_joint(proba, labels)
    margin = normalized_margin(proba, labels)
    score = off + (1 - margin) / 2
    assert score[off].min() > 1 >= score[~off].max()
    inside = np.flatnonzero(off)
    assert np.all(np.diff(score[inside][np.argsort(margin[inside])]) <= 0)


def test_out_of_fold_equals_cross_val_predict():
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from shakeout.models import wrap

    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    scanner = OutOfFoldProbability(cv=4, seed=2)
    s = scanner.scores(X, y, model=wrap(forest))     # the wrapped model's estimator, refitted
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=2)
    p = cross_val_predict(RandomForestClassifier(n_estimators=5, random_state=0), X, y,
                          cv=folds, method="predict_proba")
    np.testing.assert_array_equal(s, 1 - p[np.arange(150), y])
    np.testing.assert_array_equal(
        out_of_fold_proba(X, y, estimator=default_estimator(), cv=4, seed=2),
        cross_val_predict(default_estimator(), X, y, cv=folds, method="predict_proba"))


def test_knn_disagreement_is_the_brute_force_count():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3)) * [1.0, 10.0, 0.1]
    y = rng.integers(0, 3, size=120)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    d = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :5]
    np.testing.assert_allclose(KNNLabels(k=5).scores(X, y), (y[nearest] != y[:, None]).mean(1))


@pytest.fixture(scope="module")
def flipped(cancer):
    """Breast cancer with 10% of its labels flipped at random (P1's LabelFlip)."""
    from shakeout.poison.attacks import LabelFlip

    X, y = cancer.drop(columns="target").to_numpy(), cancer["target"].to_numpy()
    return X, LabelFlip(mode="random").apply(X, y, 0.10, seed=0)


@pytest.mark.parametrize("name", ["confident_learning", "oof_probability"])
def test_breast_cancer_flips_are_found_far_above_the_base_rate(flipped, name):
    from shakeout.poison.scan import scan

    X, poisoned = flipped
    base = poisoned.mask.mean()
    r = scan(X, poisoned.y, scanners=[name], mask=poisoned.mask, budget=float(base), seed=0)
    precision = r.select(group=name, metric="precision")[0]
    assert precision.ci[0] > 0.6 > 5 * base          # measured: 0.86 for both
    assert precision.status == "pass"


def test_cleanlab_flags_a_subset_of_ours(flipped):
    """cleanlab's ``find_label_issues(filter_by="confident_learning")`` drops the issues whose
    model prediction is close to the given label and tolerates 1e-6 below a threshold; the
    paper's rule keeps them, so cleanlab's issues are ours minus a few."""
    filt = pytest.importorskip("cleanlab.filter")
    X, poisoned = flipped
    scanner = ConfidentLearning(seed=0)
    ours = set(np.flatnonzero(scanner.scores(X, poisoned.y) > 1).tolist())
    theirs = set(np.flatnonzero(filt.find_label_issues(
        poisoned.y, scanner.proba_, filter_by="confident_learning")).tolist())
    assert theirs <= ours and len(theirs) >= 0.8 * len(ours)


@pytest.mark.parametrize(("make", "y", "match"), [
    (KNNLabels, np.zeros(50), "the target has one class"),
    (OutOfFoldProbability, None, "needs the labels y"),
    (ConfidentLearning, np.r_[np.zeros(48), 1, 1], "class 1.0 has 2 rows, fewer than the 5"),
    (KNNLabels, np.zeros(3), "one label per row"),
])
def test_bad_labels_are_named(make, y, match):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValidationError, match=match):
        make().scores(X, y)


def test_estimator_without_probabilities_is_named():
    from sklearn.svm import LinearSVC

    X = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(ValidationError, match="fit and predict_proba; LinearSVC failed"):
        OutOfFoldProbability(estimator=LinearSVC()).scores(X, np.arange(40) % 2)


def test_knn_needs_more_rows_than_neighbours():
    with pytest.raises(ValidationError, match="lower k"):
        KNNLabels(k=10).scores(np.zeros((5, 1)), np.array([0, 1, 0, 1, 0]))
