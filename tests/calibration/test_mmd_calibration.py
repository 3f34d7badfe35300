"""MMD permutation test: its level on continuous, tied and one-hot categorical data.

Permuting the pooled sample makes the p-value exact whatever the law, ties included, and
keeps the level when the two sides differ in size (a test that shuffled only one side would
not). p-values are uniform on the grid k / (n_permutations + 1).
"""

import numpy as np
import pytest
from scipy import stats

from calibration.bands import assert_in_band, rejection_band
from shakeout.drift import MMDTest

CALIBRATES = ("MMDTest",)
DATA = {
    "continuous": lambda rng, n: rng.normal(size=(n, 2)),
    "tied": lambda rng, n: rng.poisson(2.0, size=(n, 3)).astype(float),
    "one-hot categories": lambda rng, n: np.eye(4)[rng.choice(4, n, p=[.4, .3, .2, .1])],
}


def _p_values(kind, n_ref, n_cur, trials, seed):
    rng = np.random.default_rng(seed)
    draw = DATA[kind]
    return np.array([MMDTest(n_permutations=49, seed=i, device="cpu")
                     .fit(draw(rng, n_ref)).compare(draw(rng, n_cur)).p_value
                     for i in range(trials)])


@pytest.mark.parametrize("kind", list(DATA))
def test_mmd_level_small_unequal_sizes(kind):
    p = _p_values(kind, 20, 35, 200, 0)
    assert_in_band(int(np.sum(p < 0.05)), rejection_band(200, 0.05), f"MMD size, {kind}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(DATA))
@pytest.mark.parametrize("sizes, trials", [((20, 35), 500), ((1000, 800), 200)])
def test_mmd_level_full(kind, sizes, trials):
    p = _p_values(kind, *sizes, trials, 1)
    assert_in_band(int(np.sum(p < 0.05)), rejection_band(trials, 0.05),
                   f"MMD size, {kind} {sizes}")
    assert stats.kstest(p, "uniform").pvalue > 1e-3  # discrete uniform on k / 50
