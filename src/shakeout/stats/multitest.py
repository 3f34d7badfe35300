"""Multiple-testing control: Bonferroni, Holm (step-down) and Benjamini-Hochberg."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import as_finite_array, check_choice

METHODS = ("holm", "bonferroni", "bh", "none")


def adjust_p_values(p_values: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values, to compare with alpha directly.

    ``holm`` and ``bonferroni`` control the family-wise error rate; ``bh``
    (Benjamini-Hochberg 1995) controls the false discovery rate under independence or
    positive dependence. ``none`` returns the p-values unchanged.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_p_values([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    check_choice("adjust_p_values", "method", method, METHODS)
    p = as_finite_array(p_values, name="p_values", ndim=1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must lie in [0, 1].")
    m = len(p)
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out
