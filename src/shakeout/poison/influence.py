"""Which training rows pushed a prediction: influence functions for a logistic model.

Koh & Liang (2017), "Understanding black-box predictions via influence functions", ICML:
removing training row ``i`` from a model fitted by minimising
``(1/n) sum_j loss_j + penalty`` changes the loss on a test point by, to first order,
``(1/n) g_test^T H^-1 g_i``, with ``g`` the loss gradients and ``H`` the exact Hessian of
the regularised objective at the fitted parameters. A positive value means the row helped
the prediction: without it the test loss would rise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.errors import ValidationError


def influence(estimator: Any, X: Any, y: Any, x: Any, label: Any = None) -> np.ndarray:
    """Per training row, the first-order change in the test loss at ``x`` if it were removed.

    ``estimator`` is a fitted binary scikit-learn ``LogisticRegression`` (L2 penalty, or none)
    on ``(X, y)``; the loss is the log loss of ``label`` at ``x`` (default: the predicted
    label). sklearn minimises ``C sum_j loss_j + |w|^2 / 2`` (intercept not penalised), so
    ``H = sum_j p_j (1 - p_j) z_j z_j^T + diag(1/C, ..., 1/C, 0)`` with ``z = (x, 1)`` and the
    removal effect is ``C g_test^T H^-1 g_i``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    >>> est = LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    >>> effect = influence(est, X, y, np.array([1.0, 0.0]))
    >>> effect.shape, bool(effect[y == 1].mean() > effect[y == 0].mean())
    ((60,), True)
    """
    coef = np.asarray(getattr(estimator, "coef_", None))
    if coef.ndim != 2 or coef.shape[0] != 1 or not hasattr(estimator, "predict_proba"):
        raise ValidationError("influence: pass a fitted binary LogisticRegression (coef_ of "
                              "shape (1, features)).")
    if getattr(estimator, "class_weight", None) is not None:
        raise ValidationError("influence: class_weight changes the loss; refit without it.")
    C = float(getattr(estimator, "C", 1.0))
    penalty = getattr(estimator, "penalty", "l2")
    ridge = 0.0 if penalty is None or not np.isfinite(C) else 1.0 / C
    Z = _design(X, estimator)
    theta = np.r_[coef[0], np.atleast_1d(estimator.intercept_)[:1]] if \
        estimator.fit_intercept else coef[0]
    targets = (np.asarray(y) == estimator.classes_[1]).astype(float)
    p = 1 / (1 + np.exp(-Z @ theta))
    H = (Z * (p * (1 - p))[:, None]).T @ Z
    H[np.diag_indices(coef.shape[1])] += ridge
    z = _design(np.atleast_2d(x), estimator)[0]
    if label is None:
        label = estimator.predict(np.atleast_2d(x))[0]
    t = float(label == estimator.classes_[1])
    g_test = (1 / (1 + np.exp(-z @ theta)) - t) * z
    v = np.linalg.lstsq(H, g_test, rcond=None)[0]
    weight = C if ridge else 1.0
    return weight * (Z @ v) * (p - targets)


def _design(X: Any, estimator: Any) -> np.ndarray:
    Z = np.asarray(X, dtype=np.float64)
    return np.c_[Z, np.ones(len(Z))] if estimator.fit_intercept else Z


__all__ = ["influence"]
