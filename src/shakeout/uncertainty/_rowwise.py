"""Per-row kernels over class probabilities ``(n, k)``, a block of rows at a time.

A probability matrix is tall and narrow (a million rows, ten classes): numpy's reductions
along its short rows pay a loop per row. Here each block of :data:`BLOCK` rows is copied once
into columns ``(k, rows)`` that stay in the cache, and every step is a vector operation over
one column of all the block's rows. The sums run in the same order as a loop over the labels;
maxima, minima and sorting are exact, so their results equal numpy's bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import numpy as np

BLOCK = 16_384
"""Rows per block: ``k`` columns of them stay in a core's cache for small ``k``."""

NETWORK = 32
"""Most labels sorted by a sorting network; more go to ``np.sort``."""

TINY = float(np.finfo(np.float64).smallest_subnormal)
"""The smallest positive float64: ``log`` of it is finite."""


def blocks(n: int) -> Iterator[slice]:
    """The row slices of ``n`` rows, :data:`BLOCK` at a time.

    >>> [(s.start, s.stop) for s in blocks(BLOCK + 1)]
    [(0, 16384), (16384, 16385)]
    """
    for start in range(0, n, BLOCK):
        yield slice(start, min(start + BLOCK, n))


def columns(block: np.ndarray) -> np.ndarray:
    """The block's labels as contiguous rows ``(k, rows)``, in float64.

    >>> columns(np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)).tolist()[0]
    [0.20000000298023224, 0.6000000238418579]
    """
    out = np.empty(block.shape[::-1])
    np.copyto(out, block.T)
    return out


def top_two(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second largest value of every column of ``cols`` ``(k, rows)``
    (equal when the top value is there twice), ``k >= 2``.

    >>> [v.tolist() for v in top_two(np.array([[0.1, 0.5], [0.7, 0.5], [0.2, 0.0]]))]
    [[0.7, 0.5], [0.2, 0.5]]
    """
    first = np.maximum(cols[0], cols[1])
    second = np.minimum(cols[0], cols[1])
    low = np.empty_like(first)
    for row in cols[2:]:
        np.minimum(first, row, out=low)
        np.maximum(second, low, out=second)
        np.maximum(first, row, out=first)
    return first, second


def neg_plogp_sum(cols: np.ndarray) -> np.ndarray:
    """``-sum_j p_j log p_j`` of every column of ``cols`` ``(k, rows)``, ``0 log 0 = 0``,
    summed over the labels in order.

    >>> neg_plogp_sum(np.array([[0.5, 1.0], [0.5, 0.0]])).round(4).tolist()
    [0.6931, 0.0]
    """
    logs = np.maximum(cols, TINY)  # log of the smallest float, times 0, is 0
    np.log(logs, out=logs)
    logs *= cols
    total = np.add.reduce(logs, axis=0)
    # 0 - x: the sum of the terms -p log p (rounding is symmetric), and +0.0 for a sure row
    return np.subtract(0.0, total, out=total)


@cache
def _network(k: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort on ``k`` wires: the compare-exchange pairs, in order.

    Batcher (1968), "Sorting networks and their applications", AFIPS: merging sorted halves
    by their odd and even subsequences sorts any input with ``O(k log^2 k)`` comparators.

    >>> len(_network(10)), _network(3)
    (32, ((0, 1), (0, 2), (1, 2)))
    """
    pairs = []
    width = 1
    while width < k:
        step = width
        while step >= 1:
            for j in range(step % width, k - step, 2 * step):
                for i in range(min(step, k - j - step)):
                    if (i + j) // (2 * width) == (i + j + step) // (2 * width):
                        pairs.append((i + j, i + j + step))
            step //= 2
        width *= 2
    return tuple(pairs)


def sorted_columns(cols: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Every column of ``cols`` ``(k, rows)`` sorted ascending, into ``out`` when given
    (``cols`` is overwritten): the same values as ``np.sort(cols, axis=0)`` when none is NaN.

    >>> sorted_columns(np.array([[0.3, 0.1], [0.1, 0.9], [0.6, 0.0]])).tolist()
    [[0.1, 0.0], [0.3, 0.1], [0.6, 0.9]]
    """
    wires = list(np.sort(cols, axis=0) if len(cols) > NETWORK else cols)
    spare = np.empty_like(cols[0])
    for i, j in _network(len(cols)) if len(cols) <= NETWORK else ():
        np.minimum(wires[i], wires[j], out=spare)
        np.maximum(wires[i], wires[j], out=wires[j])
        wires[i], spare = spare, wires[i]
    return np.stack(wires, out=out)


def pick(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``rows[index[i], i]`` for every column ``i`` of ``rows`` ``(k, n)``.

    >>> pick(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0])).tolist()
    [3.0, 2.0]
    """
    n = rows.shape[1]
    return np.take(rows.reshape(-1), index * n + np.arange(n))
