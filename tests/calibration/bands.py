"""Binomial bands for calibration tests: how many rejections or covers chance allows.

A test of size ``alpha`` run on ``trials`` independent null data sets rejects
``Binomial(trials, alpha)`` times; a nominal-``level`` interval covers the truth
``Binomial(trials, level)`` times. The band holds the central ``confidence`` share of that
law, so a calibrated method fails a band test one time in a thousand.

>>> rejection_band(500, 0.05)
(11, 42)
>>> coverage_band(1000, 0.95)
(926, 971)
"""

from __future__ import annotations

import math

from scipy import stats

CONFIDENCE = 0.999


def rejection_band(trials: int, alpha: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """Lowest and highest rejection counts a size-``alpha`` test gives in ``trials`` nulls."""
    tail = (1 - confidence) / 2
    law = stats.binom(trials, alpha)
    return int(law.ppf(tail)), int(law.isf(tail))


def coverage_band(trials: int, level: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """Lowest and highest cover counts of a nominal-``level`` interval in ``trials`` draws."""
    return rejection_band(trials, level, confidence)


def assert_in_band(count: int, band: tuple[int, int], what: str) -> None:
    """Fail with the count, the band and what was counted."""
    lo, hi = band
    assert lo <= count <= hi, f"{what}: {count} outside the binomial band [{lo}, {hi}]"


def wilson_by_hand(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval of ``k`` successes in ``n`` trials, from its formula: the
    reference the code's intervals are checked against."""
    z = stats.norm.ppf((1 + level) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
