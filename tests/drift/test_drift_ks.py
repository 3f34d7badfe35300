"""KSTest and ADTest: scipy agreement, level under the null, power, bad input."""

import numpy as np
import pytest
from scipy import special, stats

from shakeout.drift import ADTest, KSTest
from shakeout.drift.ks import ks_distance, ks_p_value, smirnov_sf
from shakeout.errors import NotFittedError, ValidationError

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
    assert f.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert ks_distance(np.sort(a), np.sort(b)) == pytest.approx(ref.statistic, abs=1e-15)


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


def test_constant_columns_do_not_crash():
    assert KSTest().fit(np.ones(50)).compare(np.ones(40)).value == 0.0
    f = ADTest().fit(np.ones(50)).compare(np.ones(40))
    assert f.status == "pass" and "same single value" in f.message
    assert KSTest().fit(np.ones(50)).compare(np.zeros(40)).value == 1.0
