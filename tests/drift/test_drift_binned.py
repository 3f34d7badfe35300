"""PSI, KL, JS, Wasserstein and chi-square: exact values, binning, smoothing, scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shakeout.drift import PSI, Chi2Test, JSDivergence, KLDivergence, Wasserstein
from shakeout.drift._binning import value_counts
from shakeout.errors import ValidationError


def test_psi_uses_the_number_of_bins_asked_for():
    rng = np.random.default_rng(0)
    for n_bins in (5, 10, 17):
        for binning in ("quantile", "uniform"):
            f = PSI(n_bins=n_bins, binning=binning).fit(rng.normal(size=3000)).compare(
                rng.normal(size=3000))
            assert f.details["n_bins"] == n_bins
            assert len(f.details["bins"]) == n_bins + 1  # plus the missing-value bin
            assert sum(f.details["reference_counts"]) == 3000


@pytest.mark.parametrize("n_edges", [1, 9, 64, 65, 300])
def test_bin_counts_by_comparison_equal_binary_search_even_on_ties(n_edges):
    rng = np.random.default_rng(n_edges)
    values = rng.integers(0, 1_000, size=5_000).astype(np.float64)  # many values equal an edge
    edges = np.unique(rng.integers(0, 1_000, size=n_edges).astype(np.float64))
    expected = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    assert value_counts(edges, values).tolist() == expected.tolist()
    assert value_counts(edges, values[::3]).sum() == len(values[::3])  # strided input


@pytest.mark.parametrize("test", [PSI, KLDivergence])
def test_chance_level_holds_its_level(test):
    rng = np.random.default_rng(11)
    null = [test().fit(rng.normal(size=300)).compare(rng.normal(size=168)) for _ in range(500)]
    rejections = sum(f.details["chance_p_value"] < 0.05 for f in null)
    assert 11 <= rejections <= 42  # 99.9% binomial band for 500 trials at 0.05
    # PSI: p95 = 0.157 > 0.1 warns of unreliable bands; KL: p95 = 0.079 > 0.05 as well
    assert all("unreliable at this size" in f.message for f in null)


def test_chance_level_is_simulated_where_the_law_fails():
    rng = np.random.default_rng(12)
    big = PSI().fit(rng.normal(size=5_000)).compare(rng.normal(0.3, 1, size=5_000))
    assert big.details["chance_p_value"] < 1e-6 and "unreliable" not in big.message
    assert big.details["chance_method"] == "chi-square law"  # 500 rows a bin: the law holds
    sparse = PSI(binning="uniform").fit(rng.normal(size=300)).compare(rng.normal(size=168))
    assert sparse.details["chance_method"].startswith("permutation")  # thin tail bins
    assert 0 < sparse.details["chance_p_value"] <= 1
    tiny = PSI().fit(rng.normal(size=300)).compare(rng.normal(size=30))
    assert "mostly noise; use windows of at least 50 rows" in tiny.message


def test_psi_equals_hand_computation():
    ref = np.repeat(["a", "b", "c"], [50, 30, 20]).astype(object)
    cur = np.repeat(["a", "b", "c"], [30, 30, 40]).astype(object)
    r, c = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    expected = float(np.sum((c - r) * np.log(c / r)))
    assert PSI().fit(ref).compare(cur).value == pytest.approx(expected, rel=1e-12)


def test_psi_bands_follow_the_framework():
    from shakeout.drift.psi import psi_band

    assert [psi_band(v)[0] for v in (0.05, 0.15, 0.22, 0.25, 1.0)] == [
        "negligible", "minor", "moderate", "major", "major"]


def test_unseen_categories_get_their_own_bucket_and_a_message():
    ref = np.array(["a", "b"] * 100, dtype=object)
    cur = np.array(["a", "b"] * 90 + ["new"] * 20, dtype=object)
    f = PSI().fit(ref).compare(cur)
    assert f.details["bins"][-2:] == ["<unseen>", "<missing>"]
    assert f.details["current_counts"][-2] == 20
    assert f.details["unseen_categories"] == {"new": 20}
    assert "unseen in the reference" in f.message and "'new'" in f.message


def test_missing_values_are_counted_in_their_own_bin():
    f = PSI().fit(np.r_[np.arange(100.0), np.nan]).compare(np.r_[np.arange(90.0), [np.nan] * 10])
    assert f.details["reference_counts"][-1] == 1 and f.details["current_counts"][-1] == 10
    assert "missing values" in f.message.lower()


def test_bins_empty_in_both_samples_add_nothing():
    ref = np.repeat(["a", "b"], [60, 40]).astype(object)
    f = PSI(smoothing=1e-3).fit(ref).compare(ref)  # unseen and missing bins are empty on both sides
    assert f.value == 0.0


def test_gaussian_kl_matches_the_closed_form():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(1, 2, 50_000)
    analytic = np.log(1 / 2) + (4 + 1) / 2 - 0.5  # KL(N(1, 4) || N(0, 1))
    f = KLDivergence(method="gaussian").fit(ref).compare(cur)
    assert f.value == pytest.approx(analytic, rel=0.03)


def test_histogram_kl_approaches_the_analytic_value_from_below():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 200_000), rng.normal(1, 1, 200_000)
    values = [KLDivergence(n_bins=k).fit(ref).compare(cur).value for k in (10, 50, 200)]
    assert values[0] < values[1] < values[2] < 0.5 * 1.02
    assert values[2] == pytest.approx(0.5, rel=0.05)


def test_smoothing_does_not_inflate_kl():
    # Reference uniform over 4 categories; current leaves two empty. The analytic
    # KL(current || reference) = sum c ln(c / r) over c > 0 = ln 2.
    ref = np.repeat(["a", "b", "c", "d"], 25).astype(object)
    cur = np.repeat(["a", "b"], 50).astype(object)
    for eps in (1e-8, 1e-4, 1e-2):
        assert KLDivergence(smoothing=eps).fit(ref).compare(cur).value == pytest.approx(np.log(2),
                                                                                   rel=1e-12)


def test_js_is_symmetric_and_bounded_by_ln2():
    a = np.repeat(["x", "y"], [70, 30]).astype(object)
    b = np.repeat(["x", "y"], [20, 80]).astype(object)
    ab = JSDivergence().fit(a).compare(b).value
    ba = JSDivergence().fit(b).compare(a).value
    assert ab == pytest.approx(ba, rel=1e-12)
    assert ab == pytest.approx(float(stats.entropy([0.45, 0.55]) - 0.5 * stats.entropy([0.7, 0.3])
                                     - 0.5 * stats.entropy([0.2, 0.8])), rel=1e-12)
    disjoint = JSDivergence().fit(a).compare(np.array(["z"] * 10, dtype=object)).value
    assert disjoint == pytest.approx(np.log(2))


def test_wasserstein_matches_scipy_and_normalises():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 3, 1000), rng.normal(1, 3, 800)
    raw = stats.wasserstein_distance(a, b)
    f = Wasserstein().fit(a).compare(b)
    assert f.details["raw"] == pytest.approx(raw, rel=1e-10)
    assert f.value == pytest.approx(raw / np.std(a, ddof=1), rel=1e-10)
    assert Wasserstein(scale="none").fit(a).compare(b).value == pytest.approx(raw, rel=1e-10)


def test_chi2_matches_scipy():
    rng = np.random.default_rng(3)
    ref = rng.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2]).astype(object)
    cur = rng.choice(["a", "b", "c"], 400, p=[0.4, 0.3, 0.3]).astype(object)
    table = [[np.sum(ref == k) for k in "abc"], [np.sum(cur == k) for k in "abc"]]
    res = stats.chi2_contingency(table)
    f = Chi2Test().fit(ref).compare(cur)
    assert f.value == pytest.approx(res.statistic, rel=1e-12)
    assert f.p_value == pytest.approx(res.pvalue, rel=1e-12)


def test_chi2_level_and_power_on_category_mix():
    rng = np.random.default_rng(4)
    p0, p1 = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]
    null = sum(Chi2Test().fit(rng.choice(list("abc"), 300, p=p0).astype(object))
               .compare(rng.choice(list("abc"), 300, p=p0).astype(object)).p_value < 0.05
               for _ in range(500))
    assert 11 <= null <= 42
    power = sum(Chi2Test().fit(rng.choice(list("abc"), 600, p=p0).astype(object))
                .compare(rng.choice(list("abc"), 600, p=p1).astype(object)).p_value < 0.05
                for _ in range(50))
    assert power >= 45


def test_series_names_become_features():
    s = pd.Series(np.arange(100.0), name="age")
    assert PSI().fit(s).compare(s).feature == "age"


def test_bad_input():
    with pytest.raises(ValidationError, match="n_bins must be"):
        PSI(n_bins=1)
    with pytest.raises(ValidationError, match="binning must be one of"):
        PSI(binning="sturges")
    with pytest.raises(ValidationError, match="fail must be at least warn"):
        PSI(warn=0.3, fail=0.2)
    with pytest.raises(ValidationError, match="all NaN"):
        PSI().fit(np.full(10, np.nan))
    with pytest.raises(ValidationError, match="constant"):
        KLDivergence(method="gaussian").fit(np.ones(10))
    with pytest.raises(ValidationError, match="one-dimensional"):
        PSI().fit(np.zeros((5, 2)))
    # infinite values are refused, never counted silently into an outer bin
    with pytest.raises(ValidationError, match="PSI: reference column 'x' contains 1 infinite"):
        PSI().fit(np.r_[np.arange(9.0), np.inf])
    for test in (PSI(), Chi2Test(), KLDivergence()):
        with pytest.raises(ValidationError, match="current column 'x' contains 2 infinite"):
            test.fit(np.arange(20.0)).compare(np.r_[np.arange(8.0), np.inf, -np.inf])
