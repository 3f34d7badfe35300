"""Anderson-Darling k-sample test (two samples): weighs the tails more than KS does."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
from scipy import stats

from shakeout._validation import check_open_interval
from shakeout.drift._base import (SortedReference, check_thresholds, make_finding, describe_test,
                                  judge_test)
from shakeout.drift.ks import ks_distance
from shakeout.report.result import Finding
from shakeout.stats import effect_label

P_FLOOR, P_CAP = 0.001, 0.25
_VARIANT = ({"variant": "midrank"}
            if "variant" in inspect.signature(stats.anderson_ksamp).parameters else {})


class ADTest(SortedReference):
    """Anderson-Darling k-sample test of one numeric feature (``scipy.stats.anderson_ksamp``).

    The statistic is the standardised midrank version of Scholz and Stephens (1987); the
    p-value is scipy's, interpolated from tables and therefore clipped to [0.001, 0.25]
    (``details["p_clipped"]`` says when). Its effect size is the KS distance ``D``, so the
    two tests speak the same units.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    effect_thresholds : (float, float, float), default=(0.05, 0.1, 0.2)
        ``D`` at which the effect is small, medium and large.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ADTest
    >>> rng = np.random.default_rng(0)
    >>> f = ADTest().fit(rng.normal(size=500)).compare(rng.normal(0, 1.6, size=500))
    >>> f.p_value, f.status
    (0.001, 'fail')
    """

    group = metric = "anderson"
    min_rows = 2

    def __init__(self, *, alpha: float = 0.05,
                 effect_thresholds: tuple[float, float, float] = (0.05, 0.1, 0.2)):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)

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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = stats.anderson_ksamp([self.reference_, cur], **_VARIANT)
        statistic, p = float(res.statistic), float(res.pvalue)
        text = f"A2={statistic:.3g}, D={d:.3g}"
        details.update(statistic_text=text, p_clipped=bool(p <= P_FLOOR or p >= P_CAP))
        return make_finding(self, feature=feature, value=statistic, p_value=p, effect=effect,
                            status=judge_test(p, self.alpha, effect), details=details,
                            message=describe_test("AD", feature, text, p, self.alpha, effect))
