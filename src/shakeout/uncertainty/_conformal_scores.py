"""Conformal scores and thresholds: the finite-sample quantile, its weighted form, LAC and APS.

Split conformal prediction (Vovk, Gammerman & Shafer 2005; Lei et al. 2018) turns the scores of
``n`` calibration rows into a threshold: the ``ceil((n + 1)(1 - alpha))``-th smallest score. A
new row's set holds every label (or value) whose score is at most that threshold; for
exchangeable rows it holds the truth with probability at least ``1 - alpha``, and below
``1 - alpha + 1 / (n + 1)`` when scores have no ties.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from shakeout.uncertainty._rowwise import blocks, columns, pick, sorted_columns


def _exact(alpha: float) -> Fraction:
    """``alpha`` as the decimal the user wrote (0.1 is 1/10, not the binary float nearest it),
    so ``ceil((n + 1)(1 - alpha))`` has no rounding error at the boundary."""
    return Fraction(str(float(alpha)))


def calibration_rank(n: int, alpha: float) -> int:
    """``ceil((n + 1)(1 - alpha))``: which order statistic of ``n`` scores is the threshold.

    >>> calibration_rank(9, 0.1), calibration_rank(100, 0.1), calibration_rank(8, 0.1)
    (9, 91, 9)
    """
    return math.ceil((n + 1) * (1 - _exact(alpha)))


def min_calibration_size(alpha: float) -> int:
    """Fewest calibration rows whose threshold is finite at ``alpha``: ``ceil(1 / alpha - 1)``.

    With fewer, ``ceil((n + 1)(1 - alpha)) > n`` and every set would hold every label.

    >>> min_calibration_size(0.1), min_calibration_size(0.05), min_calibration_size(0.3)
    (9, 19, 3)
    """
    a = _exact(alpha)
    return math.ceil((1 - a) / a)


def threshold(scores: np.ndarray, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of ``scores`` (``inf`` when that exceeds n).

    >>> threshold(np.arange(1.0, 10.0), 0.1), threshold(np.arange(1.0, 9.0), 0.1)
    (9.0, inf)
    """
    k = calibration_rank(len(scores), alpha)
    if k > len(scores):
        return math.inf
    return float(np.partition(scores, k - 1)[k - 1])


def weighted_thresholds(scores: np.ndarray, weights: np.ndarray, test_weights: np.ndarray,
                        alpha: float) -> np.ndarray:
    """Per test row, the ``1 - alpha`` quantile of the weighted calibration scores.

    Tibshirani, Barber, Candes & Ramdas (2019), "Conformal prediction under covariate shift",
    NeurIPS: with likelihood ratios ``w`` of the test over the calibration distribution, the
    threshold for a test row ``x`` is the ``1 - alpha`` quantile of
    ``sum_i p_i(x) delta(s_i) + p(x) delta(inf)``, where ``p_i(x) = w_i / (sum_j w_j + w(x))``
    and ``p(x) = w(x) / (sum_j w_j + w(x))``. It is ``inf`` (the set holds everything) when
    the calibration rows weigh too little. With equal weights it is the unweighted threshold.

    >>> s = np.arange(1.0, 10.0)
    >>> weighted_thresholds(s, np.ones(9), np.array([1.0, 5.0]), 0.1).tolist()
    [9.0, inf]
    """
    order = np.argsort(scores, kind="stable")
    cumulative = np.cumsum(weights[order])
    need = float(1 - _exact(alpha)) * (cumulative[-1] + test_weights)
    rank = np.searchsorted(cumulative, need, side="left")
    out = np.full(len(test_weights), np.inf)
    finite = rank < len(scores)
    out[finite] = scores[order][rank[finite]]
    return out


def lac_scores(proba: np.ndarray) -> np.ndarray:
    """Least ambiguous set-valued classifier scores, ``1 - p_j`` for every label ``j``.

    Sadinle, Lei & Wasserman (2019), "Least ambiguous set-valued classifiers with bounded
    error levels", JASA 114: sets ``{j : p_j >= 1 - q}`` are the smallest on average among
    sets with the coverage.

    >>> lac_scores(np.array([[0.7, 0.2, 0.1]])).round(2).tolist()
    [[0.3, 0.8, 0.9]]
    """
    return 1.0 - proba


def aps_scores(proba: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    """Adaptive prediction set scores for every label: the probability mass ranked above it,
    plus its own (times ``u`` per row when randomised, whole when ``u`` is None).

    Romano, Sesia & Candes (2020), "Classification with valid and adaptive coverage",
    NeurIPS: labels are ranked by probability (ties in column order); the score of label
    ``j`` is ``sum_{r(i) < r(j)} p_i + u p_j`` with ``u ~ U(0, 1)`` drawn per row, or
    ``+ p_j`` without randomisation. Sets ``{j : score_j <= q}`` are a top-ranked prefix.
    Without randomisation the last-ranked label scores 1 on every row: those ties only add
    coverage, which may then exceed ``1 - alpha + 1 / (n + 1)``.

    >>> aps_scores(np.array([[0.2, 0.5, 0.3]]), None).round(2).tolist()
    [[1.0, 0.5, 0.8]]
    >>> aps_scores(np.array([[0.2, 0.5, 0.3]]), np.array([0.5])).round(2).tolist()
    [[0.9, 0.25, 0.65]]
    """
    out = np.empty_like(proba, dtype=np.float64)
    for rows in blocks(len(proba)):
        block = proba[rows]
        order = np.argsort(-block, axis=1, kind="stable")
        ranked = np.take_along_axis(block, order, axis=1)
        mass = np.cumsum(ranked, axis=1)
        if u is not None:
            mass -= (1.0 - u[rows, None]) * ranked
        np.put_along_axis(out[rows], order, mass, axis=1)
    return out


def lac_sets(proba: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """``lac_scores(proba) <= limit`` a block of rows at a time (``limit``: ``(1, 1)``, one
    per class ``(1, k)`` or one per row ``(n, 1)``).

    >>> lac_sets(np.array([[0.7, 0.2, 0.1]]), np.array([[0.8]])).tolist()
    [[True, True, False]]
    """
    out = np.empty(proba.shape, dtype=bool)
    for rows in blocks(len(proba)):
        np.less_equal(lac_scores(proba[rows]), _rows(limit, rows), out=out[rows])
    return out


def aps_sets(proba: np.ndarray, u: np.ndarray | None, limit: np.ndarray) -> np.ndarray:
    """``aps_scores(proba, u) <= limit`` in float64, without ranking every label (``limit``:
    ``(1, 1)`` or one per row ``(n, 1)``; one per class goes through :func:`aps_scores`).

    Along the ranking, the scores never decrease, in floating point too: the running mass
    ``m_r = fl(m_{r-1} + p_(r))`` does not, and ``fl(c p_(r))`` with ``c = fl(1 - u)`` does not
    increase, so ``fl(m_r - fl(c p_(r)))`` does not decrease. A set is then the ``m``
    top-ranked labels, ``m`` the count of sorted scores within the limit: the labels at or
    above the ``m``-th largest probability ``t``, unless more than ``m`` labels are: then, of
    those equal to ``t``, the first in column order (the ranking's order of ties). Blocks
    holding a negative, NaN or infinite value take the ranking path.

    >>> p = np.array([[0.2, 0.5, 0.3], [0.25, 0.25, 0.5]])
    >>> aps_sets(p, None, np.array([[0.8]])).tolist()
    [[False, True, True], [True, False, True]]
    """
    proba = np.asarray(proba, dtype=np.float64)
    if limit.shape[1] > 1:
        return aps_scores(proba, u) <= limit
    out = np.empty(proba.shape, dtype=bool)
    for rows in blocks(len(proba)):
        block, q = proba[rows], _rows(limit, rows)[:, 0]
        k = block.shape[1]
        # the sorted columns between a row of -inf and one of inf: the top-th largest label
        # is at k + 1 - top, inf when top is 0; the next below it at k - top, -inf when none
        ladder = np.empty((k + 2, len(block)))
        ladder[0], ladder[-1] = -np.inf, np.inf
        ascending = sorted_columns(columns(block), out=ladder[1:-1])
        if not (ascending[0].min() >= 0 and ascending[-1].max() < np.inf):  # NaN: both ends
            out[rows] = aps_scores(block, None if u is None else u[rows]) <= q[:, None]
            continue
        top = _prefix(ascending[::-1], None if u is None else 1.0 - u[rows], q)
        cut = pick(ladder, k + 1 - top)
        np.greater_equal(block, cut[:, None], out=out[rows])
        tied = np.flatnonzero(pick(ladder, k - top) == cut)  # more labels than top reach it
        if len(tied):
            out[rows.start + tied] = _first_ranked(block[tied], top[tied], cut[tied])
    return out


def _rows(limit: np.ndarray, rows: slice) -> np.ndarray:
    """The block's rows of a limit with one row per data row, else the limit itself."""
    return limit if len(limit) == 1 else limit[rows]


def _prefix(ranked: np.ndarray, c: np.ndarray | None, q: np.ndarray) -> np.ndarray:
    """Per column of ``ranked`` ``(k, rows)`` (largest first): how many APS scores
    ``mass - c p`` (``mass`` without ``c``) are at most ``q``, computed with the same
    operations in the same order as :func:`aps_scores`."""
    mass = ranked[0].copy()
    score = np.empty_like(mass)
    within = np.empty(len(mass), dtype=bool)
    count = np.zeros(len(mass), dtype=np.uint8 if len(ranked) < 256 else np.intp)
    flags = within.view(count.dtype) if count.dtype == np.uint8 else within  # adds no cast
    for r, p in enumerate(ranked):
        if r:
            mass += p
        if c is not None:
            np.multiply(c, p, out=score)
            np.subtract(mass, score, out=score)
        np.less_equal(mass if c is None else score, q, out=within)
        if not within.any():  # the scores only grow along the ranking
            break
        np.add(count, flags, out=count)
    return count.astype(np.intp)


def _first_ranked(block: np.ndarray, top: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """The ``top`` highest-ranked labels of each row of ``block`` whose ``top``-th largest
    probability is ``cut``: those above it, then the first of those equal to it."""
    above = block > cut[:, None]
    equal = block == cut[:, None]
    room = top - above.sum(axis=1)
    return above | (equal & (np.cumsum(equal, axis=1) <= room[:, None]))
