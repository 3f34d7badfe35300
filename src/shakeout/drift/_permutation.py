"""Permutation nulls of two-sample statistics on one numeric feature, vectorised and seeded.

Without drift the pooled sample is exchangeable: every split into ``n`` reference and ``m``
current rows is equally likely, so a statistic's permutation distribution gives an exact
p-value (Pitman 1937; ``(1 + #{null >= observed}) / (1 + B)``, never zero). Splits are drawn
as label masks over the pooled sample, a block of them at a time, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK_CELLS = 2_000_000
"""Label-mask cells (permutations x pooled rows) drawn at once."""


def subsample(values: np.ndarray, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_rows`` values drawn without replacement (seeded), in their order.

    >>> subsample(np.arange(10.0), 3, np.random.default_rng(0)).size
    3
    """
    if max_rows is None or len(values) <= max_rows:
        return values
    return values[np.sort(rng.choice(len(values), max_rows, replace=False))]


def label_blocks(n: int, m: int, n_permutations: int,
                 rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Boolean masks ``(block, n + m)``, True for the rows a permutation calls reference.

    >>> masks = np.vstack(list(label_blocks(3, 2, 4, np.random.default_rng(0))))
    >>> masks.shape, masks.sum(axis=1).tolist()
    ((4, 5), [3, 3, 3, 3])
    """
    total = n + m
    block = max(1, BLOCK_CELLS // max(total, 1))
    base = np.arange(total) < n
    done = 0
    while done < n_permutations:
        size = min(block, n_permutations - done)
        yield rng.permuted(np.broadcast_to(base, (size, total)), axis=1)
        done += size


def wasserstein_null(a: np.ndarray, b: np.ndarray, n_permutations: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Wasserstein-1 distances between permuted splits of the pooled ``a`` and ``b``.

    On the sorted pooled sample a split is a label mask; the distance is
    ``sum |F_a - F_b| * gap`` over consecutive pooled values, one cumulative sum per
    permutation (ties give zero gaps, so they are handled exactly).

    >>> null = wasserstein_null(np.arange(5.0), np.arange(5.0) + 0.5, 200,
    ...                         np.random.default_rng(0))
    >>> null.shape, bool(null.min() >= 0)
    ((200,), True)
    """
    pooled = np.sort(np.concatenate([a, b]), kind="mergesort")
    gaps = np.diff(pooled)
    n, m = len(a), len(b)
    steps = np.arange(1, n + m)
    out = []
    for mask in label_blocks(n, m, n_permutations, rng):
        fa = np.cumsum(mask[:, :-1], axis=1, dtype=np.float64)
        diff = np.abs(fa / n - (steps - fa) / m)
        out.append(diff @ gaps)
    return np.concatenate(out)


def moments_null(a: np.ndarray, b: np.ndarray, n_permutations: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Means and variances (ddof 1) of both sides over permuted splits of ``a`` and ``b``.

    >>> ma, va, mb, vb = moments_null(np.zeros(3), np.ones(3), 10, np.random.default_rng(0))
    >>> bool(np.allclose(ma * 3 + mb * 3, 3.0))
    True
    """
    pooled = np.concatenate([a, b])
    center = pooled.mean()
    x = pooled - center
    x2 = x * x
    n, m = len(a), len(b)
    total1, total2 = x.sum(), x2.sum()
    outs: list[list[np.ndarray]] = [[], [], [], []]
    for mask in label_blocks(n, m, n_permutations, rng):
        s1 = mask @ x
        s2 = mask @ x2
        ma, mb = s1 / n, (total1 - s1) / m
        va = (s2 - n * ma ** 2) / (n - 1)
        vb = ((total2 - s2) - m * mb ** 2) / (m - 1)
        for out, v in zip(outs, (ma + center, va, mb + center, vb)):
            out.append(v)
    return tuple(np.concatenate(o) for o in outs)
