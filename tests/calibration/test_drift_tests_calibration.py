"""Calibration of KS, Anderson-Darling, the domain classifier and the projection test.

Under no drift each test must reject ``alpha`` of the time, inside the 99.9% binomial band,
on continuous and tied data (rounded values, a few levels, counts), at small and large
sizes; the classifier's AUC interval must cover 0.5 at its nominal rate, also at 30 rows or
fewer; a stated shift must be found; p-values must be scipy's where scipy computes the
same thing. Fast versions (a few hundred trials) run by default, the full replication
counts are marked ``slow``. Every trial is seeded, so the counts are deterministic.
"""

import warnings
import zlib

import numpy as np
import pytest
from scipy import stats

from calibration.bands import assert_in_band, coverage_band, rejection_band
from shakeout.drift import ADTest, ClassifierTest, KSTest, ProjectionTest

CALIBRATES = ("KSTest", "ADTest", "ClassifierTest", "ProjectionTest", "auc_interval")
ALPHA = 0.05
DATA = {
    "continuous": lambda rng, n: rng.normal(size=n),
    "rounded to 0.1": lambda rng, n: np.round(rng.normal(size=n), 1),
    "5 levels": lambda rng, n: rng.integers(0, 5, n).astype(float),
    "counts": lambda rng, n: rng.poisson(2.0, n).astype(float),
}
SMALL, LARGE, HUGE = (40, 30), (1500, 1200), (12_000, 11_000)
TESTS = {"ks": KSTest, "anderson": ADTest}


def check(count, band, what, trials):
    """Assert the count is inside its band; print it (``pytest -s``) for the docs' table."""
    print(f"\n{what}: {count} of {trials}, band {band}")
    assert_in_band(count, band, what)


def null_rejections(make, draw, sizes, trials, seed):
    rng = np.random.default_rng(seed)
    n1, n2 = sizes
    return sum(make().fit(draw(rng, n1)).compare(draw(rng, n2)).p_value < ALPHA
               for _ in range(trials))


def _univariate(name, kind, sizes, trials):
    seed = zlib.crc32(f"{name} {kind} {sizes}".encode())  # fixed across processes
    count = null_rejections(TESTS[name], DATA[kind], sizes, trials, seed)
    check(count, rejection_band(trials, ALPHA),
          f"{name} null rejections, {kind}, {sizes[0]} vs {sizes[1]}", trials)


# ------------------------------------------------------------------ KS and AD, no drift
@pytest.mark.parametrize("name", TESTS)
@pytest.mark.parametrize("kind", DATA)
def test_univariate_size_small_samples(name, kind):
    _univariate(name, kind, SMALL, 200)


@pytest.mark.parametrize("name", TESTS)
@pytest.mark.parametrize("kind", ["continuous", "5 levels"])
def test_univariate_size_large_samples(name, kind):
    _univariate(name, kind, LARGE, 200)


@pytest.mark.slow
@pytest.mark.parametrize("name", TESTS)
@pytest.mark.parametrize("kind", DATA)
@pytest.mark.parametrize("sizes,trials", [(SMALL, 500), (LARGE, 500)])
def test_univariate_size_full(name, kind, sizes, trials):
    _univariate(name, kind, sizes, trials)


@pytest.mark.slow
@pytest.mark.parametrize("name", TESTS)
@pytest.mark.parametrize("kind", ["rounded to 0.1", "counts"])
def test_univariate_size_beyond_the_exact_limits(name, kind):
    # KS: seeded permutations above 10,000 rows; AD: permutations at every size
    _univariate(name, kind, HUGE, 200)


def test_ks_p_values_are_uniform_on_continuous_data():
    rng = np.random.default_rng(3)
    p = [KSTest().fit(rng.normal(size=60)).compare(rng.normal(size=45)).p_value
         for _ in range(300)]
    assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_tied_ks_p_values_are_no_smaller_than_uniform():
    # a discrete law's p-values satisfy P(p <= t) <= t at every t
    rng = np.random.default_rng(4)
    p = np.array([KSTest().fit(rng.integers(0, 5, 40)).compare(rng.integers(0, 5, 40)).p_value
                  for _ in range(600)])
    for t in (0.01, 0.05, 0.1, 0.25, 0.5):
        assert np.mean(p <= t) <= t + 3.3 * np.sqrt(t * (1 - t) / 600)


# ------------------------------------------------------------------ KS and AD, power
@pytest.mark.parametrize("name", TESTS)
@pytest.mark.parametrize("kind", ["continuous", "counts"])
def test_univariate_power(name, kind):
    # a 0.5 sd location shift at 200 rows a side, or Poisson(2) -> Poisson(2.6)
    rng = np.random.default_rng(5)
    draw = DATA[kind]
    hits = 0
    for _ in range(100):
        ref = draw(rng, 200)
        cur = rng.normal(0.5, 1, 200) if kind == "continuous" else rng.poisson(2.6, 200) * 1.0
        hits += TESTS[name]().fit(ref).compare(cur).p_value < ALPHA
    assert hits >= 90


# ------------------------------------------------------------------ agreement with scipy
@pytest.mark.parametrize("seed", range(5))
def test_p_values_are_scipys_on_continuous_data(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=300), rng.normal(0.15 * seed, 1, size=250)
    assert KSTest().fit(a).compare(b).p_value == pytest.approx(
        stats.ks_2samp(a, b).pvalue, rel=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stats.anderson_ksamp([a, b], variant="midrank")
    f = ADTest().fit(a).compare(b)
    assert f.value == pytest.approx(ref.statistic, rel=1e-12)
    if 0.001 < ref.pvalue < 0.25:
        assert f.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    else:  # beyond scipy's table: the limiting law's tail, never above the table's floor
        assert f.p_value <= ref.pvalue or ref.pvalue == 0.25


# ------------------------------------------------------------------ the domain classifier
CLASSIFIER_DATA = {
    "continuous": lambda rng, n: rng.normal(size=(n, 5)),
    "5 levels": lambda rng, n: rng.integers(0, 5, size=(n, 5)).astype(float),
    "categories": lambda rng, n: __import__("pandas").DataFrame(
        {"c": rng.choice(list("abcd"), n, p=[.4, .3, .2, .1]), "x": rng.normal(size=n)}),
}


def _classifier(kind, n, trials, max_iter):
    rng = np.random.default_rng(n)
    draw = CLASSIFIER_DATA[kind]
    rejected = covered = 0
    for i in range(trials):
        f = ClassifierTest(max_iter=max_iter, seed=i).fit(draw(rng, n)).compare(draw(rng, n))
        rejected += f.p_value < ALPHA
        covered += f.ci[0] <= 0.5 <= f.ci[1]
    where = f"{kind}, {n} vs {n}"
    check(rejected, rejection_band(trials, ALPHA), f"classifier rejections, {where}", trials)
    check(covered, coverage_band(trials, 0.95), f"AUC interval covers 0.5, {where}", trials)


@pytest.mark.parametrize("kind,n", [("continuous", 30), ("categories", 100)])
def test_classifier_size_and_coverage(kind, n):
    _classifier(kind, n, 200, max_iter=10)


@pytest.mark.slow
@pytest.mark.parametrize("kind,n", [("continuous", 20), ("continuous", 200),
                                    ("5 levels", 60), ("categories", 200)])
def test_classifier_size_and_coverage_full(kind, n):
    _classifier(kind, n, 400, max_iter=50)


def test_classifier_power():
    rng = np.random.default_rng(9)
    hits = sum(ClassifierTest(seed=i).fit(rng.normal(size=(200, 5))).compare(
        rng.normal(size=(200, 5)) + [1.0, 0, 0, 0, 0]).p_value < ALPHA for i in range(50))
    assert hits >= 45


@pytest.mark.parametrize("levels", [None, 4])
def test_classifier_auc_is_scikit_learns(levels):
    from sklearn.metrics import roc_auc_score

    from shakeout.drift.classifier import mann_whitney_auc

    rng = np.random.default_rng(10)
    cur, ref = rng.normal(0.3, 1, 70), rng.normal(size=50)
    if levels:  # tied scores count a half
        cur, ref = np.round(cur * levels) / levels, np.round(ref * levels) / levels
    auc, p = mann_whitney_auc(cur, ref)
    assert auc == pytest.approx(roc_auc_score(np.r_[np.ones(70), np.zeros(50)], np.r_[cur, ref]),
                                rel=1e-12)
    assert p == pytest.approx(stats.mannwhitneyu(cur, ref, alternative="greater").pvalue)
    assert mann_whitney_auc(np.ones(5), np.ones(4)) == (0.5, 1.0)


# ------------------------------------------------------------------ the projection test
def _digits():
    from sklearn.datasets import load_digits

    return load_digits().data


PROJECTION_DATA = {
    "gaussian, 50 features": lambda rng, n: rng.normal(size=(n, 50)),
    "uniform 8x8 images": lambda rng, n: rng.uniform(size=(n, 1, 8, 8)),
    "integer pixels 0-16": lambda rng, n: rng.integers(0, 17, size=(n, 64)).astype(float),
}


def _projection(kind, n, trials):
    rng = np.random.default_rng(n)
    if kind == "8x8 digits, random halves":
        digits = _digits()

        def pair():
            order = rng.permutation(len(digits))
            return digits[order[:n]], digits[order[n:2 * n]]
    else:
        def pair():
            return PROJECTION_DATA[kind](rng, n), PROJECTION_DATA[kind](rng, n)
    rejected = 0
    for _ in range(trials):
        ref, cur = pair()
        rejected += ProjectionTest().fit(ref).compare(cur).p_value < ALPHA
    check(rejected, rejection_band(trials, ALPHA),
          f"projection rejections, {kind}, {n} vs {n}", trials)


@pytest.mark.parametrize("kind,n", [("gaussian, 50 features", 30),
                                    ("uniform 8x8 images", 200),
                                    ("8x8 digits, random halves", 300)])
def test_projection_size(kind, n):
    _projection(kind, n, 200)


@pytest.mark.slow
@pytest.mark.parametrize("kind,n", [("gaussian, 50 features", 200),
                                    ("integer pixels 0-16", 100),
                                    ("8x8 digits, random halves", 400)])
def test_projection_size_full(kind, n):
    _projection(kind, n, 400)


def test_projection_power_on_brighter_digits():
    rng = np.random.default_rng(12)
    digits = _digits()
    hits = 0
    for _ in range(50):
        order = rng.permutation(len(digits))
        cur = np.clip(digits[order[300:600]] + 2.0, 0, 16)
        hits += ProjectionTest().fit(digits[order[:300]]).compare(cur).p_value < ALPHA
    assert hits >= 45
