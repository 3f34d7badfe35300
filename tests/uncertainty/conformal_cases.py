"""Exchangeable synthetic data and fixed models for the conformal tests.

Classification: three classes, labels drawn from a softmax of a linear score of two normal
features; the model is a slightly wrong softmax (coverage must not need a perfect model).
Regression: ``y = 2 x1 - x2 + noise`` whose spread grows with ``x1``.
"""

from __future__ import annotations

import numpy as np

from shakeout.models import wrap

W_TRUE = np.array([[1.5, -1.0, 0.0], [0.0, 1.0, -1.2]])
W_MODEL = np.array([[1.2, -0.8, 0.1], [0.1, 1.3, -1.0]])


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def class_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 2))
    p = softmax(X @ W_TRUE)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return X, y


def model_proba(X: np.ndarray) -> np.ndarray:
    return softmax(np.asarray(X) @ W_MODEL)


CLASSIFIER = wrap(model_proba, task="classification")


def biased_proba(X: np.ndarray) -> np.ndarray:
    """A model that under-rates class 2 (its logit is 1 too low): marginal sets miss it."""
    return softmax(np.asarray(X) @ W_MODEL - np.array([0.0, 0.0, 1.0]))


BIASED = wrap(biased_proba, task="classification")


def reg_mean(X: np.ndarray) -> np.ndarray:
    return 2 * X[:, 0] - X[:, 1]


def reg_spread(X: np.ndarray) -> np.ndarray:
    return 0.5 + np.exp(0.7 * X[:, 0])


def reg_data(n: int, rng: np.random.Generator,
             shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ``x1 ~ N(shift, 1)``: a covariate shift changes only the features' law."""
    X = rng.normal(size=(n, 2))
    X[:, 0] += shift
    return X, reg_mean(X) + reg_spread(X) * rng.normal(size=n)


REGRESSOR = wrap(reg_mean, task="regression")


def reg_quantiles(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rough 5% and 95% quantiles (a too-narrow spread: CQR must widen them)."""
    centre, half = reg_mean(X), 1.2 * reg_spread(X)
    return centre - half, centre + half


def shift_ratio(shift: float):
    """The exact likelihood ratio of ``x1 ~ N(shift, 1)`` over ``N(0, 1)``."""
    return lambda X: np.exp(shift * np.asarray(X)[:, 0] - shift**2 / 2)


def mean_coverage_band(covered: np.ndarray, low: float, high: float, z: float = 3.29) -> tuple:
    """Mean coverage over draws and the band ``[low - z se, high + z se]`` it must lie in."""
    m = float(np.mean(covered))
    se = float(np.std(covered, ddof=1) / np.sqrt(len(covered)))
    return m, (low - z * se, high + z * se)
