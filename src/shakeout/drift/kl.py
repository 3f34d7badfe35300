"""Kullback-Leibler divergence of the current distribution from the reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.drift._base import band_status, make_finding
from shakeout.drift._binning import BinnedDistance, proportions
from shakeout.drift._columns import numeric_column
from shakeout.errors import ValidationError
from shakeout.report.result import Finding

METHODS = ("histogram", "gaussian")
BAND_NAMES = {"pass": "minimal", "warn": "moderate", "fail": "significant"}


def gaussian_kl(mean_current: float, var_current: float, mean_reference: float,
                var_reference: float) -> float:
    """``KL(N(mean_current, var_current) || N(mean_reference, var_reference))`` in nats.

    >>> gaussian_kl(1.0, 1.0, 0.0, 1.0)
    0.5
    """
    return float(0.5 * (np.log(var_reference / var_current)
                        + (var_current + (mean_current - mean_reference) ** 2) / var_reference
                        - 1.0))


class KLDivergence(BinnedDistance):
    """``KL(current || reference)`` in nats: what describing current data by the reference loses.

    ``histogram`` (default) sums ``c_i * ln(c_i / r_i)`` over the reference bins (see
    :class:`~shakeout.drift.PSI` for the bins). A bin the current sample leaves empty adds
    exactly zero, and reference bins from quantiles are never empty, so smoothing (``eps``)
    only enters for current mass in a bin the reference never filled (an unseen category,
    or a uniform bin the reference left empty), where the true divergence is infinite.
    Binning can only lose information, so the histogram value approaches the true
    divergence from below as ``n_bins`` grows. Small samples inflate it: findings carry
    ``chance_p95`` and ``chance_p_value`` as for PSI (without drift, KL is about half of
    PSI). ``gaussian`` uses the closed form for two
    normal distributions with the samples' means and variances.

    Parameters
    ----------
    method : {"histogram", "gaussian"}, default="histogram"
    n_bins, binning, kind, eps
        As for :class:`~shakeout.drift.PSI` (histogram method only).
    warn, fail : float, default=0.05, 0.1
        Bands: below 0.05 minimal, 0.05-0.1 moderate, from 0.1 significant.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import KLDivergence
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=20_000), rng.normal(1.0, 1.0, size=20_000)
    >>> round(KLDivergence(method="gaussian").fit(ref).compare(cur).value, 2)
    0.5
    >>> round(KLDivergence(n_bins=50).fit(ref).compare(cur).value, 2)
    0.49
    """

    group = metric = "kl"
    chance_factor = 0.5

    def __init__(self, *, method: str = "histogram", n_bins: int = 10,
                 binning: str = "quantile", kind: str = "auto", eps: float = 1e-8,
                 warn: float = 0.05, fail: float = 0.1):
        super().__init__(n_bins=n_bins, binning=binning, kind=kind, eps=eps, warn=warn,
                         fail=fail)
        self.method = check_choice(self, "method", method, METHODS)
        self.numeric = method == "gaussian"

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
        """KL between two count vectors of one layout."""
        _, r = proportions(reference_counts, self.eps)
        c_raw, c = proportions(current_counts, self.eps)
        return float(np.sum(c_raw * np.log(c / r)))

    def fit(self, reference: Any) -> "KLDivergence":
        """Histogram: learn bins and count; gaussian: the reference mean and variance."""
        if self.method == "histogram":
            return super().fit(reference)
        col = numeric_column(reference, owner=type(self).__name__, role="reference",
                             min_rows=2)
        var = float(np.var(col.values, ddof=1))
        if var == 0:
            raise ValidationError(
                f"KLDivergence: reference column {col.name!r} is constant; the Gaussian KL "
                "divergence is undefined. Use method='histogram' or drop the column."
            )
        self.feature_, self.n_missing_ = col.name, col.n_missing
        self.moments_ = (len(col.values), float(np.mean(col.values)), var)
        self.fitted_ = True
        return self

    def compare(self, current: Any) -> Finding:
        """KL divergence of ``current`` from the reference."""
        if self.method == "histogram":
            return super().compare(current)
        self._require_fit()
        col = numeric_column(current, owner=type(self).__name__, role="current", min_rows=2)
        feature = col.name if col.name != "x" else self.feature_
        return self.gaussian_finding(self.moments_, (len(col.values), float(np.mean(col.values)),
                                                     float(np.var(col.values, ddof=1))),
                                     feature=feature)

    def gaussian_finding(self, reference: tuple[int, float, float],
                         current: tuple[int, float, float], *, feature: str) -> Finding:
        """The Finding from (n, mean, variance) of both samples; profiles call this too."""
        (_, mr, vr), (_, mc, vc) = reference, current
        if vc == 0:
            value = float("inf")
            message = (f"KL on {feature!r}: the current sample is constant, so its Gaussian "
                       "divergence from the reference is infinite.")
        else:
            value = gaussian_kl(mc, vc, mr, vr)
            message = self.describe(feature, value)
        details = {"bands": {"warn": self.warn, "fail": self.fail}, "method": "gaussian",
                   "reference_mean": mr, "reference_var": vr, "current_mean": mc,
                   "current_var": vc, "band": BAND_NAMES[band_status(value, self.warn,
                                                                     self.fail)]}
        return make_finding(self, feature=feature, value=value,
                            status="fail" if not np.isfinite(value)
                            else band_status(value, self.warn, self.fail),
                            effect=self.effect(value), message=message, details=details)

    def extra_details(self, value: float) -> dict:
        return {"band": BAND_NAMES[band_status(value, self.warn, self.fail)],
                "method": "histogram"}

    def describe(self, feature: str, value: float) -> str:
        band = BAND_NAMES[band_status(value, self.warn, self.fail)]
        return f"KL divergence on {feature!r} is {value:.4g} nats: {band}."
