"""Preprocessing faults: exact transforms, the severity is the share of rows affected, nested
draws across a grid, clear errors, and the stress drill runs them by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.perturb import (REGISTRY, ColumnSwap, DefaultFilled, FrozenFeature, Truncation,
                              UnitMismatch, make)
from shakeout.perturb.preprocessing import truncated

FAULTS = ("unit_mismatch", "column_swap", "frozen_feature", "default_filled", "truncation")


def _table(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.3, 5.0, -1.0, 2.0]


def _affected(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=1)


@pytest.mark.parametrize("name", FAULTS)
def test_registered_as_input_perturbations_with_rows_as_the_unit(name):
    cls = REGISTRY[name]
    assert cls.kind == "input" and cls.unit == "fraction of rows affected"
    assert cls.max_severity == 1.0 and cls.default_severities[0] == 0.0


@pytest.mark.parametrize("name", FAULTS)
def test_the_share_of_rows_affected_is_the_severity(name):
    # 20,000 rows at severity 0.3: the affected count is Binomial(20000, 0.3); 99.9% band.
    X = _table(20_000)
    out = make(name).fit(X).apply(X, 0.3, seed=1)
    k = int(_affected(X, out).sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 20_000, 0.3)
    assert lo <= k <= hi


@pytest.mark.parametrize("name", FAULTS)
def test_rows_faulty_at_a_lower_severity_stay_faulty_at_a_higher_one(name):
    X = _table(2_000)
    p = make(name).fit(_table(100, seed=9))  # a reference apart: a frozen row differs
    outs = dict(p.apply_grid(X, (0.1, 0.5, 1.0), np.random.default_rng(4)))
    low, mid, full = (_affected(X, outs[s]) for s in (0.1, 0.5, 1.0))
    assert low.sum() < mid.sum() < full.sum() == len(X)
    assert not np.any(low & ~mid)
    np.testing.assert_array_equal(outs[0.5][mid], outs[1.0][mid])  # same fault on those rows


def test_unit_mismatch_multiplies_only_the_chosen_features_by_the_factor():
    X = _table()
    out = UnitMismatch(factor=1000, features=[1, 3]).fit(X).apply(X, 1.0, seed=0)
    np.testing.assert_array_equal(out[:, [1, 3]], X[:, [1, 3]] * 1000)
    np.testing.assert_array_equal(out[:, [0, 2]], X[:, [0, 2]])


def test_unit_mismatch_on_images_is_the_0_255_mistake():
    images = np.random.default_rng(0).random((5, 1, 4, 4)).astype(np.float32)
    out = UnitMismatch().fit(images).apply(images, 1.0, seed=0)
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_allclose(out, images * np.float32(255), rtol=1e-6)


def test_column_swap_exchanges_the_pair_and_defaults_to_the_first_two():
    X = _table()
    out = ColumnSwap(features=[3, 1]).fit(X).apply(X, 1.0, seed=0)
    np.testing.assert_array_equal(out, X[:, [0, 3, 2, 1]])
    out = ColumnSwap().fit(X).apply(X, 1.0, seed=0)
    np.testing.assert_array_equal(out, X[:, [1, 0, 2, 3]])


def test_frozen_feature_holds_the_last_finite_reference_value():
    ref = _table(50)
    ref[-1, 2] = np.nan  # the last value of feature 2 is missing: the one before it counts
    current = _table(30, seed=1)
    out = FrozenFeature(features=[0, 2]).fit(ref).apply(current, 1.0, seed=0)
    np.testing.assert_array_equal(out[:, 0], np.full(30, ref[-1, 0]))
    np.testing.assert_array_equal(out[:, 2], np.full(30, ref[-2, 2]))
    np.testing.assert_array_equal(out[:, [1, 3]], current[:, [1, 3]])


def test_default_filled_writes_the_default_on_the_affected_rows_only():
    X = _table(1_000)
    out = DefaultFilled(fill=-1.0, features=[2]).fit(X).apply(X, 0.5, seed=3)
    hit = _affected(X, out)
    assert np.all(out[hit, 2] == -1.0)
    np.testing.assert_array_equal(out[~hit], X[~hit])
    np.testing.assert_array_equal(np.delete(out, 2, axis=1), np.delete(X, 2, axis=1))


@pytest.mark.parametrize(("to", "decimals", "expected"), [
    ("float16", 0, lambda x: x.astype(np.float16).astype(np.float64)),
    ("float32", 0, lambda x: x.astype(np.float32).astype(np.float64)),
    ("integer", 0, np.trunc),
    ("decimals", 2, lambda x: np.trunc(x * 100) / 100),
])
def test_truncation_matches_the_closed_form(to, decimals, expected):
    X = _table()
    out = Truncation(to=to, decimals=decimals).fit(X).apply(X, 1.0, seed=0)
    np.testing.assert_array_equal(out, expected(X))


def test_bfloat16_truncation_is_torchs_bfloat16_rounding():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=10_000) * 10.0 ** np.random.default_rng(1).integers(
        -5, 5, size=10_000)
    expected = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16).double().numpy()
    np.testing.assert_array_equal(truncated(x, "bfloat16"), expected)


def test_frames_are_faulted_by_column_name():
    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0], "city": ["a", "b", "c"],
                          "income": [1.0, 2.0, 3.0]})
    out = ColumnSwap(features=["income", "age"]).fit(frame).apply(frame, 1.0, seed=0)
    assert out["age"].tolist() == [1.0, 2.0, 3.0] and out["income"].tolist() == [30.0, 40.0, 50.0]
    assert out["city"].tolist() == ["a", "b", "c"]
    with pytest.raises(ValidationError, match=r"feature 'height' is not a numeric column; "
                                              r"numeric columns are \['age', 'income'\]"):
        UnitMismatch(features=["height"]).fit(frame)


@pytest.mark.parametrize(("build", "match"), [
    (lambda: UnitMismatch(factor=1), r"UnitMismatch: factor must differ from 1"),
    (lambda: UnitMismatch(factor=-3), r"UnitMismatch: factor must be in \(0, inf\]"),
    (lambda: ColumnSwap(features=[0, 1, 2]), r"ColumnSwap: features must hold 2 distinct"),
    (lambda: ColumnSwap(features=[1, 1]), r"ColumnSwap: features must hold 2 distinct"),
    (lambda: FrozenFeature(features=3), r"FrozenFeature: features must be a list"),
    (lambda: DefaultFilled(fill=float("nan")), r"DefaultFilled: fill must be a number"),
    (lambda: Truncation(to="int8"), r"Truncation: to must be one of"),
    (lambda: Truncation(decimals=2.5), r"Truncation: decimals must be an integer"),
])
def test_bad_parameters_are_refused_naming_them(build, match):
    with pytest.raises(ValidationError, match=match):
        build()


def test_a_position_outside_the_data_and_a_swap_on_one_feature_are_refused():
    with pytest.raises(ValidationError, match=r"feature 7 must be a column position in \[0, 4\)"):
        DefaultFilled(features=[7]).fit(_table())
    with pytest.raises(ValidationError, match=r"swapping needs two features; the data has 1"):
        ColumnSwap().fit(np.zeros((5, 1)))


def test_the_stress_drill_runs_a_preprocessing_fault_by_name():
    from sklearn.linear_model import LogisticRegression

    from shakeout.plan import parse_plan
    from shakeout.stress import Sweep, run

    X = _table(400)
    y = (X[:, 0] + X[:, 3] / 3 > 1.0).astype(int)
    clf = LogisticRegression().fit(X, y)
    plan = parse_plan({"stress": {"perturbations": [
        {"name": "unit_mismatch", "params": {"factor": 1000, "features": [0]},
         "severities": [1.0]}]}})
    assert plan.stress.perturbations[0].name == "unit_mismatch"
    fault = UnitMismatch(factor=1000, features=[0])
    result = run(clf, X, y, sweeps=[Sweep(fault, (0.0, 1.0))], n_bootstrap=50, repeats=1,
                 sensitivity=False, metrics=["accuracy"])
    (acc,) = [f for f in result.select(metric="accuracy") if f.severity == 1.0]
    exact = float((clf.predict(fault.fit(X).apply(X, 1.0, seed=0)) == y).mean())
    assert acc.value == pytest.approx(exact)
    assert acc.value < (clf.predict(X) == y).mean() - 0.1
