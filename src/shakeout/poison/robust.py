"""Robust training against poisoning: trimmed loss, bagging with its certified poisoning
radius, and retraining after removing the rows a scanner quarantines.

Each builder returns a training function ``train(X, y) -> model`` that the poison drill
(:func:`shakeout.poison.run`) measures like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from shakeout._validation import (as_generator, check_number, check_open_interval,
                                  check_positive_int)
from shakeout.errors import ValidationError
from shakeout.models._base import Model


def certified_radius(p_a: float, p_b: float, n: int, k: int) -> int:
    """The certified poisoning size of bagging: Jia, Cao & Gong (2021), Theorem 1.

    Jia, Cao & Gong (2021), "Intrinsic certified robustness of bagging against data
    poisoning attacks", AAAI. Bagging trains each base model on ``k`` rows drawn with
    replacement from the ``n`` training rows and predicts the label most base models give.
    With ``p_a`` a lower bound on the probability of the top label and ``p_b`` an upper bound
    on that of any other, the prediction holds for every training set with at most ``r``
    rows modified, deleted or inserted, for the largest ``r`` with

        max over n' in [n - r, n + r] of
        (n'/n)^k - 2 ((max(n, n') - r)/n)^k + 1 - (p_a' - p_b') < 0,

    where ``p_a' = floor(p_a n^k)/n^k`` and ``p_b' = ceil(p_b n^k)/n^k`` (the probabilities
    are multiples of ``1/n^k``). Returns -1 (abstain) when ``p_a <= p_b``.

    >>> certified_radius(1.0, 0.0, n=10, k=2)   # by hand: r = 3 gives 1 - 2 (7/10)^2 > 0
    2
    >>> certified_radius(0.5, 0.5, n=10, k=2)
    -1
    """
    n = check_positive_int("certified_radius", "n", n)
    k = check_positive_int("certified_radius", "k", k)
    check_number("certified_radius", "p_a", p_a, 0, 1)
    check_number("certified_radius", "p_b", p_b, 0, 1)
    if k * np.log(n) < 45:  # n^k exact in a float: round to the lattice of probabilities
        grid = float(n) ** k
        p_a, p_b = np.floor(p_a * grid) / grid, np.ceil(p_b * grid) / grid
    if p_a <= p_b:
        return -1
    low, high = 0, n  # r = 0 holds (p_a > p_b); r = n does not (nothing shared is left)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _holds(mid, p_a - p_b, n, k) else (low, mid)
    return low


def _holds(r: int, gap: float, n: int, k: int) -> bool:
    """Theorem 1's condition at ``r``: the worst ``n'`` keeps the top label ahead.

    For ``n' <= n`` the left side grows with ``n'``; for ``n' >= n`` it is
    ``(n'^k - 2 (n' - r)^k)/n^k``, which rises until ``n' = r / (1 - 2^(-1/(k-1)))`` and falls
    after, so the integers around that point, ``n`` and ``n + r`` are the candidates.
    """
    candidates = {n, n + r}
    if k > 1:
        turn = r / (1 - 0.5 ** (1 / (k - 1)))
        candidates |= {int(np.floor(turn)), int(np.ceil(turn))}
    worst = max(_side(m, r, n, k) for m in candidates if n <= m <= n + r)
    return worst + 1 - gap < 0


def _side(m: int, r: int, n: int, k: int) -> float:
    """``(m/n)^k - 2 ((m - r)/n)^k`` without overflow."""
    if m - r <= 0:
        return (m / n) ** k if k * np.log(m / n) < 700 else np.inf
    log_big = k * np.log(m / n)
    shrink = np.exp(k * np.log((m - r) / m))  # ((m - r)/m)^k in [0, 1]
    factor = 1 - 2 * shrink
    if factor <= 0:
        return float(factor * np.exp(min(log_big, 700)))
    return float(factor * np.exp(log_big)) if log_big < 700 else np.inf


def vote_bounds(counts: Any, alpha: float = 0.001) -> tuple[int, float, float]:
    """The top label's index, a lower bound on its probability and an upper bound on any
    other's, from base-model vote counts: one-sided Clopper-Pearson bounds at ``alpha / c``
    for each of the ``c`` labels (simultaneous at ``1 - alpha`` by Bonferroni), as in Jia
    et al. (2021); the runner-up's bound is at most ``1 - p_a``.

    >>> label, p_a, p_b = vote_bounds([1000, 0], alpha=0.001)
    >>> label, round(p_a, 5), round(p_b, 5)   # p_a = (alpha/2)^(1/1000)
    (0, 0.99243, 0.00757)
    """
    votes = np.asarray(counts, dtype=np.int64)
    check_open_interval("vote_bounds", "alpha", alpha, 0, 1)
    if votes.ndim != 1 or len(votes) < 2 or votes.sum() <= 0 or (votes < 0).any():
        raise ValidationError(f"vote_bounds: counts must be the non-negative votes for each "
                              f"of two or more labels, got {votes.tolist()}.")
    total, c = int(votes.sum()), len(votes)
    top = int(np.argmax(votes))
    a = alpha / c
    p_a = 0.0 if votes[top] == 0 else float(stats.beta.ppf(a, votes[top], total - votes[top] + 1))
    others = np.delete(votes, top)
    upper = np.where(others == total, 1.0,
                     stats.beta.ppf(1 - a, others + 1, np.maximum(total - others, 1)))
    return top, p_a, float(min(upper.max(), 1 - p_a))


class BaggedModel(Model):
    """Base models trained on bootstrap subsamples, predicting by majority vote.

    ``predict_proba`` is each label's share of the votes; :meth:`certify` gives each
    prediction's certified poisoning radius (Jia et al. 2021).
    """

    def __init__(self, models: list[Any], classes: np.ndarray, n: int, k: int):
        self.models, self.classes_, self.n, self.k = models, classes, n, k

    def votes(self, X: Any) -> np.ndarray:
        """Vote counts ``(rows, classes)``."""
        counts = np.zeros((len(X), len(self.classes_)), dtype=np.int64)
        for model in self.models:
            codes = np.searchsorted(self.classes_, np.asarray(model(X)))
            np.add.at(counts, (np.arange(len(X)), codes), 1)
        return counts

    def _raw(self, X: Any) -> np.ndarray:
        return self.votes(X) / len(self.models)

    def certify(self, X: Any, *, alpha: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels and their certified radii (-1: abstain), all bounds
        simultaneous at ``1 - alpha`` per row."""
        labels, radii = [], []
        for row in self.votes(X):
            top, p_a, p_b = vote_bounds(row, alpha)
            labels.append(self.classes_[top])
            radii.append(certified_radius(p_a, p_b, self.n, self.k))
        return np.asarray(labels), np.asarray(radii)


def bagging(fit: Callable[[Any, np.ndarray], Any], *, models: int = 50,
            sample_size: int | float = 0.5, seed: Any = 0) -> Callable[[Any, Any], BaggedModel]:
    """A training function that bags ``fit``: ``models`` base models, each trained on
    ``sample_size`` rows (a count, or a share of the rows) drawn with replacement.

    ``fit(X, y)`` returns something with ``predict``; a subsample holding one label gives a
    base model that always answers it.

    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
    >>> train = bagging(lambda X, y: LogisticRegression().fit(X, y), models=30, sample_size=20)
    >>> ens = train(X, y)
    >>> labels, radii = ens.certify(np.array([[3.0, 0.0], [0.0, 0.0]]))
    >>> labels.tolist(), bool(radii[0] > 0), int(radii[1])
    ([1, 0], True, -1)
    """
    check_positive_int("bagging", "models", models)
    check_number("bagging", "sample_size", sample_size, 0, low_open=True)

    def train(X: Any, y: Any) -> BaggedModel:
        labels = np.asarray(y)
        n = len(labels)
        k = int(sample_size) if sample_size >= 1 else max(1, int(round(sample_size * n)))
        rng = as_generator(seed, owner="bagging")
        base = []
        for _ in range(models):
            rows = rng.integers(0, n, size=k)
            sub = labels[rows]
            if len(np.unique(sub)) == 1:
                base.append(lambda Z, label=sub[0]: np.full(len(Z), label))
            else:
                base.append(fit(take(X, rows), sub).predict)
        return BaggedModel(base, np.unique(labels), n, k)

    train.__qualname__ = f"bagging(models={models}, sample_size={sample_size:g})"
    return train


def quarantined(fit: Callable[[Any, np.ndarray], Any], scanner: Any, *,
                budget: float = 0.05) -> Callable[[Any, Any], Any]:
    """A training function that trains ``fit``, scores the rows with ``scanner`` (given the
    trained model, for scanners that read it), removes the ``budget`` share of rows with the
    highest scores and trains again on the rest.

    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.poison.scanners import RobustZScore
    >>> X = np.r_[np.random.default_rng(0).normal(size=(99, 2)), [[40.0, 40.0]]]
    >>> y = (X[:, 0] > 0).astype(int)
    >>> train = quarantined(lambda X, y: LogisticRegression().fit(X, y), RobustZScore(),
    ...                     budget=0.01)
    >>> model = train(X, y); model.n_features_in_, int(model.coef_.shape[0])
    (2, 1)
    """
    check_number("quarantined", "budget", budget, 0, 1, high_open=True)

    def train(X: Any, y: Any) -> Any:
        labels = np.asarray(y)
        first = fit(X, labels)
        from shakeout.poison.simulate import fitted

        scores = scanner.scores(X, labels, model=fitted(first))
        drop = np.argsort(-scores, kind="stable")[:int(round(budget * len(labels)))]
        keep = np.setdiff1d(np.arange(len(labels)), drop)
        return fit(take(X, keep), labels[keep])

    train.__qualname__ = f"quarantined({getattr(scanner, 'name', type(scanner).__name__)}, " \
                         f"budget={budget:g})"
    return train


def trimmed(module: Any, *, trim: float = 0.1, **train_kwargs: Any) -> Callable[[Any, Any], Any]:
    """A training function for the poison drill that trains a torch classifier with trimmed
    loss: :func:`shakeout.models.training.train` with ``trim`` (from the second epoch on,
    each epoch leaves out the ``trim`` share of rows with the highest loss; Shen & Sanghavi
    2019).

    ``module`` is an ``nn.Module`` (``train`` trains a copy, so every call starts from the
    same weights) or a function of no arguments that builds one; ``train_kwargs`` are
    ``train``'s other settings (``epochs``, ``lr``, ``seed``...).

    >>> import torch
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> fit = trimmed(torch.nn.Linear(2, 2), trim=0.1, epochs=5, lr=0.1, validation=0.0)(X, y)
    >>> len(fit.history), fit.classes.tolist()
    (5, [0, 1])
    """
    from shakeout.models.training import train

    check_number("trimmed", "trim", trim, 0, 0.5, high_open=True)
    if not callable(module):
        raise ValidationError(f"trimmed: pass a torch module or a function that builds one, "
                              f"got {type(module).__name__}.")

    def fit(X: Any, y: Any) -> Any:
        net = module if hasattr(module, "parameters") else module()
        rows = X.to_numpy() if hasattr(X, "to_numpy") else X
        return train(net, rows, y, trim=trim, **train_kwargs)

    fit.__qualname__ = f"trimmed(trim={trim:g})"
    return fit


def take(X: Any, rows: np.ndarray) -> Any:
    """Rows of an array or a DataFrame by position."""
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


__all__ = ["BaggedModel", "bagging", "certified_radius", "quarantined", "trimmed", "vote_bounds"]
