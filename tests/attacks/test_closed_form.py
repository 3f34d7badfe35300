"""Ground truth: on affine models the smallest adversarial perturbation is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout import wrap
from shakeout.attacks import (APGD, EAD, PGD, CarliniWagner, DeepFool, HopSkipJump,
                              SquareAttack, perturbation_norm)

from .conftest import margins


def _fooled(net, X_adv, y):
    return wrap(net).predict(X_adv) != y


@pytest.mark.parametrize("norm, dual", [("l2", 2), ("linf", 1)])
def test_deepfool_finds_the_exact_minimum(linear3, norm, dual):
    W, b, X, y, net = linear3
    X_adv = DeepFool(norm=norm, bounds=None).apply(net, X, y)
    exact = margins(W, b, X.astype(np.float64), dual)
    assert _fooled(net, X_adv, y).all()
    np.testing.assert_allclose(perturbation_norm(X_adv, X, norm=norm), exact, rtol=1e-3)


@pytest.mark.parametrize("eps", [0.02, 0.05, 0.1])
@pytest.mark.parametrize("attack", [PGD, APGD])
def test_linf_robust_accuracy_is_the_share_of_margins_above_eps(linear3, attack, eps):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), 1)
    assert np.min(np.abs(exact - eps)) > 1e-4  # no point sits on the budget itself
    X_adv = attack(eps=eps, bounds=None).apply(net, X, y, seed=0)
    robust = ~_fooled(net, X_adv, y)
    np.testing.assert_array_equal(robust, exact > eps)


def test_binary_pgd_l2_matches_the_l2_margin(linear2):
    W, b, X, y, net = linear2
    exact = margins(W, b, X.astype(np.float64), 2)
    X_adv = PGD(eps=0.1, norm="l2", steps=20, bounds=None).apply(net, X, y, seed=0)
    np.testing.assert_array_equal(~_fooled(net, X_adv, y), exact > 0.1)


def test_carlini_wagner_is_within_five_percent_of_the_minimum(linear3):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), 2)
    X_adv = CarliniWagner(bounds=None, candidates=2).apply(net, X, y)
    assert _fooled(net, X_adv, y).all()
    ratio = perturbation_norm(X_adv, X, norm="l2") / exact
    assert ratio.min() > 1 - 1e-3
    assert ratio.max() < 1.05


def test_untargeted_carlini_wagner_is_near_the_minimum_for_most_points(linear3):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), 2)
    ratio = perturbation_norm(CarliniWagner(bounds=None).apply(net, X, y), X, norm="l2") / exact
    assert np.median(ratio) < 1.01
    assert np.mean(ratio < 1.05) > 0.9


def test_ead_l1_is_close_to_the_l1_minimum(linear3):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), np.inf)
    size = perturbation_norm(EAD(bounds=None).apply(net, X, y), X, norm="l1")
    assert (size >= exact * (1 - 1e-3)).all()
    assert np.median(size / exact) < 1.3


def test_hopskipjump_l2_approaches_the_minimum_with_labels_only(linear3):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), 2)
    X_adv = HopSkipJump(bounds=(-3.0, 4.0)).apply(net, X[:30], y[:30], seed=0)
    ratio = perturbation_norm(X_adv, X[:30], norm="l2") / exact[:30]
    assert _fooled(net, X_adv, y[:30]).all()
    assert ratio.min() > 1 - 1e-3 and np.median(ratio) < 1.1


def test_square_attack_never_reports_a_point_with_a_larger_margin(linear2):
    W, b, X, y, net = linear2
    exact = margins(W, b, X.astype(np.float64), 1)
    X_adv = SquareAttack(eps=0.1, steps=300, bounds=None).apply(net, X, y, seed=0)
    fooled = _fooled(net, X_adv, y)
    assert not fooled[exact > 0.1].any()  # impossible points stay robust
    assert fooled[exact < 0.1].mean() > 0.9
