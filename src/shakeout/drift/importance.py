"""Feature importance, to weigh which drifting features matter.

From the model when it knows (``feature_importances_`` of trees, ``|coef_| * std`` of
linear models), else by permutation on labelled reference rows. Weights are normalised to
sum to one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import as_generator
from shakeout.models import Model


def _estimator_weights(model: Model, X: pd.DataFrame) -> np.ndarray | None:
    est = getattr(model, "estimator", None)
    if est is None:
        return None
    if hasattr(est, "steps"):  # a pipeline: only its last step's weights, if they line up
        X = _last_step_input(est, X)
        if X is None:
            return None
        est = est.steps[-1][1]
    imp = getattr(est, "feature_importances_", None)
    if imp is not None and len(imp) == X.shape[1]:
        return np.asarray(imp, dtype=np.float64)
    coef = getattr(est, "coef_", None)
    if coef is not None:
        coef = np.abs(np.atleast_2d(np.asarray(coef, dtype=np.float64))).sum(axis=0)
        numeric = X.apply(pd.to_numeric, errors="coerce")
        if len(coef) == X.shape[1] and numeric.notna().all().all():
            return coef * numeric.std().to_numpy()
    return None


def _last_step_input(pipeline: Any, X: pd.DataFrame) -> pd.DataFrame | None:
    """What a pipeline's last step sees, when its columns are still ``X``'s, one for one.

    A scaler changes each column's spread, so ``|coef_|`` must be weighed by the spread
    after it, not before; steps that add, drop or rename columns give None.
    """
    head = pipeline[:-1]
    try:
        names = [str(c) for c in head.get_feature_names_out()]
        inner = np.asarray(head.transform(X), dtype=np.float64)
    except Exception:  # noqa: BLE001 - any step that cannot say it keeps the columns
        return None
    if names != [str(c) for c in X.columns] or inner.shape != X.shape:
        return None
    return pd.DataFrame(inner, columns=X.columns)


def _permutation_weights(model: Model, X: pd.DataFrame, y: np.ndarray,
                         rng: np.random.Generator, max_rows: int = 2000,
                         n_repeats: int = 3) -> np.ndarray:
    from shakeout.drift.performance import score

    if len(X) > max_rows:
        keep = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
    base = score(model, X, y)
    sign = 1.0 if base.metric == "accuracy" else -1.0
    out = np.zeros(X.shape[1])
    for j, col in enumerate(X.columns):
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[col] = X[col].to_numpy()[rng.permutation(len(X))]
            out[j] += sign * (base.value - score(model, shuffled, y).value) / n_repeats
    return np.maximum(out, 0.0)


def feature_importance(model: Model, X: pd.DataFrame, y: Any = None, *,
                       seed: Any = 0) -> dict[str, float] | None:
    """Normalised importance per column of ``X``, or None when it cannot be had.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from shakeout.models import wrap
    >>> X = pd.DataFrame({"signal": np.r_[np.zeros(50), np.ones(50)], "noise": np.ones(100)})
    >>> m = wrap(DecisionTreeClassifier().fit(X, X["signal"]))
    >>> feature_importance(m, X)
    {'signal': 1.0, 'noise': 0.0}
    """
    weights = _estimator_weights(model, X)
    if weights is None and y is not None:
        weights = _permutation_weights(model, X, np.asarray(y), as_generator(seed))
    if weights is None or not np.isfinite(weights).all() or weights.sum() <= 0:
        return None
    weights = weights / weights.sum()
    return {str(c): float(w) for c, w in zip(X.columns, weights)}
