"""Anderson-Darling k-sample test (two samples): weighs the tails more than KS does."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
from scipy import optimize, stats

from shakeout._validation import as_generator, check_open_interval, check_positive_int
from shakeout.drift._base import (SortedReference, check_thresholds, describe_test, in_band,
                                  judge_test, make_finding)
from shakeout.drift.ks import ks_distance, tie_blocks, tied_labellings
from shakeout.report.result import Finding
from shakeout.stats import effect_label

P_FLOOR, P_CAP = 0.001, 0.25
"""The range of scipy's table p-values (Scholz and Stephens 1987, Table 2)."""
AD_INF_SD = float(np.sqrt(2.0 * (np.pi ** 2 - 9.0) / 3.0))
"""Standard deviation of the limiting law of A² for two samples (its mean is 1)."""
_VARIANT = ({"variant": "midrank"}
            if "variant" in inspect.signature(stats.anderson_ksamp).parameters else {})


def ad_midrank(ref_counts: np.ndarray, sizes: np.ndarray, n1: int, n2: int) -> np.ndarray:
    """Scholz and Stephens' midrank ``A²_akN`` (their eq. 7) of two samples, from counts.

    ``sizes`` are the pooled sample's tie-block sizes in value order and ``ref_counts`` the
    reference's count in each block (one row per labelling: any leading shape works), so
    a whole batch of permuted labellings is scored at once. For two samples both terms of
    the sum share one numerator, ``(N M_j - B_j n1)²``.

    >>> round(float(ad_midrank(np.array([1, 1, 0]), np.array([1, 2, 1]), 2, 2)), 6)
    1.25
    """
    total = n1 + n2
    sizes = np.asarray(sizes, dtype=np.float64)
    b = np.cumsum(sizes) - sizes / 2.0
    m = np.cumsum(ref_counts, axis=-1) - np.asarray(ref_counts, dtype=np.float64) / 2.0
    weight = sizes / total / (b * (total - b) - total * sizes / 4.0)
    inner = ((total * m - b * n1) ** 2 * weight).sum(axis=-1)
    return inner * (1.0 / n1 + 1.0 / n2) * (total - 1.0) / total


def ad_inf_sf(z: float) -> float:
    """``P(A² >= z)`` under the limiting law of the two-sample statistic, beyond tables.

    The limit is ``sum_j Z_j² / (j (j + 1))`` (Anderson and Darling 1952), whose moment
    generating function is ``sqrt(-2 pi t / cos(pi sqrt(1 + 8 t) / 2))``; its tail comes
    from the Lugannani-Rice saddlepoint formula (Lugannani and Rice 1980), within about 5%
    (on the conservative side) of simulation for ``z`` from 2.5 to 8, where scipy's tables
    end at ``p = 0.001`` (``z`` about 6).

    >>> round(ad_inf_sf(6.0), 5), f"{ad_inf_sf(60.0):.2e}"
    (0.001, '1.22e-27')
    """
    if z <= 1.0:
        return 1.0

    def cgf(t: float) -> float:
        s = np.sqrt(1.0 + 8.0 * t)
        return 0.5 * np.log(2.0 * np.pi * t) - 0.5 * np.log(-np.cos(np.pi * s / 2.0))

    def slope(t: float) -> float:
        s = np.sqrt(1.0 + 8.0 * t)
        return 1.0 / (2.0 * t) + np.pi * np.tan(np.pi * s / 2.0) / s

    def curvature(t: float) -> float:
        s = np.sqrt(1.0 + 8.0 * t)
        x = np.pi * s / 2.0
        return (-1.0 / (2.0 * t * t)
                + np.pi * (4.0 / s) * (np.pi / 2.0 * s / np.cos(x) ** 2 - np.tan(x)) / s ** 2)

    t = optimize.brentq(lambda v: slope(v) - z, 1e-6, 1.0 - 1e-15, xtol=1e-300, rtol=1e-15)
    w = np.sqrt(2.0 * (t * z - cgf(t)))
    u = t * np.sqrt(curvature(t))
    return float(np.clip(stats.norm.sf(w) + stats.norm.pdf(w) * (1.0 / u - 1.0 / w), 0.0, 1.0))


class ADTest(SortedReference):
    """Anderson-Darling k-sample test of one numeric feature (``scipy.stats.anderson_ksamp``).

    The statistic is the standardised midrank version of Scholz and Stephens (1987). On
    continuous data the p-value is scipy's, interpolated from their tables over
    [0.001, 0.25]; above the table it is capped at 0.25 (``details["p_clipped"]``), below
    it the limiting law's tail is computed (:func:`ad_inf_sf`, at the statistic
    standardised to that law's mean and variance), so a huge shift is not floored at
    0.001 and then hidden by a multiple-testing correction.

    With ties (counts, rounded values) scipy standardises the midrank statistic with the
    continuous-data variance, and a nominal 5% test rejects 7-9% of the time. Tied samples
    therefore get a permutation p-value instead: ``n_permutations`` seeded relabellings of
    the pooled sample, scored all at once from the tie-block counts,
    ``(1 + #{permuted >= observed}) / (1 + n_permutations)``. When none reaches the
    observed value the p-value is the limiting law's tail at the statistic standardised by
    the permutations' mean and variance, capped at the permutation floor and labelled an
    approximation in ``details["p_method"]``.

    Its effect size is the KS distance ``D``, so the two tests speak the same units.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    effect_thresholds : (float, float, float), default=(0.05, 0.1, 0.2)
        ``D`` at which the effect is small, medium and large.
    n_permutations : int, default=2000
        Relabellings for the p-value of tied samples (unused on continuous data).
    seed : int, Generator or None, default=0
        Seed of those relabellings.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ADTest
    >>> rng = np.random.default_rng(0)
    >>> f = ADTest().fit(rng.normal(size=500)).compare(rng.normal(0, 1.6, size=500))
    >>> f"{f.p_value:.1e}", f.status, f.details["p_method"]
    ('1.2e-05', 'fail', 'asymptotic tail (beyond the table)')
    >>> f = ADTest().fit(rng.integers(0, 5, 60)).compare(rng.integers(0, 5, 60))
    >>> f.details["p_method"]
    'permutation, ties'
    """

    group = metric = "anderson"
    min_rows = 2

    def __init__(self, *, alpha: float = 0.05,
                 effect_thresholds: tuple[float, float, float] = (0.05, 0.1, 0.2),
                 n_permutations: int = 2000, seed: Any = 0):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        as_generator(seed, owner=self)
        self.seed = seed

    def _permutation(self, cur: np.ndarray, sizes: np.ndarray) -> tuple[float, float, str]:
        """Midrank A², standardised as scipy does, and its permutation p-value."""
        ref = self.reference_
        n1, n2 = len(ref), len(cur)
        ends = np.cumsum(sizes)
        values = np.concatenate([ref, cur])
        values.sort(kind="stable")
        ref_counts = np.diff(np.searchsorted(ref, values[ends - 1], side="right"), prepend=0)
        observed = float(ad_midrank(ref_counts, sizes, n1, n2))
        null = np.concatenate([
            ad_midrank(counts, sizes, n1, n2)
            for counts in tied_labellings(sizes, n1, self.n_permutations,
                                          as_generator(self.seed))])
        # A² sums floating-point terms in a different order per labelling: compare with a
        # relative tolerance so ties with the observed value count as reached.
        exceed = int(np.sum(null >= observed * (1 - 1e-12)))
        p = (1.0 + exceed) / (1.0 + self.n_permutations)
        how = "permutation, ties"
        spread = float(np.std(null))
        if exceed == 0 and spread > 0:
            z = 1.0 + (observed - float(np.mean(null))) / spread * AD_INF_SD
            p = min(p, ad_inf_sf(z))
            how = "permutation floor; beyond it the limiting law (approximate), ties"
        return (observed - 1.0) / _scipy_sd(n1, n2), p, how

    def compare(self, current: Any) -> Finding:
        """AD statistic and p-value of ``current`` against the reference."""
        col, feature = self._current(current)
        cur = np.sort(col.values)
        d = ks_distance(self.reference_, cur)
        effect = effect_label(d, self.effect_thresholds)
        details = {"test": "AD", "n_reference": len(self.reference_), "n_current": len(cur),
                   "ks_distance": d, "missing_reference": self.n_missing_,
                   "missing_current": col.n_missing}
        if self.reference_[0] == self.reference_[-1] == cur[0] == cur[-1]:
            details["statistic_text"] = "both samples constant"
            return make_finding(self, feature=feature, value=0.0, p_value=1.0,
                                effect="negligible", status="pass", details=details,
                                message=f"AD on {feature!r}: both samples hold the same "
                                        "single value; no drift.")
        sizes = tie_blocks(self.reference_, cur)
        if sizes is not None:
            statistic, p, how = self._permutation(cur, sizes)
            clipped = False
            details["n_permutations"] = self.n_permutations
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                res = stats.anderson_ksamp([self.reference_, cur], **_VARIANT)
            statistic, p, how = float(res.statistic), float(res.pvalue), "table"
            clipped = bool(p >= P_CAP)
            if p <= P_FLOOR:
                p = min(P_FLOOR, ad_inf_sf(1.0 + statistic * AD_INF_SD))
                how = "asymptotic tail (beyond the table)"
        text = f"A2={statistic:.3g}, D={in_band(d, self.effect_thresholds)}"
        details.update(statistic_text=text, p_clipped=clipped, p_method=how)
        return make_finding(self, feature=feature, value=statistic, p_value=p, effect=effect,
                            status=judge_test(p, self.alpha, effect), details=details,
                            message=describe_test("AD", feature, text, p, self.alpha, effect))


def _scipy_sd(n1: int, n2: int) -> float:
    """scipy's (Scholz and Stephens') standard deviation of A² for two continuous samples."""
    k, total = 2, n1 + n2
    h_sum = 1.0 / n1 + 1.0 / n2
    hs_cs = (1.0 / np.arange(total - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, total)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * h_sum
    b = (2 * g - 4) * k ** 2 + 8 * h * k + (2 * g - 14 * h - 4) * h_sum - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k ** 2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * h_sum + 4 * h
    e = (2 * h + 6) * k ** 2 - 4 * h * k
    var = (a * total ** 3 + b * total ** 2 + c * total + e) / (
        (total - 1.0) * (total - 2.0) * (total - 3.0))
    return float(np.sqrt(var))
