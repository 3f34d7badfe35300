"""Pipeline parity: each kind of skew, built on a synthetic frame, is named with its exact
parameter; features that agree are not reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shakeout.errors import ValidationError
from shakeout.faults.parity import parity


def _raw(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.uniform(18, 90, n), "income": rng.lognormal(10, 1, n),
                         "score": rng.normal(0, 1, n), "tenure": rng.integers(0, 40, n) * 1.0})


def offline(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.copy()


def _only(result, feature):
    found = [f for f in result.findings if f.feature == feature]
    assert len(found) == 1, [f.name for f in result.findings]
    return found[0]


def _differing(result):
    return result.select(metric="features_differing")[0]


def test_identical_pipelines_pass_with_nothing_reported():
    result = parity(_raw(), offline, lambda r: r.copy())
    assert result.status == "pass"
    summary = _differing(result)
    assert summary.value == 0 and summary.status == "pass" and len(result.findings) == 1


def test_a_scale_factor_is_named_with_the_factor():
    result = parity(_raw(), offline, lambda r: r.assign(income=r["income"] / 1000))
    f = _only(result, "income")
    assert (f.group, f.status, f.value) == ("scale", "fail", 1.0)
    assert f.details["factor"] == pytest.approx(0.001, rel=1e-12)
    assert _differing(result).details["features"] == ["income"]


def test_an_offset_is_named_with_the_offset():
    f = _only(parity(_raw(), offline, lambda r: r.assign(age=r["age"] - 18)), "age")
    assert f.group == "offset" and f.details["offset"] == pytest.approx(-18, rel=1e-12)


def test_swapped_columns_name_each_other():
    result = parity(_raw(), offline, lambda r: r.assign(age=r["score"], score=r["age"]))
    age, score = _only(result, "age"), _only(result, "score")
    assert (age.group, age.details["partner"]) == ("swapped", "score")
    assert (score.group, score.details["partner"]) == ("swapped", "age")
    assert _differing(result).value == 2


def test_a_rotation_of_three_columns_says_where_each_moved():
    rot = lambda r: r.assign(age=r["income"], income=r["score"], score=r["age"])  # noqa: E731
    result = parity(_raw(), offline, rot)
    assert {(f.feature, f.group, f.details["partner"]) for f in result.findings if f.feature} == {
        ("age", "moved", "income"), ("income", "moved", "score"), ("score", "moved", "age")}


def test_a_frozen_value_is_named_with_the_value():
    raw = _raw()
    stale = float(raw["score"].iloc[17])
    f = _only(parity(raw, offline, lambda r: r.assign(score=stale)), "score")
    assert f.group == "frozen" and f.details["value"] == stale
    assert f.details["rows_differing"] == len(raw) - 1  # row 17 still agrees


def test_default_filled_rows_are_counted_exactly():
    raw = _raw()
    lost = np.arange(len(raw)) % 7 == 0

    def online(r):
        return r.assign(income=np.where(lost, -1.0, r["income"]))

    f = _only(parity(raw, offline, online), "income")
    assert f.group == "default_filled" and f.details["value"] == -1.0
    assert f.details["rows_filled"] == lost.sum() and f.value == pytest.approx(lost.mean())


def test_missing_values_filled_with_a_default_online_are_default_filled():
    raw = _raw()
    raw.loc[raw.index[::5], "tenure"] = np.nan
    f = _only(parity(raw, offline, lambda r: r.fillna({"tenure": 0.0})), "tenure")
    assert f.group == "default_filled" and f.details["rows_filled"] == len(raw[::5])


@pytest.mark.parametrize(("cut", "precision", "rounding"), [
    (lambda x: x.astype(np.float32).astype(np.float64), "float32", "to nearest"),
    (lambda x: x.astype(np.float16).astype(np.float64), "float16", "to nearest"),
    (np.trunc, "integer", "toward zero"),
    (lambda x: np.round(x, 2), "2 decimals", "to nearest"),
    (lambda x: np.trunc(x * 1000) / 1000, "3 decimals", "toward zero"),
])
def test_truncation_names_the_precision(cut, precision, rounding):
    f = _only(parity(_raw(), offline, lambda r: r.assign(score=cut(r["score"].to_numpy()))),
              "score")
    assert (f.group, f.details["precision"], f.details["rounding"]) == (
        "truncation", precision, rounding)


def test_a_difference_with_no_pattern_says_so_with_its_size():
    noise = np.random.default_rng(1).normal(0, 0.5, 300)
    f = _only(parity(_raw(), offline, lambda r: r.assign(age=r["age"] + noise)), "age")
    assert f.group == "other" and f.details["max_abs_difference"] == pytest.approx(
        np.abs(noise).max())


def test_several_faults_at_once_are_each_named():
    def online(r):
        return r.assign(age=r["age"] * 12, tenure=np.round(r["tenure"] / 3, 1) * 3,
                        income=r["income"] + 5)

    result = parity(_raw(), offline, online)
    kinds = {f.feature: f.group for f in result.findings if f.feature}
    assert kinds["age"] == "scale" and kinds["income"] == "offset" and "score" not in kinds
    assert _differing(result).value == 3


def test_the_tolerance_decides_what_a_difference_is():
    def online(r):
        return r.assign(score=r["score"].astype(np.float32).astype(np.float64))

    assert _differing(parity(_raw(), offline, online)).value == 1
    assert _differing(parity(_raw(), offline, online, rtol=1e-6)).value == 0


def test_arrays_are_named_by_position_and_columns_in_another_order_are_flagged():
    raw = _raw().to_numpy()
    f = _only(parity(raw, lambda x: x, lambda x: x * [1, 1, 2, 1]), "x2")
    assert f.group == "scale" and f.details["factor"] == 2.0
    result = parity(_raw(), offline, lambda r: r[["income", "age", "score", "tenure"]])
    assert result.select(group="schema")[0].status == "warn"
    assert _only(result, "age").group == "swapped"


def test_outputs_of_different_shapes_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match=r"offline preprocessing gives 4 features for 300 "
                                              r"rows, the online one 3 for 300"):
        parity(_raw(), offline, lambda r: r.drop(columns=["age"]))
    with pytest.raises(ValidationError, match=r"parity: rtol must be"):
        parity(_raw(), offline, offline, rtol=-1)
