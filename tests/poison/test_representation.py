"""Spectral signatures and activation clustering on the digits with a 3% BadNets backdoor."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.representation import (ActivationClustering, SpectralSignature,
                                             activation_clustering, representations,
                                             spectral_signature)

CALIBRATES = ("SpectralSignature", "spectral_signature", "ActivationClustering",
              "activation_clustering")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

pytest.importorskip("torch")


def test_spectral_signature_removes_the_backdoor_and_retraining_closes_it(badnets_digits):
    from .conftest import BADNETS_RATE, BADNETS_TARGET, train_cnn

    from shakeout.models import wrap

    poisoned, model, X_test, y_test = badnets_digits
    scores = SpectralSignature().scores(poisoned.X, poisoned.y, model=model)
    budget = int(round(1.5 * BADNETS_RATE * len(scores)))
    removed = np.argsort(-scores)[:budget]
    assert poisoned.mask[removed].sum() >= 0.9 * poisoned.mask.sum()
    keep = np.setdiff1d(np.arange(len(scores)), removed)
    retrained = wrap(train_cnn(poisoned.X[keep], poisoned.y[keep]).module)
    others = y_test != BADNETS_TARGET
    triggered = poisoned.trigger(X_test[others])
    before = np.mean(model.predict(triggered) == BADNETS_TARGET)
    after = np.mean(retrained.predict(triggered) == BADNETS_TARGET)
    clean_rate = np.mean(retrained.predict(X_test[others]) == BADNETS_TARGET)
    assert before > 0.9 and after <= clean_rate + 0.05


def test_activation_clustering_finds_the_target_class_cluster(badnets_digits):
    poisoned, model, _, _ = badnets_digits
    scanner = ActivationClustering()
    scores = scanner.scores(poisoned.X, poisoned.y, model=model)
    flagged = scores > 0
    precision = poisoned.mask[flagged].mean()
    assert precision > 5 * poisoned.mask.mean()  # far above the base rate
    assert "class 0" in scanner.reasons(scores, int(np.flatnonzero(poisoned.mask)[0]))[0]


def test_default_layer_is_the_input_of_the_head(badnets_digits):
    """The CNN's head is fc1 -> relu3 -> fc2: the default reads fc1's input (the flattened
    last convolution), where spectral signatures find every poisoned row; a network
    without convolutions is read at its last Linear's input."""
    import torch

    poisoned, model, _, _ = badnets_digits
    got = representations(model, poisoned.X[:7])
    assert np.array_equal(got, model.representation(poisoned.X[:7], "flatten"))
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    x = np.ones((2, 4), dtype=np.float32)
    from shakeout.models import wrap

    assert np.array_equal(representations(mlp, x), wrap(mlp).representation(x, "1"))


def test_raw_score_is_the_squared_projection_by_hand():
    R = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, 5.0]])
    # class 0 varies along x only: centred projections -2, 0, 2
    np.testing.assert_allclose(spectral_signature(R, [0, 0, 0, 1, 1, 1], scale="none"),
                               [4, 0, 4, 4, 0, 4], atol=1e-12)


def test_mad_score_is_the_squared_robust_z_of_the_projection_by_hand():
    """Class 0 lies on x at 0, 1, 2, 10: centred -3.25, -2.25, -1.25, 6.75, median -1.75,
    MAD 1, so (p - median)^2 = 2.25, 0.25, 0.25, 72.25; class 1 on y at 0, 3, 5: median 1/3,
    MAD 2; class 2's MAD is 0, so its scale is the mean absolute deviation, 1; class 3 has
    fewer than three rows and scores 0."""
    R = np.zeros((13, 2))
    R[:4, 0] = [0, 1, 2, 10]
    R[4:7, 1] = [0, 3, 5]
    R[7:11, 0] = [0, 0, 0, 4]
    R[11:] = [[7, 7], [8, 8]]
    y = np.repeat([0, 1, 2, 3], [4, 3, 4, 2])
    np.testing.assert_allclose(spectral_signature(R, y),
                               [2.25, 0.25, 0.25, 72.25, 2.25, 0, 1, 0, 0, 0, 16, 0, 0],
                               atol=1e-12)


def _silhouette(R: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Rousseeuw's (1987) silhouette of every row of a two-cluster split, from distances:
    ``(b - a) / max(a, b)``, ``a`` the mean distance to the rest of its cluster, ``b`` to
    the other cluster."""
    d = np.sqrt(((R[:, None] - R[None]) ** 2).sum(-1))
    same = members[:, None] == members[None]
    a = (d * same).sum(1) / (same.sum(1) - 1)
    b = (d * ~same).sum(1) / (~same).sum(1)
    return (b - a) / np.maximum(a, b)


def test_activation_clustering_scores_the_small_clusters_silhouette_by_hand():
    """Class 0: 85 rows and 15 rows 8 apart in each of 3 dimensions (principal components
    keep every distance); class 1: two blobs of 50 rows, a smaller cluster of half the
    class, above max_size. Only the 15 rows score, each its own silhouette."""
    rng = np.random.default_rng(0)
    small = np.r_[np.zeros(85, bool), np.ones(15, bool)]
    class0 = rng.normal(size=(100, 3)) + 8.0 * small[:, None]
    class1 = rng.normal(size=(100, 3))
    class1[:50, 0] += 12.0
    scores, per_class = activation_clustering(np.r_[class0, class1], np.repeat([0, 1], 100),
                                              seed=0)
    expected = _silhouette(class0, small)
    np.testing.assert_allclose(scores[:100], np.where(small, np.maximum(expected, 0), 0),
                               atol=1e-10)
    assert not scores[100:].any()
    assert per_class[0] == pytest.approx((0.15, expected.mean()), abs=1e-10)
    assert per_class[1] == pytest.approx(
        (0.5, _silhouette(class1, np.arange(100) < 50).mean()), abs=1e-10)


def test_a_model_without_representations_is_refused():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 3)); y = np.arange(20) % 2
    est = LogisticRegression().fit(X, y)
    with pytest.raises(ValidationError, match="has no representations.*pass model= a torch"):
        SpectralSignature().scores(X, y, model=est)
    with pytest.raises(ValidationError, match="needs model="):
        ActivationClustering().scores(X, y)
    with pytest.raises(ValidationError, match="scale must be one of"):
        SpectralSignature(scale="l2")
