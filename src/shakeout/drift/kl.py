"""Kullback-Leibler divergence of the current distribution from the reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import as_generator, check_choice, check_open_interval
from shakeout.drift._base import band_status, in_band, judge_test, make_finding
from shakeout.drift._binning import N_DRAWS, BinnedDistance, proportions, simulated_p_value
from shakeout.drift._permutation import moments_null, subsample
from shakeout.drift._columns import numeric_column
from shakeout.errors import ValidationError
from shakeout.report.result import Finding

METHODS = ("histogram", "gaussian")
MAX_ROWS = 2000
"""Rows a side in the Gaussian method's permutation test (seeded subsample)."""
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
    exactly zero, and reference bins from quantiles are never empty, so ``smoothing`` only
    enters for current mass in a bin the reference never filled (an unseen category,
    or a uniform bin the reference left empty), where the true divergence is infinite.
    Binning can only lose information, so the histogram value approaches the true
    divergence from below as ``n_bins`` grows. Small samples inflate it: findings carry
    ``chance_p95`` and ``chance_p_value`` as for PSI (without drift, KL is about half of
    PSI). ``gaussian`` uses the closed form for two
    normal distributions with the samples' means and variances; its findings carry a
    permutation p-value (``n_permutations`` random splits of the pooled rows, at most 2,000
    a side, seeded; Pitman 1937) and the bands count only beyond chance (``p < alpha``),
    as for the Wasserstein distance. Histogram findings keep the PSI-style chance details.

    Parameters
    ----------
    method : {"histogram", "gaussian"}, default="histogram"
    n_bins, binning, kind, smoothing
        As for :class:`~shakeout.drift.PSI` (histogram method only).
    warn, fail : float, default=0.05, 0.1
        Bands: below 0.05 minimal, 0.05-0.1 moderate, from 0.1 significant.
    alpha : float, default=0.05
        Level of the Gaussian method's permutation test.
    n_permutations : int, default=2000
        Permutations (gaussian) or tables drawn without drift (histogram, small windows).
    seed : int, Generator or None, default=0

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
                 binning: str = "quantile", kind: str = "auto", smoothing: float = 1e-8,
                 warn: float = 0.05, fail: float = 0.1, alpha: float = 0.05,
                 n_permutations: int = N_DRAWS, seed: Any = 0):
        super().__init__(n_bins=n_bins, binning=binning, kind=kind, smoothing=smoothing,
                         warn=warn, fail=fail, n_permutations=n_permutations, seed=seed)
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.method = check_choice(self, "method", method, METHODS)
        self.numeric = method == "gaussian"

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> Any:
        """KL between two count vectors of one layout (bins on the last axis)."""
        _, r = proportions(reference_counts, self.smoothing)
        c_raw, c = proportions(current_counts, self.smoothing)
        return np.sum(c_raw * np.log(c / r), axis=-1)

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
        self.reference_ = col.values
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
        moments = (len(col.values), float(np.mean(col.values)), float(np.var(col.values, ddof=1)))
        rng = as_generator(self.seed)
        a = subsample(self.reference_, MAX_ROWS, rng)
        b = subsample(col.values, MAX_ROWS, rng)
        mr, vr, mc, vc = moments_null(a, b, self.n_permutations, rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            null = np.where((vc > 0) & (vr > 0), 0.5 * (np.log(vr / vc) + (vc + (mc - mr) ** 2)
                                                        / vr - 1.0), np.inf)
        observed = gaussian_kl(float(b.mean()), float(np.var(b, ddof=1)), float(a.mean()),
                               float(np.var(a, ddof=1))) if np.var(b) > 0 else np.inf
        p = simulated_p_value(null, observed)[0]
        return self.gaussian_finding(self.moments_, moments, feature=feature, p_value=p)

    def gaussian_finding(self, reference: tuple[int, float, float],
                         current: tuple[int, float, float], *, feature: str,
                         p_value: float | None = None) -> Finding:
        """The Finding from (n, mean, variance) of both samples; profiles call this too.

        With ``p_value`` (a permutation test on the rows) the bands count only beyond
        chance; without it (moments from profiles) the value is judged on the bands alone.
        """
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
        effect = self.effect(value) if np.isfinite(value) else "large"
        status = "fail" if not np.isfinite(value) else band_status(value, self.warn, self.fail)
        if p_value is not None:
            status = judge_test(p_value, self.alpha, effect)
            shown = in_band(value, (self.warn, self.fail))
            details.update(test="Gaussian KL", statistic_text=f"KL={shown}",
                           p_method="permutation", n_permutations=self.n_permutations)
            message += f" Permutation p={p_value:.3g}" + (
                ": within what chance gives at this size, so it passes."
                if effect != "negligible" and status == "pass" else ".")
        else:
            message += " No chance level from moments alone: judged on the bands."
        return make_finding(self, feature=feature, value=value, status=status,
                            p_value=p_value, effect=effect, message=message, details=details)

    def extra_details(self, value: float) -> dict:
        return {"band": BAND_NAMES[band_status(value, self.warn, self.fail)],
                "method": "histogram"}

    def describe(self, feature: str, value: float) -> str:
        band = BAND_NAMES[band_status(value, self.warn, self.fail)]
        return (f"KL divergence on {feature!r} is {in_band(value, (self.warn, self.fail))} nats: "
                f"{band}.")
