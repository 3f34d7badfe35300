"""KSTest and ADTest: scipy agreement, level under the null, power, bad input."""

import itertools
import warnings

import numpy as np
import pytest
from scipy import special, stats

from shakeout.drift import ADTest, KSTest
from shakeout.drift.anderson import AD_INF_SD, ad_inf_sf, ad_midrank
from shakeout.drift.ks import ks_distance, ks_p_value, ks_tied_sf, smirnov_sf, tie_blocks
from shakeout.errors import NotFittedError, ValidationError
from shakeout.stats import adjust_p_values

BAND = (11, 42)  # 99.9% binomial band for 500 trials at alpha = 0.05


@pytest.mark.parametrize("n1,n2,ties", [(40, 25, False), (300, 200, True), (12_000, 11_000, False),
                                        (20_000, 15_000, True)])
def test_ks_matches_scipy(n1, n2, ties):
    rng = np.random.default_rng(n1)
    a, b = rng.normal(size=n1), rng.normal(0.03, 1.0, size=n2)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    ref = stats.ks_2samp(a, b)
    f = KSTest().fit(a).compare(b)
    assert f.value == pytest.approx(ref.statistic, rel=1e-12, abs=1e-15)
    assert ks_distance(np.sort(a), np.sort(b)) == pytest.approx(ref.statistic, abs=1e-15)
    if not ties:  # scipy's p-values assume continuous data; tied samples get their own
        assert f.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    else:
        assert f.details["p_method"] in ("exact, ties", "permutation, ties")


def _all_labellings(a, b, statistic):
    """The statistic of every split of the pooled sample into len(a) and len(b) rows."""
    pooled, n = np.r_[a, b], len(a)
    out = []
    for idx in itertools.combinations(range(len(pooled)), n):
        mask = np.zeros(len(pooled), dtype=bool)
        mask[list(idx)] = True
        out.append(statistic(np.sort(pooled[mask]), np.sort(pooled[~mask])))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_tied_ks_p_value_is_the_exact_permutation_law(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, 7).astype(float), rng.integers(1, 5, 6).astype(float)
    law = _all_labellings(a, b, ks_distance)
    f = KSTest().fit(a).compare(b)
    assert f.details["p_method"] == "exact, ties"
    assert f.p_value == pytest.approx(np.mean(law >= f.value - 1e-12), rel=1e-12)


def test_tied_ks_exact_law_on_continuous_data_is_scipys_exact():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=40), rng.normal(size=30)
    d = ks_distance(np.sort(a), np.sort(b))
    assert ks_tied_sf(round(d * 1200), 40, 30, np.ones(70, dtype=int)) == pytest.approx(
        stats.ks_2samp(a, b, method="exact").pvalue, rel=1e-10)


def test_tied_ks_matches_scipy_permutation_test():
    rng = np.random.default_rng(4)
    a, b = rng.poisson(3.0, 60).astype(float), rng.poisson(3.4, 50).astype(float)
    res = stats.permutation_test((a, b), lambda x, y: stats.ks_2samp(x, y).statistic,
                                 n_resamples=4000, vectorized=False, alternative="greater",
                                 rng=0)
    p = KSTest().fit(a).compare(b).p_value
    assert abs(p - res.pvalue) <= 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3


def test_ks_keeps_its_level_on_tied_data():
    # scipy's exact p-value treats ties as continuous: 0.9% rejections at a nominal 5%
    rng = np.random.default_rng(11)
    p = np.array([KSTest().fit(rng.integers(0, 5, 40)).compare(rng.integers(0, 5, 40)).p_value
                  for _ in range(500)])
    assert BAND[0] <= int(np.sum(p < 0.05)) <= BAND[1]


def test_many_small_tie_blocks_get_permutations_that_agree_with_the_exact_law():
    """float16 rows: hundreds of tie blocks of a few rows, beyond the exact path's limit."""
    rng = np.random.default_rng(4)  # p near 0.05, where the decision turns
    a = rng.normal(size=800).astype(np.float16)
    b = rng.normal(0.1, 1.0, size=800).astype(np.float16)
    f = KSTest(seed=2).fit(a).compare(b)
    assert f.details["p_method"] == "permutation, ties"
    exact = KSTest(method="exact").fit(a).compare(b)
    assert 0.001 < exact.p_value < 0.5  # a p-value the permutations resolve
    assert abs(f.p_value - exact.p_value) <= 4 * np.sqrt(exact.p_value / 2000) + 1e-3


def test_large_tied_samples_use_seeded_permutations():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 6, 12_000), rng.integers(0, 6, 11_000)
    b[:300] = 5  # a mild shift
    f = KSTest(seed=1).fit(a).compare(b)
    assert f.details["p_method"] == "permutation, ties"
    assert f.p_value == KSTest(seed=1).fit(a).compare(b).p_value
    exact = KSTest(method="exact").fit(a).compare(b)
    assert exact.details["p_method"] == "exact, ties"
    assert abs(f.p_value - exact.p_value) <= 4 * np.sqrt(exact.p_value / 2000) + 1e-3
    # a huge shift is not floored at 1 / (n_permutations + 1)
    huge = KSTest().fit(a).compare(np.minimum(b + 2, 5))
    assert huge.p_value < 1e-100 and "below the permutation floor" in huge.details["p_method"]


def test_tie_blocks():
    assert tie_blocks(np.array([0.0, 1.0, 1.0]), np.array([1.0, 2.0])).tolist() == [1, 3, 1]
    assert tie_blocks(np.array([0.0, 1.0]), np.array([0.5, 2.0])) is None
    assert tie_blocks(np.array([0.0, 1.0]), np.array([1.0])).tolist() == [1, 2]


def test_ks_asymptotic_p_value_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=500), rng.normal(0.1, 1, size=700)
    d = stats.ks_2samp(a, b).statistic
    assert ks_p_value(d, 500, 700) == pytest.approx(
        stats.ks_2samp(a, b, method="asymp").pvalue, rel=1e-12)


@pytest.mark.parametrize("n", [141, 1_000, 50_000, 400_000])
def test_one_sided_tail_matches_scipy_smirnov(n):
    for d in np.linspace(np.sqrt(2.2 / n), 0.49, 9):
        assert smirnov_sf(n, d) == pytest.approx(special.smirnov(n, d), rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("shift", [0.02, 0.05, 0.3])
def test_far_tail_p_value_matches_scipy_on_large_samples(shift):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=30_000), rng.normal(shift, 1, size=20_000)
    res = stats.ks_2samp(a, b, method="asymp")
    assert ks_p_value(res.statistic, 30_000, 20_000) == pytest.approx(res.pvalue, rel=1e-8,
                                                                      abs=1e-300)


@pytest.mark.parametrize("test", [KSTest, ADTest])
def test_null_false_positive_rate_and_uniform_p_values(test):
    rng = np.random.default_rng(7)
    p = np.array([test().fit(rng.normal(size=60)).compare(rng.normal(size=45)).p_value
                  for _ in range(500)])
    assert BAND[0] <= int(np.sum(p < 0.05)) <= BAND[1]
    if test is KSTest:  # AD p-values are clipped to [0.001, 0.25] by scipy's tables
        assert stats.kstest(p, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("test", [KSTest, ADTest])
@pytest.mark.parametrize("shift", ["location", "scale"])
def test_power_for_location_and_scale(test, shift):
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(50):
        cur = rng.normal(0.5, 1.0, 200) if shift == "location" else rng.normal(0, 1.8, 200)
        hits += test().fit(rng.normal(size=200)).compare(cur).p_value < 0.05
    assert hits >= 45


def test_ad_keeps_its_level_on_tied_data():
    # scipy standardises the midrank statistic with the continuous variance: 9% here
    rng = np.random.default_rng(12)
    p = np.array([ADTest().fit(rng.integers(0, 3, 50)).compare(rng.integers(0, 3, 50)).p_value
                  for _ in range(2000)])
    lo, hi = stats.binom(2000, 0.05).ppf(0.0005), stats.binom(2000, 0.05).isf(0.0005)
    assert lo <= int(np.sum(p < 0.05)) <= hi


@pytest.mark.parametrize("seed", range(3))
def test_ad_midrank_statistic_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 6, 50).astype(float), rng.integers(0, 7, 40).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stats.anderson_ksamp([a, b], variant="midrank")
    f = ADTest().fit(a).compare(b)
    assert f.details["p_method"] == "permutation, ties"
    assert f.value == pytest.approx(ref.statistic, rel=1e-10)


def test_ad_permutation_p_value_matches_scipy_permutation():
    rng = np.random.default_rng(3)
    a, b = np.round(rng.normal(size=60), 1), np.round(rng.normal(0.3, 1, size=50), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stats.anderson_ksamp([a, b], variant="midrank",
                                   method=stats.PermutationMethod(n_resamples=4000, rng=0))
    p = ADTest(n_permutations=4000).fit(a).compare(b).p_value
    assert abs(p - ref.pvalue) <= 4 * np.sqrt(2 * p * (1 - p) / 4000) + 1e-3


def test_ad_midrank_of_every_labelling_matches_scipy():
    rng = np.random.default_rng(8)
    a, b = rng.integers(0, 3, 5).astype(float), rng.integers(0, 3, 4).astype(float)
    sizes = tie_blocks(np.sort(a), np.sort(b))
    values = np.unique(np.r_[a, b])

    def scipy_a2(x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return stats.anderson_ksamp([x, y], variant="midrank").statistic

    def ours(x, y):
        counts = np.diff(np.searchsorted(x, values, side="right"), prepend=0)
        return float(ad_midrank(counts, sizes, len(x), len(y)))

    law_scipy = _all_labellings(a, b, scipy_a2)
    law_ours = _all_labellings(a, b, ours)
    assert np.corrcoef(law_scipy, law_ours)[0, 1] == pytest.approx(1.0, abs=1e-12)


def test_ad_huge_shift_is_not_floored_away_by_holm():
    # scipy floors at 0.001; 60 features x 0.001 under Holm is 0.06: a 3 sd shift "passed"
    rng = np.random.default_rng(9)
    for draw in (lambda n, mu: rng.normal(mu, 1, n),
                 lambda n, mu: np.round(rng.normal(mu, 1, n))):
        p = [ADTest().fit(draw(200, 0)).compare(draw(200, 0)).p_value for _ in range(59)]
        f = ADTest().fit(draw(200, 0)).compare(draw(200, 3))
        assert f.p_value < 1e-6, f.details
        assert adjust_p_values(p + [f.p_value], "holm")[-1] < 0.05


def test_ad_tail_beyond_the_table():
    def marsaglia(z):  # Marsaglia and Marsaglia (2004), the limiting law's CDF for z >= 2
        return np.exp(-np.exp(1.0776 - (2.30695 - (.43424 - (.082433 - (.008056 - .0003146 * z)
                                                              * z) * z) * z) * z))
    for z in (2.5, 4.0, 6.0, 8.0):
        assert ad_inf_sf(z) == pytest.approx(1 - marsaglia(z), rel=0.08)
    # continuous where scipy's table ends (standardised 6.546 for two samples, p = 0.001)
    assert ad_inf_sf(1 + 6.546 * AD_INF_SD) == pytest.approx(0.001, rel=0.05)
    assert ad_inf_sf(0.5) == 1.0 and 0 < ad_inf_sf(200.0) < 1e-80


def test_anderson_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.1, 1.1, size=200)
    with pytest.warns(UserWarning):
        ref = stats.anderson_ksamp([a, b])
    f = ADTest().fit(a).compare(b)
    assert f.value == pytest.approx(ref.statistic, rel=1e-12)
    assert f.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_large_sample_negligible_shift_is_significant_but_labelled_negligible():
    rng = np.random.default_rng(0)
    f = KSTest().fit(rng.normal(size=500_000)).compare(rng.normal(0.02, 1, size=500_000))
    assert f.p_value < 1e-6
    assert f.effect == "negligible" and f.status == "pass"
    assert "negligible" in f.message


def test_nan_is_removed_and_counted():
    f = KSTest().fit([1.0, 2.0, np.nan, 3.0]).compare([1.0, np.nan, np.nan, 2.5])
    assert f.details["missing_reference"] == 1 and f.details["missing_current"] == 2
    assert "NaN removed" in f.message


def test_bad_input_messages():
    with pytest.raises(NotFittedError, match=r"call fit\(reference\)"):
        KSTest().compare([1.0, 2.0])
    with pytest.raises(ValidationError, match="alpha must be in"):
        KSTest(alpha=1.5)
    with pytest.raises(ValidationError, match="all NaN"):
        KSTest().fit([np.nan, np.nan])
    with pytest.raises(ValidationError, match="needs at least 2"):
        ADTest().fit([1.0, 2.0]).compare([1.0])
    with pytest.raises(ValidationError, match="not numeric"):
        KSTest().fit(np.array(["a", "b"], dtype=object))
    with pytest.raises(ValidationError, match="infinite"):
        KSTest().fit([1.0, np.inf])
    with pytest.raises(ValidationError, match="n_permutations"):
        ADTest(n_permutations=0)
    with pytest.raises(ValidationError, match="n_permutations"):
        KSTest(n_permutations=0)


def test_constant_columns_do_not_crash():
    assert KSTest().fit(np.ones(50)).compare(np.ones(40)).value == 0.0
    f = ADTest().fit(np.ones(50)).compare(np.ones(40))
    assert f.status == "pass" and "same single value" in f.message
    assert KSTest().fit(np.ones(50)).compare(np.zeros(40)).value == 1.0
