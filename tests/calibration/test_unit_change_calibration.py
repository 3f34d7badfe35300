"""Calibration of ``UnitChange``: without a unit change it essentially never fires; with
one (x10, x100, x1000 and their inverses) it nearly always does.

Null data sets come from one law for reference and current: continuous (normal, centred
on zero), positive (log-normal), tied (Poisson counts), integer category codes, and an
adversarial law whose non-zero values sit half at 1 and half at 10, so that the ratio of
magnitudes itself jumps by a factor of ten between samples. Small and large samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration.bands import rejection_band
from shakeout.drift import UnitChange

CALIBRATES = ("UnitChange",)
KINDS = ("continuous", "positive", "tied", "codes", "decades")
SIZES = ((20, 20), (50, 30), (2000, 2000))


def draw(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "continuous":
        return rng.normal(size=n)
    if kind == "positive":
        return rng.lognormal(3.0, 1.0, size=n)
    if kind == "tied":
        return rng.poisson(2.0, size=n).astype(np.float64)
    if kind == "codes":
        return rng.choice(np.arange(6.0), size=n, p=[0.3, 0.25, 0.2, 0.15, 0.07, 0.03])
    return rng.choice(np.array([0.0, 1.0, 10.0]), size=n, p=[0.2, 0.4, 0.4])


def fires(kind: str, n_ref: int, n_cur: int, trials: int, seed: int,
          factor: float = 1.0) -> int:
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(trials):
        test = UnitChange().fit(draw(kind, n_ref, rng))
        count += test.compare(draw(kind, n_cur, rng) * factor).status == "fail"
    return count


def null_case(kind: str, sizes: tuple[int, int], trials: int, seed: int) -> None:
    count = fires(kind, *sizes, trials, seed)
    high = rejection_band(trials, 0.001)[1]
    assert count <= high, f"{kind} {sizes}: {count} false unit changes in {trials} (max {high})"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sizes", SIZES)
def test_unit_change_essentially_never_fires_without_one(kind, sizes):
    null_case(kind, sizes, 60 if sizes[0] > 1000 else 200, seed=len(kind) + sizes[0])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sizes", SIZES)
def test_unit_change_null_rate_on_2000_windows(kind, sizes):
    null_case(kind, sizes, 500 if sizes[0] > 1000 else 2000, seed=7 + sizes[1])


@pytest.mark.parametrize("kind", ("continuous", "positive", "tied", "codes"))
@pytest.mark.parametrize("factor", (1000.0, 0.01, 10.0))
def test_unit_change_is_found_at_50_rows(kind, factor):
    assert fires(kind, 100, 50, 40, seed=3, factor=factor) >= 39
