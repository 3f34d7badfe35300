"""Paired bootstrap: intervals and p-values for statistics of per-row records.

Rows are resampled with replacement and the *same* resample is applied to every paired
quantity (clean and perturbed predictions of a row travel together), so an interval on a
difference accounts for the pairing. With more rows than ``max_rows``, each resample draws
``m = max_rows`` rows and the spread is rescaled by ``sqrt(m / n)``: the m-out-of-n
bootstrap (Bickel, Goetze & van Zwet 1997), valid for the smooth, root-n consistent
statistics used here and bounded in cost whatever the data size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from shakeout._validation import check_open_interval, check_positive_int

CHUNK = 64

_DRAWING = threading.Lock()
"""Held while a plan draws its resamples, so threads asking together (one precomputing them
while the model predicts, the findings of several grid points) draw them once."""


@dataclass(frozen=True)
class BootstrapPlan:
    """How to resample ``n`` rows: ``n_boot`` resamples of ``m`` rows each, from ``seed``.

    The same plan replays the same resamples, so statistics computed at different times
    (one per point of a severity grid) share them and can be combined replicate by replicate.

    Examples
    --------
    >>> plan = BootstrapPlan(n=5, n_boot=3, seed=0)
    >>> [idx.shape for idx in plan.indices()]
    [(3, 5)]
    """

    n: int
    n_boot: int = 1000
    seed: int = 0
    max_rows: int = 10_000

    def __post_init__(self) -> None:
        check_positive_int("BootstrapPlan", "n", self.n)
        check_positive_int("BootstrapPlan", "n_boot", self.n_boot, 10 if self.n_boot >= 10 else 1)
        check_positive_int("BootstrapPlan", "max_rows", self.max_rows, 2)

    @property
    def m(self) -> int:
        """Rows per resample."""
        return min(self.n, self.max_rows)

    @property
    def scale(self) -> float:
        """Factor that maps the spread of an m-row resample to the spread at n rows."""
        return float(np.sqrt(self.m / self.n))

    def _draw(self) -> np.ndarray:
        """The resamples' row indices ``(n_boot, m)``, in the order drawn."""
        dtype = np.int32 if self.n < 2**31 else np.int64
        return np.random.default_rng(self.seed).integers(0, self.n, size=(self.n_boot, self.m),
                                                         dtype=dtype)

    @cached_property
    def _all_indices(self) -> np.ndarray:
        idx = self._draw()
        idx.sort(axis=1)  # a resample is a multiset: sorted, its gathers walk memory in order
        return idx

    def indices(self) -> Iterator[np.ndarray]:
        """Row indices of the resamples, in chunks of shape ``(chunk, m)``.

        Drawn once and kept (at most ``n_boot x max_rows`` integers, 40 MB by default), so
        every statistic computed from this plan sees the same resamples. Each resample's
        indices are sorted: the statistics here do not depend on the order of rows, and
        ordered gathers from large arrays are several times faster.
        """
        with _DRAWING:
            idx = self._all_indices
        for start in range(0, self.n_boot, CHUNK):
            yield idx[start:start + CHUNK]

    @cached_property
    def _counts(self):
        from scipy import sparse

        # One key per draw, row-major (row x n_boot + resample): sorted, equal keys are the
        # repeats of a row in a resample and the keys come grouped by row, which is the
        # order of a CSC matrix: no transposition (a random scatter over all rows) needed.
        b = self.n_boot
        key_type = np.uint32 if self.n * b < 2**32 else np.uint64
        keys = self._draw().astype(key_type)
        keys *= key_type(b)
        keys += np.arange(b, dtype=key_type)[:, None]
        keys = keys.ravel()
        keys.sort()
        first = np.empty(keys.size, dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        data = np.empty(starts.size, dtype=np.float32)  # repeats: distance to the next start
        np.subtract(starts[1:], starts[:-1], out=data[:-1], casting="unsafe")
        data[-1] = keys.size - starts[-1]
        keys = keys[starts]
        indptr = np.searchsorted(keys, np.arange(self.n + 1, dtype=key_type) * key_type(b))
        # Stored by column (row of the data): a product then streams through the data's
        # columns once, in order, adding into the small (n_boot, q) result, several times
        # faster than gathering rows per resample from an array larger than the cache.
        return sparse.csc_matrix(((data, (keys % key_type(b)).astype(np.int32), indptr)),
                                 shape=(b, self.n))

    def counts(self):
        """The resamples as a sparse ``(n_boot, n)`` matrix (CSC) of how often each row was drawn.

        Any statistic that is a function of weighted sums of per-row quantities gets all its
        replicates from one product ``plan.counts() @ columns``: one pass, however many
        statistics are stacked in ``columns``.

        >>> plan = BootstrapPlan(n=4, n_boot=10, seed=0)
        >>> plan.counts().sum(axis=1).A1.tolist() == [4.0] * 10
        True
        """
        with _DRAWING:
            return self._counts

    def replicates(self, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``statistic(idx)`` maps a ``(chunk, m)`` index array to ``chunk`` values."""
        return np.concatenate([np.asarray(statistic(idx), dtype=np.float64)
                               for idx in self.indices()])


def draw_counts(n_boot: int, draws: int, seed: int) -> np.ndarray:
    """How often each of ``draws`` perturbation draws is picked by each of ``n_boot`` resamples.

    The draw half of a two-way bootstrap over rows x draws (Owen 2007, "The pigeonhole
    bootstrap", Ann. Appl. Stat. 1(2)): rows and draws are resampled independently.

    >>> draw_counts(3, 4, 0).sum(axis=1).tolist()
    [4, 4, 4]
    """
    rng = np.random.default_rng([seed, 1])
    return rng.multinomial(draws, np.full(draws, 1.0 / draws), size=n_boot)


def draw_inflation(draws: int, level: float) -> float:
    """Factor on the draw bootstrap's deviations that makes a few draws honest.

    The bootstrap of a mean of ``R`` draws has variance ``(R - 1) / R`` of the unbiased one,
    and with few draws the normal quantile is too short: the factor
    ``sqrt(R / (R - 1)) * t_{R-1} / z`` turns the draw part into a Student-t interval
    (Student 1908), so a model-side perturbation with 5 draws is not given a 95% label at
    the coverage of a normal interval from 5 numbers.

    >>> round(draw_inflation(5, 0.95), 3)
    1.584
    """
    from scipy import stats

    if draws < 2:
        return 0.0
    q = (1 + level) / 2
    return float(np.sqrt(draws / (draws - 1)) * stats.t.ppf(q, draws - 1) / stats.norm.ppf(q))


def interval(estimate: float, replicates: np.ndarray, *, level: float = 0.95,
             scale: float = 1.0) -> tuple[float, float]:
    """Basic-percentile interval, the replicates' spread around ``estimate`` shrunk by ``scale``.

    With ``scale == 1`` this is the percentile interval of the replicates; otherwise the
    deviations of the replicates from their centre are scaled before taking quantiles.

    >>> reps = np.random.default_rng(0).normal(0.1, 0.01, 4000)
    >>> tuple(round(v, 3) for v in interval(0.1, reps))
    (0.081, 0.12)
    """
    check_open_interval("interval", "level", level, 0, 1)
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return (float("nan"), float("nan"))
    a = (1 - level) / 2
    if scale == 1.0:
        lo, hi = np.quantile(reps, [a, 1 - a])
        return (float(lo), float(hi))
    dev = (reps - np.mean(reps)) * scale
    lo, hi = np.quantile(dev, [a, 1 - a])
    return (float(estimate + lo), float(estimate + hi))


def p_value(estimate: float, replicates: np.ndarray, *, scale: float = 1.0,
            null: float = 0.0) -> float:
    """Two-sided bootstrap p-value for ``H0: statistic == null`` by centring the replicates.

    Counts the replicates whose deviation from their mean is at least as far from zero as
    the observed distance from ``null``, with the (k + 1) / (B + 1) correction so the
    p-value is never zero.

    >>> reps = np.random.default_rng(1).normal(0.0, 1.0, 999)
    >>> p_value(3.0, reps) < 0.01, p_value(0.1, reps) > 0.5
    (True, True)
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return 1.0
    dev = np.abs((reps - reps.mean()) * scale)
    k = int(np.sum(dev >= abs(estimate - null) - 1e-12))
    return (k + 1) / (reps.size + 1)


def p_floor(replicates: np.ndarray) -> float:
    """The smallest p-value :func:`p_value` can give from these replicates, ``1 / (B + 1)``
    for ``B`` finite ones: a p-value there only says "at most this"; more resamples lower it.

    >>> p_floor(np.zeros(999))
    0.001
    """
    return 1 / (int(np.isfinite(np.asarray(replicates, dtype=np.float64)).sum()) + 1)
