"""The paired difference of two 0/1 outcomes on the same rows (Newcombe's method 10 from the
rows themselves): coverage of the true difference at small and larger n, with and without
discordant pairs, and the point estimate it is centred on."""

import numpy as np
import pytest

from calibration.bands import coverage_band
from shakeout.stats import paired_proportion_difference

CALIBRATES = ("paired_proportion_difference",)
TRIALS = 1000


@pytest.mark.parametrize("n", [20, 200])
@pytest.mark.parametrize("joint", [(0.70, 0.15, 0.05, 0.10), (0.85, 0.02, 0.02, 0.11)])
def test_coverage_of_the_true_difference(n, joint):
    """Rows draw (a, b) from a 2x2 law (p11, p10, p01, p00): the difference is p10 - p01."""
    rng = np.random.default_rng(n)
    cells = rng.choice(4, size=(TRIALS, n), p=joint)
    a, b = np.isin(cells, (0, 1)), np.isin(cells, (0, 2))
    truth = joint[1] - joint[2]
    covered = 0
    for x, y in zip(a, b):
        lo, hi = paired_proportion_difference(x, y, 0.95)
        assert lo <= x.mean() - y.mean() <= hi
        covered += lo <= truth <= hi
    assert covered >= coverage_band(TRIALS, 0.95)[0], f"{covered} of {TRIALS} at n={n}"


def test_no_discordant_pair_still_gives_an_interval():
    same = np.array([1, 0, 1, 1, 0, 1, 1, 1])
    lo, hi = paired_proportion_difference(same, same)
    assert lo < 0 < hi
