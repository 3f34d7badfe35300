"""Exact and score tests and intervals for counts: McNemar, sign-flip, Clopper-Pearson, Wilson,
Newcombe's paired difference."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from shakeout._validation import check_open_interval


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    ``b`` counts pairs right before and wrong after, ``c`` the reverse. Under the null each
    discordant pair is equally likely to fall either way, so ``b ~ Binomial(b + c, 1/2)``.

    >>> round(mcnemar_exact(12, 2), 4)
    0.0129
    >>> mcnemar_exact(0, 0)
    1.0
    """
    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(stats.binomtest(int(b), n, 0.5).pvalue)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for a proportion ``k / n``.

    >>> tuple(round(v, 4) for v in clopper_pearson(45, 50))
    (0.7819, 0.9667)
    """
    check_open_interval("clopper_pearson", "level", level, 0, 1)
    if n <= 0:
        return (0.0, 1.0)
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return (lo, hi)


def wilson(p: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` observed on ``n`` (effective) trials.

    Wilson (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22. Unlike the bootstrap or Wald interval it never collapses to a point at 0 or 1:
    30 rows all right give [0.886, 1], not [1, 1]. ``n`` may be an effective sample size
    (Korn & Graubard 1998) when the rows are averaged over several perturbation draws.

    >>> tuple(round(v, 4) for v in wilson(1.0, 30))
    (0.8865, 1.0)
    >>> tuple(round(v, 4) for v in wilson(0.9, 50))
    (0.7864, 0.9565)
    """
    check_open_interval("wilson", "level", level, 0, 1)
    if not n > 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf((1 + level) / 2))
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return (max(0.0, centre - half), min(1.0, centre + half))


def effective_size(p: float, variance: float, n_min: float, n_max: float) -> float:
    """Trials that give a binomial proportion ``p`` the estimated ``variance``, within bounds.

    Korn & Graubard (1998), "Confidence intervals for proportions with small expected
    number of positive counts estimated from survey data", Survey Methodology 24: an
    interval for a proportion from clustered data uses ``p (1 - p) / variance`` trials.
    Where the variance carries no information (``p`` at 0 or 1) the smallest honest size,
    ``n_min`` (the number of independent rows), is used.

    >>> round(effective_size(0.9, 0.09 / 400, 100, 500)), effective_size(1.0, 0.0, 100, 500)
    (400, 100.0)
    """
    if not (variance > 0 and 0 < p < 1):
        return float(n_min)
    return float(min(max(p * (1 - p) / variance, n_min), n_max))


def paired_difference_interval(p1: float, ci1: tuple[float, float], p2: float,
                               ci2: tuple[float, float], phi: float) -> tuple[float, float]:
    """Interval for ``p1 - p2`` from each proportion's score interval and their correlation.

    Newcombe (1998), "Improved confidence intervals for the difference between binomial
    proportions based on paired data", Stat. Med. 17, method 10; in general form the MOVER
    of Zou & Donner (2008), Stat. Med. 27. With paired 0/1 outcomes, Wilson intervals and
    the phi coefficient this is Newcombe's method 10; it stays honest when nothing moved
    (no discordant pairs gives a non-degenerate interval) where the bootstrap gives [0, 0].

    >>> lo, hi = paired_difference_interval(0.9, wilson(0.9, 100), 0.85, wilson(0.85, 100), 0.6)
    >>> round(lo, 4), round(hi, 4)
    (-0.0108, 0.1165)
    """
    phi = float(np.clip(phi if np.isfinite(phi) else 0.0, -1.0, 1.0))
    (l1, u1), (l2, u2) = ci1, ci2
    d = p1 - p2
    lo = d - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    hi = d + math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    return (max(lo, -1.0), min(hi, 1.0))



def paired_proportion_difference(a: np.ndarray, b: np.ndarray,
                                 level: float = 0.95) -> tuple[float, float]:
    """Interval for ``mean(a) - mean(b)`` of 0/1 outcomes ``a`` and ``b`` on the same rows:
    :func:`paired_difference_interval` from each share's Wilson interval and their phi
    coefficient (0 when either side is constant).

    >>> a = np.array([1, 1, 1, 0, 1, 1, 0, 1, 1, 1] * 3)
    >>> b = np.array([1, 0, 1, 0, 1, 0, 0, 1, 1, 1] * 3)
    >>> tuple(round(v, 4) for v in paired_proportion_difference(a, b))
    (0.055, 0.3398)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(a)
    p1, p2 = float(a.mean()), float(b.mean())
    phi = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
    return paired_difference_interval(p1, wilson(p1, n, level), p2, wilson(p2, n, level), phi)

SIGN_FLIP_EXACT_MAX = 4_000_000
"""Above this many support points of the exact null the normal approximation is used."""

SIGN_FLIP_EXACT_ROWS = 20_000
"""...or above this many non-zero changes, where the normal law is exact to many digits."""

SIGN_FLIP_DIRECT_WORK = 20_000_000
"""Up to this cost the exact law is convolved directly; beyond, through the Fourier transform."""

SIGN_FLIP_EXACT_WORK = 50_000_000
"""...or when distinct magnitudes x support points exceed this (the exact law's cost)."""


def sign_flip_test(changes: np.ndarray, draws: int = 1) -> float:
    """Two-sided paired randomization test of per-row changes that are multiples of ``1/draws``.

    Under the null each row's change is as likely to be ``+d`` as ``-d`` (Fisher 1935;
    Pitman 1937): the exact null law of the sum is the convolution of scaled binomials. A
    change of one row averaged over ``draws`` perturbation draws lies on the grid
    ``k / draws``; with one draw the changes are -1, 0, 1 and this is the exact McNemar test.

    >>> d = np.r_[np.ones(12), -np.ones(2), np.zeros(30)]
    >>> round(sign_flip_test(d), 4) == round(mcnemar_exact(12, 2), 4)
    True
    """
    k = np.rint(np.abs(np.asarray(changes, dtype=np.float64)) * draws).astype(np.int64)
    signs = np.sign(np.asarray(changes, dtype=np.float64))
    t_obs = int(np.sum(signs * k))
    k_all, k = k, k[k > 0]
    if k.size == 0:
        return 1.0
    counts = np.bincount(k)
    span = int(np.sum(k))
    size = 2 * span + 1
    mags = np.flatnonzero(counts)
    if (size > SIGN_FLIP_EXACT_MAX or mags.size * size > SIGN_FLIP_EXACT_WORK
            or k.size > SIGN_FLIP_EXACT_ROWS):
        sd = math.sqrt(float(np.sum(k.astype(np.float64) ** 2)))
        return float(min(1.0, 2 * stats.norm.sf((abs(t_obs) - 0.5) / sd)))
    if mags.size == 1:  # one magnitude: a binomial, exactly (McNemar with one draw)
        moved = signs[k_all > 0]
        return mcnemar_exact(int(np.sum(moved > 0)), int(np.sum(moved < 0)))
    if sum(size * (2 * mag * counts[mag] + 1) for mag in mags) <= SIGN_FLIP_DIRECT_WORK:
        # Convolving non-negative laws keeps relative accuracy in the far tail.
        pmf = np.ones(1)
        for mag in mags:
            step = np.zeros(2 * mag * counts[mag] + 1)
            step[::2 * mag] = stats.binom.pmf(np.arange(counts[mag] + 1), counts[mag], 0.5)
            pmf = np.convolve(pmf, step)
        values = np.arange(pmf.size) - span
        return float(min(1.0, pmf[np.abs(values) >= abs(t_obs)].sum()))
    # The null law of the sum is the inverse Fourier transform of its characteristic
    # function prod_k cos(k theta)^n_k on the size-point grid (absolute accuracy ~1e-13).
    theta = 2 * np.pi * np.arange(size // 2 + 1) / size
    phi = np.ones_like(theta)
    for mag in mags:
        phi *= np.cos(mag * theta) ** counts[mag]
    pmf = np.clip(np.fft.irfft(phi, n=size), 0, None)
    values = np.arange(size)
    values = np.where(values > span, values - size, values)
    tail = pmf[np.abs(values) >= abs(t_obs)].sum()
    return float(min(1.0, tail / pmf.sum()))
