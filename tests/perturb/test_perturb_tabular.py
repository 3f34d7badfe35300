"""Tabular perturbations deliver what their severity promises, within sampling error.

Bands are 99.9% bands from the exact sampling distribution (chi-square for a Gaussian
sample variance, binomial for counts), split across the features checked in one test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perturb_data import frame, tabular
from shakeout.errors import ValidationError
from shakeout.perturb import (CategorySwap, FeatureShift, GaussianNoise, MissingValues, Scaling,
                              UniformNoise)

COVERAGE = 0.999


def sd_ratio_band(n: int, kurtosis: float = 3.0, k: int = 1) -> tuple[float, float]:
    """Band for (sample sd / true sd) of n draws, joint over k checks.

    Gaussian (kurtosis 3): exact chi-square with n - 1 degrees of freedom. Otherwise the
    normal approximation Var(s^2 / sigma^2) = (kurtosis - 1) / n.
    """
    tail = (1 - COVERAGE) / (2 * k)
    if kurtosis == 3.0:
        lo, hi = stats.chi2.ppf([tail, 1 - tail], n - 1) / (n - 1)
    else:
        z = stats.norm.ppf(1 - tail)
        half = z * np.sqrt((kurtosis - 1) / n)
        lo, hi = 1 - half, 1 + half
    return float(np.sqrt(lo)), float(np.sqrt(hi))


def binomial_band(n: int, p: float, k: int = 1) -> tuple[int, int]:
    tail = (1 - COVERAGE) / (2 * k)
    return int(stats.binom.ppf(tail, n, p)), int(stats.binom.ppf(1 - tail, n, p))


N = 100_000


# ---------------------------------------------------------------- additive noise
@pytest.mark.parametrize(("cls", "kurtosis"), [(GaussianNoise, 3.0), (UniformNoise, 1.8)])
@pytest.mark.parametrize("severity", [0.05, 0.5, 2.0])
def test_relative_noise_has_the_requested_sigma_per_feature(cls, kurtosis, severity):
    X = tabular(N, seed=1)
    out = cls().fit(X).apply(X, severity, seed=2)
    ratio = (out - X).std(axis=0) / X.std(axis=0) / severity
    lo, hi = sd_ratio_band(N, kurtosis, k=X.shape[1])
    assert np.all((ratio > lo) & (ratio < hi)), ratio
    assert np.abs((out - X).mean(axis=0) / X.std(axis=0)).max() < 5 * severity / np.sqrt(N)


@pytest.mark.parametrize(("cls", "kurtosis"), [(GaussianNoise, 3.0), (UniformNoise, 1.8)])
def test_absolute_noise_has_the_requested_sigma_in_input_units(cls, kurtosis):
    X = tabular(N, seed=3)
    out = cls(relative=False).fit(X).apply(X, 0.25, seed=4)
    ratio = (out - X).std(axis=0) / 0.25
    lo, hi = sd_ratio_band(N, kurtosis, k=X.shape[1])
    assert np.all((ratio > lo) & (ratio < hi)), ratio


def test_uniform_noise_is_bounded_by_its_half_width():
    X = np.zeros((N, 1))
    delta = UniformNoise(relative=False).fit(X).apply(X, 0.2, seed=0)
    half_width = np.sqrt(3.0) * 0.2
    assert np.abs(delta).max() <= half_width * (1 + 1e-6)
    assert np.abs(delta).max() > 0.99 * half_width  # it also reaches the edge


def test_noise_scale_is_learnt_at_fit_not_from_the_batch():
    ref = tabular(N, seed=5)
    batch = ref[:50] * 0.0  # a constant batch: its own spread would be zero
    out = GaussianNoise().fit(ref).apply(batch, 1.0, seed=0)
    assert np.all(out.std(axis=0) > 0.1 * ref.std(axis=0))


@pytest.mark.parametrize("cls", [GaussianNoise, UniformNoise])
def test_constant_columns_get_no_relative_noise(cls):
    X = tabular(500)
    X[:, 2] = 7.5
    out = cls().fit(X).apply(X, 0.5, seed=0)
    np.testing.assert_array_equal(out[:, 2], X[:, 2])
    assert np.all(out[:, [0, 1, 3]] != X[:, [0, 1, 3]])


def test_noise_clip_keeps_values_in_range():
    X = np.random.default_rng(0).random((2_000, 3))
    out = GaussianNoise(relative=False, clip=(0.0, 1.0)).fit(X).apply(X, 0.5, seed=0)
    assert out.min() == 0.0 and out.max() == 1.0


def test_noise_on_a_frame_touches_only_numeric_columns():
    X = frame(2_000)
    out = GaussianNoise().fit(X).apply(X, 0.5, seed=0)
    pd.testing.assert_series_equal(out["colour"], X["colour"])
    pd.testing.assert_series_equal(out["plan"], X["plan"])
    ratio = (out["age"] - X["age"]).std() / X["age"].std() / 0.5
    lo, hi = sd_ratio_band(2_000, k=2)
    assert lo < ratio < hi


def test_float32_input_stays_float32():
    X = tabular(100).astype(np.float32)
    assert GaussianNoise().fit(X).apply(X, 0.1, seed=0).dtype == np.float32


@pytest.mark.parametrize("cls", [GaussianNoise, UniformNoise])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_noise_grid_is_the_data_plus_scaled_standard_noise_by_hand(cls, dtype):
    """Every severity of the grid, block by block, equals the formula on the whole batch:
    X + z * severity * scale in float64, clipped, then stored in the data's precision; and
    equals ``apply`` with the same generator."""
    rng = np.random.default_rng(2)
    X = rng.random((1500, 40, 3)).astype(dtype)  # 1500 images: many blocks of rows
    noise = cls(clip=(0.05, 0.95)).fit(X)
    z = noise._standard_noise(np.random.default_rng(9), X.shape)
    outs = dict(noise.apply_grid(X, (0.0, 0.1, 0.4), np.random.default_rng(9)))
    assert outs[0.0] is X
    for severity in (0.1, 0.4):
        by_hand = np.clip(X.astype(np.float64) + z * (severity * noise.scale_), 0.05, 0.95)
        np.testing.assert_array_equal(outs[severity], by_hand.astype(dtype))
        np.testing.assert_array_equal(outs[severity],
                                      noise.apply(X, severity, np.random.default_rng(9)))


def test_noise_grid_writes_into_the_arrays_it_is_given():
    X = np.random.default_rng(0).normal(size=(50, 4))
    noise = GaussianNoise().fit(X)
    given = []

    def empty(shape, dtype):
        given.append(np.full(shape, np.nan, dtype))
        return given[-1]

    outs = [out for _, out in noise.apply_grid(X, (0.0, 0.2, 0.5), np.random.default_rng(1),
                                               empty=empty)]
    assert outs[0] is X and outs[1] is given[0] and outs[2] is given[1]
    assert np.isfinite(given[1]).all()


def test_perturbation_fitted_on_array_refuses_a_frame():
    p = GaussianNoise().fit(tabular(50))
    with pytest.raises(ValidationError, match="fitted on an array but given a DataFrame"):
        p.apply(frame(50), 0.1, seed=0)


def test_frame_missing_a_fitted_column_is_named():
    X = frame(50)
    p = GaussianNoise().fit(X)
    with pytest.raises(ValidationError, match=r"columns \['income'\] missing from X"):
        p.apply(X.drop(columns=["income"]), 0.1, seed=0)


# ---------------------------------------------------------------- scaling
@pytest.mark.parametrize("severity", [0.05, 0.3])
def test_scaling_realised_relative_sigma(severity):
    X = tabular(N, seed=6) + 50.0  # far from zero, so X is never 0
    out = Scaling().fit(X).apply(X, severity, seed=1)
    ratio = (out / X - 1.0).std(axis=0) / severity
    lo, hi = sd_ratio_band(N, k=X.shape[1])
    assert np.all((ratio > lo) & (ratio < hi)), ratio


def test_scaling_leaves_zero_at_zero():
    X = np.zeros((100, 2))
    np.testing.assert_array_equal(Scaling().fit(X).apply(X, 0.5, seed=0), X)


# ---------------------------------------------------------------- feature shift
@pytest.mark.parametrize(("direction", "sign"), [("up", 1.0), ("down", -1.0)])
def test_feature_shift_moves_only_the_chosen_features_by_a_fraction_of_range(direction, sign):
    X = tabular(200)
    out = FeatureShift(features=[1, 3], direction=direction).fit(X).apply(X, 0.2, seed=0)
    span = X.max(axis=0) - X.min(axis=0)
    np.testing.assert_allclose(out[:, [1, 3]] - X[:, [1, 3]],
                               np.broadcast_to(sign * 0.2 * span[[1, 3]], (200, 2)), rtol=1e-12)
    np.testing.assert_array_equal(out[:, [0, 2]], X[:, [0, 2]])


def test_feature_shift_of_all_features_by_default():
    X = tabular(200)
    out = FeatureShift().fit(X).apply(X, 0.1, seed=0)
    np.testing.assert_allclose(out - X, np.broadcast_to(0.1 * np.ptp(X, axis=0), X.shape))


def test_feature_shift_on_a_frame_by_name():
    X = frame(300)
    out = FeatureShift(features=["income"]).fit(X).apply(X, 0.05, seed=0)
    span = X["income"].max() - X["income"].min()
    np.testing.assert_allclose(out["income"] - X["income"], 0.05 * span, rtol=1e-12)
    pd.testing.assert_series_equal(out["age"], X["age"])
    pd.testing.assert_frame_equal(out[["colour", "plan"]], X[["colour", "plan"]])


def test_feature_shift_unknown_name_lists_numeric_columns():
    with pytest.raises(ValidationError, match=r"feature 'salary' is not a numeric column; "
                                              r"numeric columns are \['age', 'income'\]"):
        FeatureShift(features=["salary"]).fit(frame(20))


def test_feature_shift_categorical_column_is_not_shiftable():
    with pytest.raises(ValidationError, match=r"feature 'colour' is not a numeric column"):
        FeatureShift(features=["colour"]).fit(frame(20))


@pytest.mark.parametrize("bad", [4, -1, "x0"])
def test_feature_shift_position_out_of_range(bad):
    with pytest.raises(ValidationError, match=rf"feature {bad!r} must be a column position in "
                                              r"\[0, 4\)"):
        FeatureShift(features=[bad]).fit(tabular(20))


def test_feature_shift_needs_a_non_empty_list():
    with pytest.raises(ValidationError, match=r"features must not be empty.*features=None"):
        FeatureShift(features=[])
    with pytest.raises(ValidationError, match=r"features must be a list.*features=\[2\]"):
        FeatureShift(features=2)


# ---------------------------------------------------------------- missing values
@pytest.mark.parametrize("severity", [0.02, 0.2, 0.7])
def test_mcar_rate_is_within_the_binomial_band(severity):
    X = tabular(5_000)
    out = MissingValues(impute="none").fit(X).apply(X, severity, seed=0)
    lo, hi = binomial_band(X.size, severity)
    assert lo <= int(np.isnan(out).sum()) <= hi
    # missing completely at random: the rate does not depend on the value
    big = X > np.median(X, axis=0)
    lo2, hi2 = binomial_band(int(big.sum()), severity, k=2)
    assert lo2 <= int(np.isnan(out[big]).sum()) <= hi2


def test_mnar_removes_large_values_more_often_at_the_stated_rate():
    X = tabular(20_000, seed=2)
    severity = 0.2
    out = MissingValues(mechanism="mnar", impute="none").fit(X).apply(X, severity, seed=0)
    ranks = (stats.rankdata(X, axis=0, method="max") / len(X))
    prob = np.minimum(1.0, 2 * severity * ranks)
    missing = np.isnan(out)
    z = stats.norm.ppf(1 - (1 - COVERAGE) / 6)
    for rows in (ranks <= 0.25, ranks > 0.75, np.ones_like(missing)):  # low, high, all
        mean = prob[rows].sum()
        sd = np.sqrt((prob[rows] * (1 - prob[rows])).sum())
        assert abs(missing[rows].sum() - mean) < z * sd
    assert missing[ranks > 0.75].mean() > 5 * missing[ranks <= 0.25].mean()
    assert abs(missing.mean() - severity) < 0.01  # the average rate is the severity


def test_impute_mean_fills_with_the_reference_mean():
    X = tabular(2_000)
    out = MissingValues(impute="mean").fit(X).apply(X, 0.3, seed=0)
    assert not np.isnan(out).any()
    changed = out != X
    for j in range(X.shape[1]):
        np.testing.assert_allclose(out[changed[:, j], j], X[:, j].mean(), rtol=1e-12)
    lo, hi = binomial_band(X.size, 0.3)
    assert lo <= int(changed.sum()) <= hi


def test_impute_median_and_none():
    X = tabular(2_000)
    med = MissingValues(impute="median").fit(X).apply(X, 0.3, seed=0)
    none = MissingValues(impute="none").fit(X).apply(X, 0.3, seed=0)
    hit = np.isnan(none)
    assert hit.any()
    # same seed, same mask: the median fills exactly the values 'none' leaves blank
    np.testing.assert_allclose(med[hit], np.broadcast_to(np.median(X, axis=0), X.shape)[hit])
    np.testing.assert_array_equal(med[~hit], X[~hit])


def test_missing_values_on_a_frame_keep_categorical_columns():
    X = frame(500)
    out = MissingValues(impute="none").fit(X).apply(X, 0.5, seed=0)
    assert out[["colour", "plan"]].notna().all().all()
    assert out[["age", "income"]].isna().any().all()


# ---------------------------------------------------------------- category swap
def test_category_swap_always_changes_a_swapped_value_and_never_invents_one():
    X = frame(3_000)
    out = CategorySwap().fit(X).apply(X, 1.0, seed=0)
    for col in ("colour", "plan"):
        assert (out[col] != X[col]).all()
        assert set(out[col]) <= set(X[col])
    # a two-category column can only flip to the other one
    assert ((X["plan"] == "basic") == (out["plan"] == "pro")).all()


@pytest.mark.parametrize("severity", [0.05, 0.3])
def test_category_swap_rate_is_within_the_binomial_band(severity):
    X = frame(10_000)
    out = CategorySwap().fit(X).apply(X, severity, seed=1)
    for col in ("colour", "plan"):
        lo, hi = binomial_band(len(X), severity, k=2)
        assert lo <= int((out[col] != X[col]).sum()) <= hi


def test_category_swap_replacements_are_uniform_over_the_other_categories():
    X = pd.DataFrame({"c": ["a"] * 30_000 + ["b", "c", "d"]})
    out = CategorySwap().fit(X).apply(X, 1.0, seed=0)
    counts = out["c"].iloc[:30_000].value_counts()
    assert set(counts.index) == {"b", "c", "d"}
    assert stats.chisquare(counts.to_numpy()).pvalue > 1e-3


def test_category_swap_leaves_numeric_columns_and_unseen_values_alone():
    X = frame(400)
    p = CategorySwap().fit(X)
    Y = X.copy()
    Y.loc[:9, "colour"] = "purple"  # unseen at fit: never swapped, never a swap target
    out = p.apply(Y, 1.0, seed=0)
    pd.testing.assert_frame_equal(out[["age", "income"]], Y[["age", "income"]])
    assert (out.loc[:9, "colour"] == "purple").all()
    assert "purple" not in set(out.loc[10:, "colour"])


def test_category_swap_keeps_a_categorical_dtype():
    X = frame(200).astype({"colour": "category"})
    out = CategorySwap().fit(X).apply(X, 0.5, seed=0)
    assert isinstance(out["colour"].dtype, pd.CategoricalDtype)
    assert set(out["colour"].cat.categories) == set(X["colour"].cat.categories)


def test_category_swap_refuses_arrays():
    with pytest.raises(ValidationError, match=r"CategorySwap works on the categorical columns of "
                                              r"a DataFrame; got an array"):
        CategorySwap().fit(tabular(10))


def test_category_swap_needs_a_column_with_two_categories():
    X = pd.DataFrame({"x": [1.0, 2.0], "c": ["same", "same"]})
    with pytest.raises(ValidationError, match="no categorical column with at least two"):
        CategorySwap().fit(X)
