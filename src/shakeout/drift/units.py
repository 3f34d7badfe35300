"""Unit changes: a numeric feature that arrives multiplied by a power of ten.

Metres become millimetres, dollars thousands of dollars, seconds milliseconds: the values
move by a factor of 10, 100, 1000 (or its inverse) and every drift statistic says "major
shift" without saying why. A unit change is a pipeline bug, so it is named as such and
the decision treats it as decisive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_number, check_open_interval, check_positive_int
from shakeout.drift._base import DriftTest, make_finding
from shakeout.drift._columns import numeric_column
from shakeout.drift.ks import ks_distance, ks_p_value
from shakeout.report.result import Finding

MAX_POWER = 12
"""Largest power of ten considered (a factor of 10^12 either way)."""
MAGNITUDE_ROWS = 10_000
"""Evenly spaced values a magnitude is taken over: its logarithm's standard error is then
about 1% of the values' log-spread, far inside a factor-of-two tolerance."""


def magnitude(values: np.ndarray) -> float:
    """The typical size of a sample: the geometric mean of ``|x|`` over its non-zero values.

    It scales exactly with the data (``magnitude(c * x) = |c| magnitude(x)``), whether the
    values are positive, centred on zero or mostly zero, and the logarithm tames outliers.
    A median would too, but on tied data (counts, codes) it jumps from one level to the
    next between samples (a ratio of 2 where nothing changed); a mean of logarithms moves
    smoothly. 0 when every value is 0. Taken over at most ``MAGNITUDE_ROWS`` evenly spaced
    values, so the check costs little beside the drift tests on large windows.

    >>> round(magnitude(np.array([-2.0, 0.0, 0.0, 1.0, 4.0])), 6)
    2.0
    """
    step = -(-len(values) // MAGNITUDE_ROWS)  # ceil: at most MAGNITUDE_ROWS values
    size = np.abs(values[::max(step, 1)])
    size = size[size != 0]
    return float(np.exp(np.mean(np.log(size)))) if size.size else 0.0


def factor_text(factor: float) -> str:
    """``x1000``, ``x0.001``: how a factor is written in messages.

    >>> factor_text(1000.0), factor_text(0.001), factor_text(1e6)
    ('x1000', 'x0.001', 'x1e+06')
    """
    return f"x{factor:g}"


class UnitChange(DriftTest):
    """Whether one numeric feature looks multiplied by a power of ten (a unit change).

    Three conditions, all needed, so that it essentially never fires without one:

    1. the ratio of the typical magnitudes (:func:`magnitude`, the geometric mean of
       ``|x|`` over non-zero values: a typical value for positive data, a spread for data
       centred on zero) lies within a factor ``1 + tolerance`` of ``10^k``, ``k != 0``;
    2. the current sample differs from the reference: two-sample KS p-value (Smirnov's
       law) below ``alpha``;
    3. divided by ``10^k`` the current sample matches the reference again: its KS distance
       is below ``match`` or not significant at ``alpha``.

    With fewer than ``min_rows`` values on either side nothing is judged (status ``info``).
    The finding's value is the ratio of magnitudes; ``details["factor"]`` is the power of
    ten (None when none fits) and ``details["d_raw"]`` / ``details["d_rescaled"]`` the KS
    distances before and after dividing by it. A unit change fails (effect ``large``) and
    its message says "looks like a unit change (x1000)"; anything else passes.

    Parameters
    ----------
    tolerance : float, default=1.0
        How near a power of ten the ratio must be: within a factor ``1 + tolerance`` (at
        most 2, so that neighbouring powers stay apart). The default, a factor of two,
        lets the noise of the magnitudes of small samples through; condition 3 is what
        tells a unit change from any other change of scale.
    alpha : float, default=0.001
        Significance that the current sample moved at all (and the level at which the
        rescaled sample must no longer differ).
    match : float, default=0.1
        KS distance below which the rescaled sample matches the reference in any case.
    min_rows : int, default=20
        Values each side needs before anything is judged.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import UnitChange
    >>> rng = np.random.default_rng(0)
    >>> income = rng.lognormal(10, 0.5, size=500)
    >>> f = UnitChange().fit(income).compare(rng.lognormal(10, 0.5, size=300) * 1000)
    >>> f.status, f.details["factor"], f.message.split(":")[0]
    ('fail', 1000.0, "'x' looks like a unit change (x1000)")
    >>> UnitChange().fit(income).compare(rng.lognormal(10.3, 0.5, size=300)).status
    'pass'
    """

    group = "units"
    metric = "magnitude_ratio"

    def __init__(self, *, tolerance: float = 1.0, alpha: float = 0.001, match: float = 0.1,
                 min_rows: int = 20):
        self.tolerance = check_number(self, "tolerance", tolerance, 0, 2, low_open=True)
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.match = check_number(self, "match", match, 0, 1, low_open=True)
        self.min_rows = check_positive_int(self, "min_rows", min_rows, 2)

    def fit(self, reference: Any) -> "UnitChange":
        """The reference's magnitude (NaN removed); it is sorted only if a ratio calls for
        the KS checks, which a window without a unit change never does."""
        col = numeric_column(reference, owner="UnitChange", role="reference")
        self.feature_, self.reference_ = col.name, col.values
        self.magnitude_ = magnitude(self.reference_)
        self._sorted: np.ndarray | None = None
        self.fitted_ = True
        return self

    def compare(self, current: Any) -> Finding:
        """The ratio of magnitudes, and whether it looks like a unit change."""
        self._require_fit()
        col = numeric_column(current, owner="UnitChange", role="current")
        feature = col.name if col.name != "x" else self.feature_
        cur, ref = col.values, self.reference_
        details: dict[str, Any] = {"factor": None, "tolerance": self.tolerance,
                                   "magnitude_reference": self.magnitude_,
                                   "magnitude_current": magnitude(cur)}
        if min(len(ref), len(cur)) < self.min_rows or not (
                self.magnitude_ > 0 and details["magnitude_current"] > 0):
            return make_finding(
                self, feature=feature, value=float("nan"), status="info", details=details,
                message=(f"Units of {feature!r} not judged: it needs {self.min_rows} values "
                         "a side, not all zero."))
        ratio = details["magnitude_current"] / self.magnitude_
        power = int(np.round(np.log10(ratio)))
        near = (power != 0 and abs(power) <= MAX_POWER
                and abs(np.log10(ratio) - power) <= np.log10(1 + self.tolerance))
        if near:
            factor = 10.0 ** power
            if self._sorted is None:
                self._sorted = np.sort(ref)
            ref, cur = self._sorted, np.sort(cur)
            d_raw = ks_distance(ref, cur)
            d_fix = ks_distance(ref, cur / factor)
            p_fix = ks_p_value(d_fix, len(ref), len(cur))
            details.update(d_raw=d_raw, d_rescaled=d_fix,
                           p_raw=ks_p_value(d_raw, len(ref), len(cur)), p_rescaled=p_fix)
            near = details["p_raw"] < self.alpha and (d_fix < self.match or p_fix >= self.alpha)
        if not near:
            return make_finding(
                self, feature=feature, value=ratio, status="pass", effect="negligible",
                details=details,
                message=(f"{feature!r} keeps its units: its typical magnitude is "
                         f"{ratio:.3g} times the reference's (no unit change)."))
        details["factor"] = factor
        return make_finding(
            self, feature=feature, value=ratio, status="fail", effect="large", details=details,
            message=(f"{feature!r} looks like a unit change ({factor_text(factor)}): its "
                     f"typical magnitude is {ratio:.4g} times the reference's, and divided "
                     f"by {factor:g} it matches the reference again (KS D {d_raw:.2f} -> "
                     f"{d_fix:.2f}). A unit change is a pipeline bug: fix the units upstream "
                     "(or retrain on the new ones) now."))
