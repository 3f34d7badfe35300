"""Tabular threat models: per-feature bounds, immutable, integer, categorical, one-hot, masks."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout import ValidationError, wrap
from shakeout.attacks import (PGD, Constraints, Domain, HopSkipJump, SquareAttack, TransferAttack,
                              data_bounds, perturbation_norm)

torch = pytest.importorskip("torch")


def _check_valid(X, X_adv, low, high):
    assert (X_adv["mean radius"] == X["mean radius"]).all()  # immutable
    assert np.array_equal(X_adv["visits"], np.round(X_adv["visits"]))  # integer
    assert X_adv["visits"].dtype == X["visits"].dtype
    assert X_adv["plan"].isin([0.0, 1.0, 2.0]).all()  # categorical
    values = X_adv.to_numpy(np.float64)
    assert (values >= low - 1e-9).all() and (values <= high + 1e-9).all()  # per-feature bounds


@pytest.mark.parametrize("make_attack", [
    lambda b, c: SquareAttack(eps=2.0, steps=40, bounds=b, constraints=c),
    lambda b, c: HopSkipJump(steps=3, max_evals=50, bounds=b, constraints=c),
    lambda b, c: TransferAttack(eps=2.0, epochs=5, bounds=b, constraints=c),
], ids=["square", "hopskipjump", "transfer"])
def test_black_box_attacks_keep_tabular_rules(tabular, make_attack):
    clf, X, y, X_all = tabular
    low, high = data_bounds(X_all)
    rules = Constraints(immutable=["mean radius"], categorical={"plan": [0, 1, 2]})
    attack = make_attack((low, high), rules)
    X_adv = attack.apply(clf, X, y, seed=0)
    _check_valid(X, X_adv, low, high)
    if attack.eps is not None:
        assert perturbation_norm(X_adv, X, norm="linf").max() <= attack.eps + 1e-9
    assert (wrap(clf).predict(X_adv) != y).any()


def test_white_box_attack_keeps_one_hot_and_integer_columns_within_an_l2_budget():
    rng = np.random.default_rng(0)
    n = 200
    X = np.column_stack([rng.uniform(size=(n, 3)), rng.integers(0, 5, size=n),
                         np.eye(3)[rng.integers(0, 3, size=n)]]).astype(np.float32)
    w = rng.normal(size=7)
    y = (X @ w > np.median(X @ w)).astype(int)
    net = torch.nn.Linear(7, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(np.stack([-w, w]), dtype=torch.float32))
        net.bias.zero_()
    y = wrap(net).predict(X)
    rules = Constraints(integer=[3], one_hot=[[4, 5, 6]], immutable=[0])
    bounds = (np.array([0, 0, 0, 0, 0, 0, 0]), np.array([1, 1, 1, 4, 1, 1, 1]))
    X_adv = PGD(eps=1.5, norm="l2", steps=20, bounds=bounds, constraints=rules).apply(
        net, X, y, seed=0)
    assert perturbation_norm(X_adv, X, norm="l2").max() <= 1.5 + 1e-6
    assert np.array_equal(X_adv[:, 3], np.round(X_adv[:, 3]))
    assert np.array_equal(X_adv[:, 4:].sum(axis=1), np.ones(n))
    assert set(np.unique(X_adv[:, 4:])) <= {0.0, 1.0}
    np.testing.assert_array_equal(X_adv[:, 0], X[:, 0])
    assert (wrap(net).predict(X_adv) != y).mean() > 0.2


def test_image_mask_keeps_masked_pixels(digits):
    net, X, y = digits
    mask = np.zeros((1, 8, 8), dtype=bool)
    mask[:, 4:, :] = True  # only the lower half may change
    X_adv = PGD(eps=0.3, steps=10, constraints=Constraints(mask=mask)).apply(net, X, y, seed=0)
    np.testing.assert_array_equal(X_adv[:, :, :4], X[:, :, :4])
    assert not np.array_equal(X_adv[:, :, 4:], X[:, :, 4:])


@pytest.mark.parametrize("norm, eps", [("l2", 1.3), ("l1", 2.2), ("linf", 0.7), ("l0", 2)])
def test_projection_rounds_discrete_values_without_leaving_the_budget(norm, eps):
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.uniform(size=300), rng.integers(0, 10, size=300),
                         rng.choice([0.0, 5.0, 7.0], size=300)])
    cand = x + rng.normal(scale=2.0, size=x.shape)
    domain = Domain((3,), bounds=(0.0, 10.0),
                    constraints=Constraints(integer=[1], categorical={2: [0, 5, 7]}))
    z = domain.project(cand, x, norm, eps)
    assert perturbation_norm(z, x, norm=norm).max() <= eps * (1 + 1e-9)
    assert np.array_equal(z[:, 1], np.round(z[:, 1]))
    assert np.isin(z[:, 2], [0, 5, 7]).all()
    assert (z >= 0).all() and (z <= 10).all()


def test_clean_inputs_outside_bounds_are_refused(digits):
    net, X, y = digits
    with pytest.raises(ValidationError, match=r"outside bounds.*data_bounds"):
        PGD(eps=0.1).apply(net, X * 2 - 0.5, y)


def test_unknown_feature_name_is_named(tabular):
    clf, X, y, X_all = tabular
    with pytest.raises(ValidationError, match="immutable feature 'age' not found"):
        SquareAttack(eps=1.0, bounds=data_bounds(X_all),
                     constraints=Constraints(immutable=["age"])).apply(clf, X, y)


def test_integer_feature_with_fractions_is_refused():
    X = np.array([[0.5, 0.2]])
    with pytest.raises(ValidationError, match="integer features hold non-integer"):
        Domain((2,), constraints=Constraints(integer=[0])).check(X)


def test_a_category_needs_two_values():
    with pytest.raises(ValidationError, match="at least two allowed values"):
        Constraints(categorical={"plan": [1]})
