"""Chi-square test of homogeneity for a categorical feature (or a binned numeric one)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from shakeout._validation import (as_generator, check_choice, check_open_interval,
                                  check_positive_int)
from shakeout.drift._base import check_thresholds, describe_test, in_band, judge_test, make_finding
from shakeout.drift._binning import (BINNINGS, KINDS, N_DRAWS, SIMULATE_BELOW,
                                     BinnedReference, category_moves, min_expected,
                                     simulated_p_value)
from shakeout.drift._columns import column_name
from shakeout.errors import ValidationError
from shakeout.report.result import Finding
from shakeout.stats import effect_label


def pearson_statistic(reference_counts: np.ndarray, current_counts: np.ndarray,
                      yates: bool = False) -> np.ndarray:
    """Pearson's chi-square of 2 x k tables (bins on the last axis), as scipy's
    ``chi2_contingency``; bins empty in both rows add nothing. ``yates`` applies Yates'
    correction (scipy does for one degree of freedom).

    >>> round(float(pearson_statistic(np.array([500, 500]), np.array([600, 400]))), 3)
    20.202
    """
    R = np.asarray(reference_counts, dtype=np.float64)
    C = np.asarray(current_counts, dtype=np.float64)
    n_ref = R.sum(axis=-1, keepdims=True)
    n_cur = C.sum(axis=-1, keepdims=True)
    pooled = R + C
    share = pooled / (n_ref + n_cur)
    total = np.zeros(np.broadcast_shapes(R.shape, C.shape)[:-1])
    for observed, n in ((R, n_ref), (C, n_cur)):
        expected = n * share
        gap = np.abs(observed - expected)
        if yates:
            gap = gap - np.minimum(0.5, gap)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = total + np.sum(np.where(pooled > 0, gap ** 2 / expected, 0.0), axis=-1)
    return total


class Chi2Test(BinnedReference):
    """Chi-square test that reference and current share one category distribution.

    Counts fall in the reference categories plus an unseen-category bin and a missing bin
    (see :class:`~shakeout.drift.PSI`); bins empty in both samples are left out. The
    statistic is ``scipy.stats.chi2_contingency``'s on the 2 x k table (with Yates'
    correction only when k = 2, as scipy does), and so is the p-value where every bin of
    the smaller sample expects at least 50 rows. On smaller windows the chi-square law does
    not hold (at 50 rows in ten reference-decile bins it rejects 2-3% of null windows at
    alpha 0.05: those bins fix the reference row of the table), and the p-value is
    simulated from tables drawn without drift (``n_permutations`` of them, seeded; see
    :func:`~shakeout.drift._binning.null_tables`): the exact conditional (permutation)
    null for categories and ties, the Dirichlet-multinomial law of rank exchangeability for
    quantile bins of continuous data. ``details["p_method"]`` says which. The effect size
    is the total variation distance between the two distributions (half the L1 distance,
    in [0, 1]).

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    kind : {"auto", "numeric", "categorical"}, default="auto"
        ``numeric`` bins numbers into ``n_bins`` reference-quantile bins first.
    n_bins, binning
        Bins of a numeric feature.
    effect_thresholds : (float, float, float), default=(0.05, 0.1, 0.2)
        Total variation distance at which the effect is small, medium and large.
    n_permutations : int, default=2000
        Tables drawn without drift on small windows.
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import Chi2Test
    >>> ref = np.array(["a"] * 500 + ["b"] * 500, dtype=object)
    >>> cur = np.array(["a"] * 600 + ["b"] * 400, dtype=object)
    >>> f = Chi2Test().fit(ref).compare(cur)
    >>> round(f.value, 2), round(f.p_value, 6), f.effect
    (19.8, 9e-06, 'small')
    """

    group = metric = "chi2"

    def __init__(self, *, alpha: float = 0.05, kind: str = "auto", n_bins: int = 10,
                 binning: str = "quantile",
                 effect_thresholds: tuple[float, float, float] = (0.05, 0.1, 0.2),
                 n_permutations: int = N_DRAWS, seed: Any = 0):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.kind = check_choice(self, "kind", kind, KINDS)
        self.n_bins = check_positive_int(self, "n_bins", n_bins, 2)
        self.binning = check_choice(self, "binning", binning, BINNINGS)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        as_generator(seed, owner=self)
        self.seed = seed

    def compare(self, current: Any) -> Finding:
        """Chi-square statistic and p-value of ``current`` against the reference counts."""
        self._require_fit()
        if len(current) == 0:
            raise ValidationError("Chi2Test: current column is empty; pass at least one row.")
        name = column_name(current)
        counts = self.binning_.counts(current, owner=type(self).__name__, role="current")
        return self.finding(self.reference_counts_, counts,
                            feature=name if name != "x" else self.feature_)

    def finding(self, reference_counts: np.ndarray, current_counts: np.ndarray, *,
                feature: str) -> Finding:
        """The Finding from two count vectors of one layout; profiles call this too."""
        reference_counts = np.asarray(reference_counts, dtype=np.int64)
        current_counts = np.asarray(current_counts, dtype=np.int64)
        table = np.vstack([reference_counts, current_counts]).astype(np.float64)
        labels = np.asarray(self.binning_.labels, dtype=object)
        keep = table.sum(axis=0) > 0
        table, labels = table[:, keep], labels[keep]
        r, c = table[0] / table[0].sum(), table[1] / table[1].sum()
        tvd = float(0.5 * np.abs(r - c).sum())
        effect = effect_label(tvd, self.effect_thresholds)
        method, low = "chi-square law", 0
        if table.shape[1] < 2:
            statistic, p, dof = 0.0, 1.0, 0
        else:
            res = stats.chi2_contingency(table)
            statistic, p, dof = float(res.statistic), float(res.pvalue), int(res.dof)
            low = int((res.expected_freq < 5).sum())
            n_cur = int(current_counts.sum())
            if min_expected(reference_counts, n_cur) < SIMULATE_BELOW:
                yates = dof == 1
                null, method = self.null_statistics(
                    reference_counts, current_counts,
                    lambda R, C: pearson_statistic(R, C, yates=yates))
                p = simulated_p_value(null, statistic)[0]
        text = f"chi2={statistic:.3g}, dof={dof}, TVD={in_band(tvd, self.effect_thresholds)}"
        categorical = self.binning_.kind == "categorical"
        notes = []
        if categorical and effect != "negligible":
            notes.append(f"Largest moves: {category_moves(labels, table[0], table[1])}.")
        if low and method == "chi-square law":
            notes.append(f"{low} expected counts are below 5, so the p-value is approximate; "
                         "merge rare categories or use larger windows.")
        message = " ".join([describe_test("Chi-square", feature, text, p, self.alpha, effect),
                            *notes])
        details = {"test": "Chi-square", "statistic_text": text, "dof": dof, "tvd": tvd,
                   "low_expected": low, "p_method": method, "bins": labels.tolist(),
                   "reference_counts": table[0].astype(int).tolist(),
                   "current_counts": table[1].astype(int).tolist()}
        if categorical:
            details["categories"] = labels.tolist()
        if notes:
            details["notes"] = " ".join(notes)
        return make_finding(self, feature=feature, value=statistic, p_value=p, effect=effect,
                            status=judge_test(p, self.alpha, effect), message=message,
                            details=details)
