"""Fault populations: Leveugle's sample size, the exact hypergeometric interval, numbering."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.faults.population import (Population, hypergeometric_interval,
                                        leveugle_sample_size, sample)
from shakeout.stats import clopper_pearson
from calibration.bands import coverage_band

CALIBRATES = ("leveugle_sample_size", "hypergeometric_interval")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


def test_leveugle_matches_the_formula_on_hand_checked_values():
    # N = 1e6, e = 0.01, t = 2.58: 1e6 / (1 + 1e-4 * 999,999 / (6.6564 * 0.25)) = 16,368.6
    assert leveugle_sample_size(1_000_000, 0.01, t=2.58) == 16_369
    t = stats.norm.ppf(0.995)
    by_hand = 1e6 / (1 + 0.01 ** 2 * (1e6 - 1) / (t ** 2 * 0.25))
    assert leveugle_sample_size(1_000_000, 0.01, 0.99) == math.ceil(by_hand) == 16_317
    # p = 0.1 needs fewer: t^2 p (1 - p) is smaller
    assert leveugle_sample_size(10_000, 0.05, 0.95, p=0.1) == math.ceil(
        10_000 / (1 + 0.0025 * 9_999 / (stats.norm.ppf(0.975) ** 2 * 0.09)))
    assert leveugle_sample_size(50, 0.01, 0.99) == 50  # never more than the population
    with pytest.raises(ValidationError, match="margin must be in"):
        leveugle_sample_size(100, 0.0)


def test_interval_bounds_are_the_last_population_counts_not_rejected():
    k, n, N, level = 7, 40, 300, 0.95
    lo, hi = hypergeometric_interval(k, n, N, level)
    K_lo, K_hi = round(lo * N), round(hi * N)
    tail = (1 - level) / 2
    assert stats.hypergeom.sf(k - 1, N, K_lo, n) > tail >= stats.hypergeom.sf(k - 1, N, K_lo - 1, n)
    assert stats.hypergeom.cdf(k, N, K_hi, n) > tail >= stats.hypergeom.cdf(k, N, K_hi + 1, n)


def test_interval_tends_to_clopper_pearson_for_a_huge_population_and_is_a_point_when_whole():
    lo, hi = hypergeometric_interval(20, 200, 10 ** 9, 0.95)
    assert (lo, hi) == pytest.approx(clopper_pearson(20, 200, 0.95), abs=1e-6)
    assert hypergeometric_interval(4, 25, 25) == (0.16, 0.16)
    assert hypergeometric_interval(0, 10, 100)[0] == 0.0


def test_interval_covers_the_population_rate_at_its_level():
    N, K, n, level, trials = 500, 41, 60, 0.95, 1000
    population = np.zeros(N, bool)
    population[:K] = True
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(trials):
        k = int(population[sample(N, n, rng)].sum())
        lo, hi = hypergeometric_interval(k, n, N, level)
        covered += lo <= K / N <= hi
    low, _ = coverage_band(trials, level)
    assert covered >= low  # exact: at least the level (conservative where discrete)


def _site(name: str, size: int, dtype: str = "float32", bits: int = 32):
    return SimpleNamespace(name=name, size=size, dtype=dtype, bits=bits)


def test_population_numbers_every_fault_once():
    sites = (_site("a", 3), _site("b", 2, "int8", 8))
    pop = Population(sites, bits=(1, 6), kinds=("flip", "stuck_at_1", "random_value"), rows=2)
    assert pop.size == (3 + 2) * (2 * 2 + 1) * 2
    d = pop.decode(np.arange(pop.size))
    seen = set(zip(d["site"], d["element"], d["kind"], d["bit"], d["row"]))
    assert len(seen) == pop.size
    assert set(d["bit"][d["kind"] == 2]) == {-1}  # random_value has no bit
    assert pop.describe(0) == ("a", 0, 1, "flip", 0)
    every = Population((_site("c", 2, "float16", 16),))
    assert every.size == 32 and sorted(set(every.decode(np.arange(32))["bit"])) == list(range(16))


def test_random_value_faults_write_words_of_the_dtype():
    pytest.importorskip("torch")
    pop = Population((_site("w", 50, "int8", 8),), kinds=("random_value",))
    faults = pop.faults(np.arange(50), np.random.default_rng(0))
    values = [f.value for f in faults]
    assert all(-128 <= v <= 127 and float(v).is_integer() for v in values) and len(set(values)) > 10


def test_bad_populations_are_refused():
    with pytest.raises(ValidationError, match=r"bit position 8 is outside w \(int8, bits 0 to 7"):
        Population((_site("w", 4, "int8", 8),), bits=(8,))
    with pytest.raises(ValidationError, match="kinds must be one of"):
        Population((_site("w", 4),), kinds=("melt",))
    with pytest.raises(ValidationError, match="no fault sites"):
        Population(())


def test_sample_is_seeded_distinct_and_sorted():
    a, b = sample(1000, 50, np.random.default_rng(1)), sample(1000, 50, np.random.default_rng(1))
    assert a.tolist() == b.tolist() and len(set(a)) == 50 and a.tolist() == sorted(a)
