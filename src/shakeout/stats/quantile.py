"""Distribution-free intervals for a median from order statistics."""

from __future__ import annotations

import numpy as np
from scipy import stats

from shakeout._validation import check_open_interval


def median_coverage(n: int, j: int) -> float:
    """Exact chance that the ``j``-th to ``(n + 1 - j)``-th smallest of ``n`` values hold the median.

    For any continuous distribution the count of values below the median is
    Binomial(n, 1/2), so the coverage is ``1 - 2 P(B <= j - 1)``.

    >>> median_coverage(3, 1)
    0.75
    """
    return float(1 - 2 * stats.binom.cdf(j - 1, n, 0.5))


def median_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Interval for the median of ``values``' distribution, from order statistics; exact.

    The interval runs from the ``j``-th to the ``(n + 1 - j)``-th smallest value, with ``j``
    the largest rank whose coverage (:func:`median_coverage`) is still at least ``level``
    (Thompson 1936; Conover, *Practical Nonparametric Statistics*, 3.2). No interval exists
    when even the sample range covers less than ``level``: ``1 - 2**(1 - n)`` is below 0.95
    for ``n <= 5``. Then the result is ``None``, never a range labelled with a level it does
    not reach. Infinite values are ordered as numbers (an infinite bound stays infinite).

    >>> median_interval(np.arange(1.0, 101.0), 0.95)
    (40.0, 61.0)
    >>> median_interval(np.array([1.0, 2.0, 3.0]), 0.95) is None
    True
    """
    check_open_interval("median_interval", "level", level, 0, 1)
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(v)
    if n == 0 or np.isnan(v).any():
        return None
    j = int(stats.binom.ppf((1 - level) / 2, n, 0.5))
    if j < 1:
        return None
    return float(v[j - 1]), float(v[n - j])


def median_interval_min_rows(level: float = 0.95) -> int:
    """Fewest values for which :func:`median_interval` exists at ``level``.

    >>> median_interval_min_rows(0.95), median_interval_min_rows(0.99)
    (6, 8)
    """
    check_open_interval("median_interval_min_rows", "level", level, 0, 1)
    return int(np.ceil(1 - np.log2(1 - level)))
