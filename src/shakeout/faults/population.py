"""Fault populations: every single fault over sites x elements x bit positions x kinds (x
input rows for transient faults), how many of them a campaign must inject for a stated
margin and confidence (Leveugle et al. 2009), and the exact interval of a rate measured on a
sample drawn without replacement from that finite population (hypergeometric).

Examples
--------
>>> leveugle_sample_size(1_000_000, 0.01, t=2.58)
16369
>>> hypergeometric_interval(0, 100, 100)  # the whole population: the rate is exact
(0.0, 0.0)
>>> tuple(round(v, 4) for v in hypergeometric_interval(5, 50, 1000, 0.95))
(0.035, 0.215)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._validation import (check_choice, check_number, check_open_interval,
                                  check_positive_int)
from shakeout.errors import ValidationError

KINDS = ("flip", "stuck_at_0", "stuck_at_1", "random_value")
"""Fault kinds: a bit flipped, a bit forced to 0 or 1, the whole element replaced by a
random word of its dtype (no bit position)."""

BIT_KINDS = ("flip", "stuck_at_0", "stuck_at_1")


def leveugle_sample_size(N: int, margin: float = 0.01, confidence: float = 0.99,
                         p: float = 0.5, *, t: float | None = None) -> int:
    """Injections needed to estimate a rate over a population of ``N`` faults within
    ``margin`` at ``confidence`` (Leveugle, Calvez, Maistri & Vanhauwaert 2009, "Statistical
    fault injection: quantified error and confidence", DATE):
    ``n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p)))``, rounded up.

    Parameters
    ----------
    N : int
        Size of the fault population.
    margin : float, default=0.01
        ``e``: the half-width of the interval, as a rate (0.01 = one percentage point).
    confidence : float, default=0.99
        The interval's level; ``t`` is the normal quantile ``Phi^-1((1 + confidence) / 2)``.
    p : float, default=0.5
        The rate expected; 0.5 is the worst case (the most injections).
    t : float, optional
        The quantile itself instead of ``confidence`` (Leveugle et al. use 2.58 for 99%).

    Examples
    --------
    >>> leveugle_sample_size(1_000_000, 0.01, 0.99)  # t = 2.5758
    16317
    >>> leveugle_sample_size(100, 0.01, 0.99)  # a small population: all of it
    100
    """
    N = check_positive_int("leveugle_sample_size", "N", int(N) if float(N).is_integer() else N)
    check_open_interval("leveugle_sample_size", "margin", margin, 0, 1)
    check_open_interval("leveugle_sample_size", "confidence", confidence, 0, 1)
    check_open_interval("leveugle_sample_size", "p", p, 0, 1)
    if t is None:
        from scipy import stats

        t = float(stats.norm.ppf((1 + confidence) / 2))
    check_number("leveugle_sample_size", "t", t, 0, low_open=True)
    n = N / (1 + margin ** 2 * (N - 1) / (t ** 2 * p * (1 - p)))
    return min(N, math.ceil(n - 1e-9))


def hypergeometric_interval(k: int, n: int, N: int, level: float = 0.99
                            ) -> tuple[float, float]:
    """Exact interval for the rate ``K / N`` of a population of ``N`` items, ``k`` of ``n``
    drawn without replacement having the trait.

    The bounds are the smallest and largest ``K`` not rejected by the one-sided tests at
    ``(1 - level) / 2`` each (Buonaccorsi 1987, "A note on confidence intervals for
    proportions in finite populations", The American Statistician 41; Wright 1991): the
    interval covers the population's rate with probability at least ``level``. When the
    sample is the whole population (``n == N``) the rate is known and the interval is that
    point.

    >>> hypergeometric_interval(3, 10, 10)
    (0.3, 0.3)
    >>> lo, hi = hypergeometric_interval(20, 200, 10**7, 0.95)  # ~ Clopper-Pearson
    >>> round(lo, 4), round(hi, 4)
    (0.0622, 0.1502)
    """
    from scipy import stats

    check_open_interval("hypergeometric_interval", "level", level, 0, 1)
    if not 0 <= k <= n <= N:
        raise ValidationError(f"hypergeometric_interval: need 0 <= k <= n <= N, got k={k}, "
                              f"n={n}, N={N}.")
    if n == N:
        return (k / N, k / N)
    tail = (1 - level) / 2
    # P(X >= k | K) grows with K; P(X <= k | K) falls with K.
    lower = _first(lambda K: k == 0 or stats.hypergeom.sf(k - 1, N, K, n) > tail, k, N - n + k)
    upper = _last(lambda K: stats.hypergeom.cdf(k, N, K, n) > tail, k, N - n + k)
    return (lower / N, upper / N)


def _first(ok: Any, lo: int, hi: int) -> int:
    """The smallest integer in ``[lo, hi]`` where the monotone ``ok`` holds (``hi`` holds)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _last(ok: Any, lo: int, hi: int) -> int:
    """The largest integer in ``[lo, hi]`` where the monotone ``ok`` holds (``lo`` holds)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True)
class Population:
    """Every single fault over ``sites`` x elements x ``bits`` x ``kinds``, numbered.

    A fault's number is site-major, then element, then (kind, bit), then input row (for
    transient faults, ``rows`` inputs: the fault strikes that input alone). ``bits`` None
    means every bit of each site's dtype. ``random_value`` has no bit position: one fault
    per element (and row).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> site = SimpleNamespace(name="fc.weight", dtype="float32", size=6, bits=32)
    >>> pop = Population((site,), bits=(30, 31), kinds=("flip",))
    >>> pop.size, pop.describe(5)
    (12, ('fc.weight', 2, 31, 'flip', None))
    """

    sites: tuple[Any, ...]
    bits: tuple[int, ...] | None = None
    kinds: tuple[str, ...] = ("flip",)
    rows: int | None = None

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValidationError("faults: no fault sites to inject into; check where=, layers= "
                                  "and layer_types=.")
        kinds = tuple(self.kinds)
        if not kinds:
            raise ValidationError(f"faults: kinds must not be empty; choose from {list(KINDS)}.")
        for kind in kinds:
            check_choice("faults", "kinds", kind, KINDS)
        object.__setattr__(self, "kinds", kinds)
        if self.bits is not None:
            bits = tuple(int(b) for b in self.bits)
            if not bits:
                raise ValidationError("faults: bits must not be empty; leave it out (None) for "
                                      "every bit of each dtype.")
            object.__setattr__(self, "bits", tuple(sorted(set(bits))))
            for site in self.sites:
                _check_bits(site, self.bits)
        if self.rows is not None:
            check_positive_int("faults", "rows", self.rows)

    def site_bits(self, site: Any) -> tuple[int, ...]:
        """The bit positions faults take in ``site``."""
        return self.bits if self.bits is not None else tuple(range(site.bits))

    def _slots(self, site: Any) -> int:
        """Faults per element of ``site`` (over kinds and bits), per input row."""
        bit_kinds = sum(k in BIT_KINDS for k in self.kinds)
        return bit_kinds * len(self.site_bits(site)) + ("random_value" in self.kinds)

    @property
    def counts(self) -> np.ndarray:
        """Faults per site."""
        return np.array([s.size * self._slots(s) * (self.rows or 1) for s in self.sites],
                        dtype=np.int64)

    @property
    def size(self) -> int:
        """``N``: every fault of the population."""
        return int(self.counts.sum())

    def decode(self, numbers: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Arrays of each fault's site (its position in ``sites``), element, kind (its
        position in ``kinds``), bit (-1 for ``random_value``) and row (-1: permanent)."""
        numbers = np.asarray(numbers, dtype=np.int64)
        if numbers.size and (numbers.min() < 0 or numbers.max() >= self.size):
            raise ValidationError(f"faults: fault numbers must be in [0, {self.size}).")
        starts = np.concatenate([[0], np.cumsum(self.counts)])
        site = np.searchsorted(starts, numbers, side="right") - 1
        local = numbers - starts[site]
        rows = self.rows or 1
        row, local = local % rows, local // rows
        slots = np.array([self._slots(s) for s in self.sites])[site]
        slot, element = local % slots, local // slots
        nbits = np.array([len(self.site_bits(s)) for s in self.sites])[site]
        bit_kinds = [k for k in self.kinds if k in BIT_KINDS]
        is_bit = slot < nbits * len(bit_kinds)
        kind_of = np.array([self.kinds.index(k) for k in bit_kinds] or [0])
        kind = np.where(is_bit, kind_of[np.minimum(slot // nbits, len(kind_of) - 1)],
                        self.kinds.index("random_value") if "random_value" in self.kinds else 0)
        bit = np.full(numbers.shape, -1, dtype=np.int64)
        for s, the_site in enumerate(self.sites):
            take = is_bit & (site == s)
            bit[take] = np.asarray(self.site_bits(the_site))[(slot[take] % nbits[take])]
        return {"site": site, "element": element, "kind": kind, "bit": bit,
                "row": row if self.rows else np.full(numbers.shape, -1, dtype=np.int64)}

    def describe(self, number: int) -> tuple[str, int, int | None, str, int | None]:
        """One fault in words: (site name, element, bit, kind, row)."""
        d = {k: int(v[0]) for k, v in self.decode([number]).items()}
        return (self.sites[d["site"]].name, d["element"], None if d["bit"] < 0 else d["bit"],
                self.kinds[d["kind"]], None if d["row"] < 0 else d["row"])

    def faults(self, numbers: Sequence[int] | np.ndarray, rng: np.random.Generator) -> list[Any]:
        """The :class:`~shakeout.faults.inject.Fault` of each number; ``rng`` draws the
        words ``random_value`` writes (uniform over the dtype's bit patterns)."""
        from shakeout.faults.inject import Fault

        d = self.decode(numbers)
        out = []
        for s, e, k, b, r in zip(d["site"], d["element"], d["kind"], d["bit"], d["row"],
                                 strict=True):
            site, kind = self.sites[s], self.kinds[k]
            value = _random_word(site.dtype, rng) if kind == "random_value" else None
            out.append(Fault(site=site, index=int(e), bit=None if b < 0 else int(b), kind=kind,
                             value=value, row=None if r < 0 else int(r)))
        return out


def _check_bits(site: Any, bits: tuple[int, ...]) -> None:
    """Each bit position must exist in the site's dtype."""
    bad = [b for b in bits if not 0 <= b < site.bits]
    if bad:
        raise ValidationError(
            f"faults: bit position {bad[0]} is outside {site.name} ({site.dtype}, bits 0 to "
            f"{site.bits - 1}, 0 the least significant); choose bits in that range or leave "
            "bits out for every bit.")


def _random_word(dtype: str, rng: np.random.Generator) -> float:
    """A value whose bits are drawn uniformly from the dtype's bit patterns (NaN and inf
    included: they are words a corrupted register can hold)."""
    from shakeout.perturb.bits import BIT_WIDTH

    width = BIT_WIDTH[dtype]
    word = int(rng.integers(0, 2 ** width, dtype=np.uint64)) if width < 64 else int(
        rng.integers(0, 2 ** 63, dtype=np.uint64)) * 2 + int(rng.integers(0, 2))
    if dtype == "int8":
        return float(np.array([word], dtype=np.uint8).view(np.int8)[0])
    if dtype == "bfloat16":
        return float(np.array([word << 16], dtype=np.uint32).view(np.float32)[0])
    view = {"float64": (np.uint64, np.float64), "float32": (np.uint32, np.float32),
            "float16": (np.uint16, np.float16)}[dtype]
    return float(np.array([word], dtype=view[0]).view(view[1])[0])


def sample(N: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct fault numbers of ``N``, drawn uniformly without replacement, sorted
    (faults of one site then run together).

    >>> sample(10, 10, np.random.default_rng(0)).tolist() == list(range(10))
    True
    """
    if n >= N:
        return np.arange(N, dtype=np.int64)
    return np.sort(rng.choice(N, size=n, replace=False).astype(np.int64))


__all__ = ["KINDS", "Population", "hypergeometric_interval", "leveugle_sample_size", "sample"]
