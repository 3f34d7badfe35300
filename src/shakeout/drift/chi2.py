"""Chi-square test of homogeneity for a categorical feature (or a binned numeric one)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from shakeout._validation import check_choice, check_open_interval, check_positive_int
from shakeout.drift._base import check_thresholds, make_finding, describe_test, judge_test
from shakeout.drift._binning import BINNINGS, KINDS, BinnedReference
from shakeout.drift._columns import column_name
from shakeout.errors import ValidationError
from shakeout.report.result import Finding
from shakeout.stats import effect_label


class Chi2Test(BinnedReference):
    """Chi-square test that reference and current share one category distribution.

    Counts fall in the reference categories plus an unseen-category bin and a missing bin
    (see :class:`~shakeout.drift.PSI`); bins empty in both samples are left out. The
    statistic and p-value are ``scipy.stats.chi2_contingency`` on the 2 x k table (with
    Yates' correction only when k = 2, as scipy does). The effect size is the total
    variation distance between the two distributions (half the L1 distance, in [0, 1]).

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
                 effect_thresholds: tuple[float, float, float] = (0.05, 0.1, 0.2)):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.kind = check_choice(self, "kind", kind, KINDS)
        self.n_bins = check_positive_int(self, "n_bins", n_bins, 2)
        self.binning = check_choice(self, "binning", binning, BINNINGS)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)

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
        table = np.vstack([reference_counts, current_counts]).astype(np.float64)
        labels = np.asarray(self.binning_.labels, dtype=object)
        keep = table.sum(axis=0) > 0
        table, labels = table[:, keep], labels[keep]
        r, c = table[0] / table[0].sum(), table[1] / table[1].sum()
        tvd = float(0.5 * np.abs(r - c).sum())
        effect = effect_label(tvd, self.effect_thresholds)
        if table.shape[1] < 2:
            statistic, p, dof, low = 0.0, 1.0, 0, 0
        else:
            res = stats.chi2_contingency(table)
            statistic, p, dof = float(res.statistic), float(res.pvalue), int(res.dof)
            low = int((res.expected_freq < 5).sum())
        text = f"chi2={statistic:.3g}, dof={dof}, TVD={tvd:.3g}"
        message = describe_test("Chi-square", feature, text, p, self.alpha, effect)
        if low:
            message += (f" {low} expected counts are below 5, so the p-value is approximate;"
                        " merge rare categories or use larger windows.")
        details = {"test": "Chi-square", "statistic_text": text, "dof": dof, "tvd": tvd,
                   "low_expected": low, "bins": labels.tolist(),
                   "reference_counts": table[0].astype(int).tolist(),
                   "current_counts": table[1].astype(int).tolist()}
        return make_finding(self, feature=feature, value=statistic, p_value=p, effect=effect,
                            status=judge_test(p, self.alpha, effect), message=message,
                            details=details)
