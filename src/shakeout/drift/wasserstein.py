"""Wasserstein-1 (earth mover's) distance between two numeric samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import (as_generator, check_choice, check_open_interval,
                                  check_positive_int)
from shakeout.drift._base import (SortedReference, band_status, check_bands, in_band, judge_test,
                                  make_finding)
from shakeout.drift._binning import simulated_p_value
from shakeout.drift._permutation import subsample, wasserstein_null
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

    A band alone is not a calibrated threshold: without drift the distance between two
    samples of 100 rows averages about 0.14 standard deviations, so the 0.1 band warned in
    95% of null windows. Each finding carries a permutation p-value (Pitman 1937: the
    distance over ``n_permutations`` random splits of the pooled sample, at most
    ``max_rows`` a side, seeded; exact under exchangeability, ties included) and is judged
    like a hypothesis test: within chance (``p >= alpha``) passes, beyond chance the band
    gives the verdict (warn band: small effect, warn; fail band: large, fail).

    Parameters
    ----------
    scale : {"std", "iqr", "none"}, default="std"
    warn, fail : float, default=0.1, 0.2
        Bands on the reported value (0.1 reference standard deviations is a common
        threshold for the normalised distance).
    alpha : float, default=0.05
        Level of the permutation test that gates the bands.
    n_permutations : int, default=1000
    max_rows : int or None, default=2000
        Rows a side in the permutation test (seeded subsample; the reported distance uses
        every row).
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import Wasserstein
    >>> rng = np.random.default_rng(0)
    >>> w = Wasserstein().fit(rng.normal(0, 2, size=10_000))
    >>> f = w.compare(rng.normal(1, 2, size=10_000))  # a shift of half a std
    >>> round(f.value, 2), f.p_value < 0.01, f.status
    (0.5, True, 'fail')
    """

    group = metric = "wasserstein"
    min_rows = 2

    def __init__(self, *, scale: str = "std", warn: float = 0.1, fail: float = 0.2,
                 alpha: float = 0.05, n_permutations: int = 1000, max_rows: int | None = 2000,
                 seed: Any = 0):
        self.scale = check_choice(self, "scale", scale, SCALES)
        self.warn, self.fail = check_bands(self, warn, fail)
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        self.max_rows = None if max_rows is None else check_positive_int(self, "max_rows",
                                                                         max_rows, 2)
        as_generator(seed, owner=self)
        self.seed = seed

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
        cur = np.sort(col.values)
        raw = wasserstein_sorted(self.reference_, cur)
        rng = as_generator(self.seed)
        a, b = subsample(self.reference_, self.max_rows, rng), subsample(cur, self.max_rows, rng)
        observed = raw if (len(a), len(b)) == (len(self.reference_), len(cur)) else (
            wasserstein_sorted(a, b))
        p, _ = simulated_p_value(wasserstein_null(a, b, self.n_permutations, rng), observed)
        bands = (self.warn, self.fail)
        if self.spread_ > 0:
            value = raw / self.spread_
            unit = {"std": "reference std", "iqr": "reference IQR", "none": "feature units"}
            message = (f"Wasserstein distance on {feature!r} is {in_band(value, bands)} "
                       f"{unit[self.scale]}.")
        else:
            value = 0.0 if raw == 0 else float("inf")
            message = (f"Wasserstein distance on {feature!r}: the reference is constant "
                       f"(spread 0), so the raw distance {raw:.4g} cannot be normalised.")
        band = band_status(value, self.warn, self.fail) if np.isfinite(value) else "fail"
        effect = {"pass": "negligible", "warn": "small", "fail": "large"}[band]
        status = judge_test(p, self.alpha, effect)
        message += (f" Permutation p={p:.3g}" + (
            f": within what chance gives at {len(a)} and {len(b)} rows, so it passes."
            if band != "pass" and status == "pass" else "."))
        details = {"bands": {"warn": self.warn, "fail": self.fail}, "raw": raw,
                   "scale": self.scale, "spread": self.spread_, "test": "Wasserstein",
                   "statistic_text": f"W={in_band(value, bands)}", "p_method": "permutation",
                   "n_permutations": self.n_permutations, "rows_tested": [len(a), len(b)],
                   "missing_reference": self.n_missing_, "missing_current": col.n_missing}
        return make_finding(self, feature=feature, value=value, status=status, effect=effect,
                            p_value=p, message=message, details=details)
