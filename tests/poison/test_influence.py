"""Influence functions equal leave-one-out retraining to first order (Koh & Liang 2017)."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.influence import influence

CALIBRATES = ("influence", "tracin")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _loo_gap(n, seed=0):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)); y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    fit = lambda X, y: LogisticRegression(C=1.0, tol=1e-12, max_iter=1000).fit(X, y)
    est = fit(X, y)
    x = np.array([[0.8, -0.3]])
    loss = lambda e: -np.log(e.predict_proba(x)[0, 1])
    base = loss(est)
    actual = np.array([loss(fit(np.delete(X, i, 0), np.delete(y, i))) - base
                       for i in range(n)])
    return influence(est, X, y, x[0], label=1), actual


def test_influence_equals_leave_one_out_to_second_order():
    """The estimate is one Newton step: it misses by the second-order remainder, which is
    largest for high-leverage rows (measured: 16% of the largest effect at n = 40, 9% at
    n = 80, correlation above 0.998). The bound 20% leaves room for that; the miss must
    shrink as n doubles, which a wrong Hessian or gradient would not do."""
    small, actual_small = _loo_gap(40)
    big, actual_big = _loo_gap(80)
    assert np.corrcoef(small, actual_small)[0, 1] > 0.99
    miss_small = np.abs(small - actual_small).max()
    miss_big = np.abs(big - actual_big).max()
    assert miss_small < 0.2 * np.abs(actual_small).max()
    assert miss_big < 0.6 * miss_small


def test_influence_refuses_other_models():
    from sklearn.tree import DecisionTreeClassifier

    X = np.eye(4); y = [0, 1, 0, 1]
    with pytest.raises(ValidationError, match="neither a LogisticRegression nor a torch"):
        influence(DecisionTreeClassifier().fit(X, y), X, y, X[0])


def _three_classes(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    logits = X @ np.array([[2.0, 0.0], [-1.0, 1.5], [-1.0, -1.5]]).T
    y = (logits + rng.gumbel(size=(n, 3))).argmax(axis=1)
    return X, y


def _multinomial_gap(n, copies=1, seed=0):
    from sklearn.linear_model import LogisticRegression

    X, y = _repeated(*_three_classes(n, seed), copies)
    fit = lambda X, y: LogisticRegression(C=1.0, tol=1e-12, max_iter=5000).fit(X, y)
    est = fit(X, y)
    x = np.array([[0.3, 0.8]])
    loss = lambda e: -np.log(e.predict_proba(x)[0, 1])
    actual = np.array([loss(fit(np.delete(X, i, 0), np.delete(y, i))) - loss(est)
                       for i in range(n)])
    assert est.coef_.shape == (3, 2)
    return influence(est, X, y, x[0], label=1)[:n], actual


def _repeated(X, y, copies):
    """Every row ``copies`` times: the same problem with ``copies`` times the rows, so a
    row's effect shrinks like 1/copies and the second-order remainder like 1/copies^2."""
    return np.tile(X, (copies, 1)), np.tile(y, copies)


def _shrinks(small, big):
    """Correlation with leave-one-out above 0.99, and the worst miss (the second-order
    remainder, largest at high-leverage rows) shrinking faster than the effects as every
    row is doubled, which a wrong Hessian or gradient would not do."""
    for got, actual in (small, big):
        assert np.corrcoef(got, actual)[0, 1] > 0.99
    miss = [np.abs(got - actual).max() for got, actual in (small, big)]
    assert miss[0] < 0.35 * np.abs(small[1]).max()
    assert miss[1] < 0.6 * miss[0] * np.abs(big[1]).max() / np.abs(small[1]).max()


def test_multinomial_influence_equals_leave_one_out():
    """Three classes, sklearn's multinomial fit (C=1, tol 1e-12): the pseudo-inverse of the
    softmax Hessian gives the leave-one-out change in the test loss to first order
    (measured: correlation 0.998, worst miss 21% of the largest effect at n = 40, 9% with
    every row doubled)."""
    _shrinks(_multinomial_gap(40), _multinomial_gap(40, copies=2))


def test_multinomial_without_penalty_uses_the_pseudo_inverse():
    """C = inf: the Hessian is singular along the softmax's null directions; the answer is
    still finite and equals leave-one-out to first order."""
    from sklearn.linear_model import LogisticRegression

    X, y = _three_classes(50, seed=1)
    fit = lambda X, y: LogisticRegression(C=np.inf, tol=1e-12, max_iter=5000).fit(X, y)
    est = fit(X, y)
    x = np.array([[0.0, 0.0]])
    loss = lambda e: -np.log(e.predict_proba(x)[0, 0])
    actual = np.array([loss(fit(np.delete(X, i, 0), np.delete(y, i))) - loss(est)
                       for i in range(len(y))])
    got = influence(est, X, y, x[0], label=0)
    assert np.isfinite(got).all() and np.corrcoef(got, actual)[0, 1] > 0.99




def _fit_last_layer(net, X, y, weight_decay, start=None):
    """The last layer trained to convergence (L-BFGS) with the layers before it frozen, on
    train()'s objective: mean cross-entropy + weight_decay / 2 * |theta|^2."""
    import torch
    import torch.nn.functional as F

    last = net[-1]
    if start is not None:
        last.load_state_dict(start)
    with torch.no_grad():
        features = net[:-1](torch.as_tensor(X))
    target = torch.as_tensor(y)
    opt = torch.optim.LBFGS(last.parameters(), lr=1, max_iter=200, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        penalty = sum((p ** 2).sum() for p in last.parameters())
        loss = F.cross_entropy(last(features), target) + weight_decay / 2 * penalty
        loss.backward()
        return loss

    opt.step(closure)
    return net


def _last_layer_gap(n, copies=1, seed=2):
    torch = pytest.importorskip("torch")

    X, y = _repeated(*_three_classes(n, seed), copies)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    wd = 0.05
    _fit_last_layer(net, X, y, wd)
    full = {k: v.clone() for k, v in net[-1].state_dict().items()}
    x = np.array([0.5, -0.5], dtype=np.float32)

    def loss():
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(net(torch.as_tensor(x[None])),
                                                           torch.tensor([2])))

    base = loss()
    actual = []
    for i in range(n):
        _fit_last_layer(net, np.delete(X, i, 0), np.delete(y, i), wd, start=full)
        actual.append(loss() - base)
    net[-1].load_state_dict(full)
    return influence(net, X, y, x, label=2, weight_decay=wd)[:n], np.array(actual)


def test_last_layer_influence_of_a_torch_model_equals_leave_one_out():
    """A frozen random hidden layer, the last layer fitted to convergence (L-BFGS) on
    train()'s objective: the influence of each row equals retraining the last layer without
    it, to first order (measured: correlation 0.998, worst miss 20% of the largest effect at
    n = 30, 10% with every row doubled)."""
    _shrinks(_last_layer_gap(30), _last_layer_gap(30, copies=2))


def test_last_layer_influence_refuses_a_model_whose_output_is_not_the_last_layer():
    torch = pytest.importorskip("torch")

    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Softmax(dim=1))
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValidationError, match="not its last nn.Linear"):
        influence(net, X, np.array([0, 1, 2, 0]), X[0])


def test_tracin_equals_the_sum_of_gradient_dot_products_by_hand():
    """Pruthi et al.'s TracInCP computed row by row with autograd, over every checkpoint,
    for all parameters and for the last layer only."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from shakeout.models.training import train
    from shakeout.poison.influence import tracin

    X, y = _three_classes(40, seed=3)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    fit = train(net, X, y, epochs=3, batch_size=8, lr=0.05, validation=0.0,
                checkpoints=True, seed=0)
    x = np.array([0.2, 0.4], dtype=np.float32)

    def by_hand(names):
        copy = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(),
                                   torch.nn.Linear(5, 3))
        out = np.zeros(len(y))
        for point in fit.checkpoints:
            copy.load_state_dict(point.state)
            params = [p for k, p in copy.named_parameters() if k in names]
            g_test = torch.autograd.grad(F.cross_entropy(copy(torch.as_tensor(x[None])),
                                                         torch.tensor([1])), params)
            for i in range(len(y)):
                g = torch.autograd.grad(F.cross_entropy(copy(torch.as_tensor(X[i:i + 1])),
                                                        torch.tensor([y[i]])), params)
                out[i] += point.lr * sum(float((a * b).sum()) for a, b in zip(g_test, g))
        return out

    every = tracin(fit, X, y, x, label=1, batch_size=16)
    np.testing.assert_allclose(every, by_hand({"0.weight", "0.bias", "2.weight", "2.bias"}),
                               rtol=1e-4, atol=1e-6)
    last = tracin(fit, X, y, x, label=1, last_layer=True)
    np.testing.assert_allclose(last, by_hand({"2.weight", "2.bias"}), rtol=1e-4, atol=1e-6)
    assert not np.allclose(every, last)
    with pytest.raises(ValidationError, match="checkpoints=True"):
        tracin(train(net, X, y, epochs=1, validation=0.0), X, y, x)
