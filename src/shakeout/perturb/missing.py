"""Missing-data injection: values go missing completely at random or by their own value."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.perturb._base import Perturbation, register

MECHANISMS = ("mcar", "mnar")
IMPUTERS = ("mean", "median", "none")


@register
class MissingValues(Perturbation):
    """Blank out a fraction ``severity`` of numeric values, then impute or leave NaN.

    Parameters
    ----------
    mechanism : {"mcar", "mnar"}, default="mcar"
        ``mcar``: each value goes missing with probability ``severity``, independently.
        ``mnar`` (missing not at random, by value): a value's chance grows linearly with
        its quantile ``u`` in the reference, ``min(1, 2 x severity x u)``, so large values go
        missing most often and the average rate is ``severity`` (for ``severity <= 0.5``).
    impute : {"mean", "median", "none"}, default="mean"
        Fill with the reference mean or median of the feature (learnt at ``fit``), or leave
        NaN for models that handle missing values themselves (for example scikit-learn's
        HistGradientBoosting, XGBoost, LightGBM).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(100_000, 1))
    >>> out = MissingValues(impute="none").fit(X).apply(X, 0.2, seed=0)
    >>> round(float(np.isnan(out).mean()), 2)
    0.2
    >>> out = MissingValues(mechanism="mnar", impute="none").fit(X).apply(X, 0.2, seed=0)
    >>> round(float(np.isnan(out).mean()), 2), bool(np.nanmean(out) < X.mean() - 0.1)
    (0.2, True)
    """

    name = "missing_values"
    unit = "fraction of values missing"
    default_severities = (0.0, 0.05, 0.1, 0.2)
    max_severity = 1.0

    def __init__(self, *, mechanism: str = "mcar", impute: str = "mean"):
        self.mechanism = check_choice(self, "mechanism", mechanism, MECHANISMS)
        self.impute = check_choice(self, "impute", impute, IMPUTERS)

    def _fit_array(self, X: np.ndarray) -> None:
        stat = np.nanmedian if self.impute == "median" else np.nanmean
        fill = stat(X, axis=0) if self.impute != "none" else np.full(X.shape[1:], np.nan)
        self.fill_ = np.where(np.isfinite(fill), fill, 0.0) if self.impute != "none" else fill
        self.sorted_ = np.sort(X.reshape(len(X), -1), axis=0)

    def _quantiles(self, X: Any) -> np.ndarray:
        flat = X.reshape(len(X), -1)
        ref = self.sorted_
        u = np.empty_like(flat)
        for j in range(flat.shape[1]):  # one searchsorted per feature, vectorised over rows
            u[:, j] = np.searchsorted(ref[:, j], flat[:, j], side="right") / len(ref)
        return u.reshape(X.shape)

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        if self.mechanism == "mcar":
            prob = severity
        else:
            prob = np.minimum(1.0, 2.0 * severity * self._quantiles(X))
        mask = rng.random(X.shape) < prob
        return np.where(mask, np.broadcast_to(self.fill_, X.shape), X)
