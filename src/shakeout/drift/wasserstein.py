"""Wasserstein-1 (earth mover's) distance between two numeric samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.drift._base import SortedReference, band_status, check_bands, make_finding
from shakeout.report.result import Finding

SCALES = ("std", "iqr", "none")


def wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """``integral |F_a - F_b| dx`` from two sorted samples, as scipy's ``wasserstein_distance``.

    >>> wasserstein_sorted(np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    2.0
    """
    values = np.concatenate([a, b])
    values.sort(kind="mergesort")
    deltas = np.diff(values)
    fa = np.searchsorted(a, values[:-1], side="right") / len(a)
    fb = np.searchsorted(b, values[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * deltas))


class Wasserstein(SortedReference):
    """Wasserstein-1 distance of one numeric feature, normalised by the reference spread.

    The raw distance is in the feature's units (how far, on average, mass must move); the
    value reported divides it by the reference standard deviation (``scale="std"``, so 0.1
    means a tenth of a standard deviation), by the interquartile range (``"iqr"``, robust
    to outliers) or not at all (``"none"``). ``details["raw"]`` keeps the raw distance.

    Parameters
    ----------
    scale : {"std", "iqr", "none"}, default="std"
    warn, fail : float, default=0.1, 0.2
        Bands on the reported value (0.1 reference standard deviations is a common
        threshold for the normalised distance).

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import Wasserstein
    >>> rng = np.random.default_rng(0)
    >>> w = Wasserstein().fit(rng.normal(0, 2, size=10_000))
    >>> round(w.compare(rng.normal(1, 2, size=10_000)).value, 2)  # a shift of half a std
    0.5
    """

    group = metric = "wasserstein"
    min_rows = 2

    def __init__(self, *, scale: str = "std", warn: float = 0.1, fail: float = 0.2):
        self.scale = check_choice(self, "scale", scale, SCALES)
        self.warn, self.fail = check_bands(self, warn, fail)

    def fit(self, reference: Any) -> "Wasserstein":
        """Sort the reference and measure its spread."""
        super().fit(reference)
        if self.scale == "std":
            spread = float(np.std(self.reference_, ddof=1))
        elif self.scale == "iqr":
            q1, q3 = np.quantile(self.reference_, [0.25, 0.75])
            spread = float(q3 - q1)
        else:
            spread = 1.0
        self.spread_ = spread
        return self

    def compare(self, current: Any) -> Finding:
        """Distance of ``current`` from the reference, in reference spreads."""
        col, feature = self._current(current)
        raw = wasserstein_sorted(self.reference_, np.sort(col.values))
        if self.spread_ > 0:
            value = raw / self.spread_
            unit = {"std": "reference std", "iqr": "reference IQR", "none": "feature units"}
            message = f"Wasserstein distance on {feature!r} is {value:.4g} {unit[self.scale]}."
        else:
            value = 0.0 if raw == 0 else float("inf")
            message = (f"Wasserstein distance on {feature!r}: the reference is constant "
                       f"(spread 0), so the raw distance {raw:.4g} cannot be normalised.")
        status = band_status(value, self.warn, self.fail) if np.isfinite(value) else "fail"
        effect = {"pass": "negligible", "warn": "medium", "fail": "large"}[status]
        details = {"bands": {"warn": self.warn, "fail": self.fail}, "raw": raw,
                   "scale": self.scale, "spread": self.spread_,
                   "missing_reference": self.n_missing_, "missing_current": col.n_missing}
        return make_finding(self, feature=feature, value=value, status=status, effect=effect,
                            message=message, details=details)
