"""Exact tests and intervals for counts: McNemar, Clopper-Pearson."""

from __future__ import annotations

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
