"""Bad and awkward input to the drift API: each case says what is wrong, nothing is silent."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shakeout import drift
from shakeout.drift import PSI, PageHinkley, ProfileSpec, feature_importance
from shakeout.errors import ValidationError
from shakeout.models import wrap


@pytest.fixture()
def frames():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    cur = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    return ref, cur


def _labelled(n, seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, (X["a"] + 0.3 * rng.normal(size=n) > 0).astype(int).to_numpy()


def _one(result, group, feature):
    """The finding of ``group`` on ``feature``."""
    (found,) = [f for f in result.findings if f.group == group and f.feature == feature]
    return found


def test_text_in_a_numeric_column_is_named_instead_of_crashing(frames):
    ref, cur = frames
    bad = cur.astype({"a": object})
    bad.loc[:4, "a"] = "oops"
    with pytest.raises(ValidationError, match=r"current column 'a' is numeric in the reference "
                                              r"but holds 5 values that are not numbers"):
        drift.run(ref, bad, multivariate=())
    # a column of nothing but missing values arrives as object: it is all NaN, not text
    empty = cur.assign(a=pd.Series([None] * len(cur), dtype=object))
    result = drift.run(ref, empty, multivariate=())
    assert "all NaN" in _one(result, "ks", "a").message


def test_integer_codes_match_their_float_form():
    # a missing value turns a column of codes into floats: 2.0 must still be category '2'
    ref = np.array([1, 2, 3] * 50)
    cur = np.array([1.0, 2.0, 3.0] * 50)
    f = PSI(kind="categorical").fit(ref).compare(cur)
    assert f.value < 1e-6 and not f.details.get("unseen")
    assert drift.run(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), categorical=["c"],
                     multivariate=()).findings[-1].details["action"] == "continue monitoring"


def test_names_of_columns_the_reference_lacks_are_errors(frames):
    ref, cur = frames
    with pytest.raises(ValidationError, match=r"importance names columns the reference lacks: "
                                              r"\['A'\]"):
        drift.run(ref, cur + 1.0, importance={"A": 1.0}, multivariate=())
    with pytest.raises(ValidationError, match=r"categorical names columns .* \['zip'\]"):
        drift.run(ref, cur, categorical=["zip"], multivariate=())


def test_duplicate_column_names_are_an_error(frames):
    ref, _ = frames
    twice = pd.DataFrame(ref.to_numpy(), columns=["a", "a"])
    with pytest.raises(ValidationError, match=r"more than one column named \['a'\]"):
        drift.run(twice, twice, multivariate=())
    mixed = pd.DataFrame({0: ref["a"], "0": ref["b"]})  # names are compared as text
    with pytest.raises(ValidationError, match=r"more than one column named \['0'\]"):
        drift.run(mixed, mixed, multivariate=())


def test_the_model_gets_its_own_columns_and_says_when_it_cannot_answer():
    X, y = _labelled(300, 0)
    model = LogisticRegression().fit(X, y)
    ref = X.assign(region=np.where(y == 1, "north", "south"))  # a column the model never saw
    cur = ref.copy()
    result = drift.run(ref, cur, model=model, y_reference=y, y_current=y, multivariate=())
    assert result.select(group="output") and result.select(group="performance")
    assert _one(result, "chi2", "region").status == "pass"
    with pytest.raises(ValidationError, match=r"lacks columns the model was fitted on: \['b'\]"):
        drift.run(ref.drop(columns="b"), cur, model=model, multivariate=())
    gone = drift.run(ref, cur.drop(columns="b"), model=model, y_reference=y, y_current=y,
                     multivariate=())
    out = gone.select(group="output")
    assert len(out) == 1 and "lacks the model's columns ['b']" in out[0].message
    assert not gone.select(group="performance")  # never scored on invented values
    holes = cur.assign(a=cur["a"].mask(cur.index < 3))
    nan = drift.run(ref, holes, model=model, multivariate=()).select(group="output")
    assert "cannot predict on current: ValueError" in nan[0].message
    with pytest.raises(ValidationError, match="cannot predict on the reference: ValueError"):
        drift.run(holes, cur, model=model, multivariate=())


def test_pipeline_importance_weighs_coefficients_by_the_scaled_spread():
    X, y = _labelled(300, 1)
    X = X.assign(b=X["b"] * 1000.0)  # large raw spread, no signal
    model = wrap(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))
    importance = feature_importance(model, X)
    assert importance["a"] > 0.8 > importance["b"]


def test_multivariate_tests_say_what_they_left_out(frames):
    ref, cur = frames
    holes = cur.assign(a=cur["a"].mask(cur.index < 7))
    mmd = drift.run(ref, holes, n_permutations=20).select(group="mmd")[0]
    assert mmd.details["rows_left_out"] == 7 and "0 reference, 7 current" in mmd.message
    empty = drift.run(ref, cur.assign(a=np.nan), n_permutations=20).select(group="mmd")[0]
    assert "every current row has NaN in some numeric column ('a' in 400" in empty.message
    short = drift.run(ref, cur.drop(columns="a"), n_permutations=20).select(group="mmd")[0]
    assert "current lacks the numeric columns ['a']" in short.message


def test_unlabelled_rows_are_left_out_of_label_and_performance_tests():
    X, y = _labelled(300, 2)
    model = LogisticRegression().fit(X, y)
    late = y.astype(float)
    late[:100] = np.nan  # labels that have not arrived yet
    result = drift.run(X, X, model=model, y_reference=y, y_current=late, multivariate=())
    note = result.select(metric="unlabelled_rows")[0]
    assert note.value == 100 and note.details["rows_left_out"] == 100
    assert "use the 200 labelled rows" in note.message
    accuracy = result.select(group="performance", metric="accuracy")[0]
    assert accuracy.value > 0.8  # not 0: missing labels are not wrong answers
    assert all(f.status == "pass" for f in result.select(group="label")
               if f.metric != "unlabelled_rows")  # 1.0 reads as class 1
    none = drift.run(X, X, model=model, y_reference=y, y_current=np.full(300, np.nan),
                     multivariate=())
    assert not none.select(group="performance")
    with pytest.raises(ValidationError, match="y_reference has 100 missing labels"):
        drift.run(X, X, y_reference=late, multivariate=())


@pytest.mark.parametrize("as_text", [False, True])
def test_date_and_time_columns_are_not_tested(frames, as_text):
    ref, cur = frames
    ref = ref.assign(ts=pd.date_range("2023-01-01", periods=len(ref), freq="h"))
    cur = cur.assign(ts=pd.date_range("2024-01-01", periods=len(cur), freq="h"))
    if as_text:  # how a csv file carries them
        ref, cur = (f.assign(ts=f["ts"].astype(str)) for f in (ref, cur))
    result = drift.run(ref, cur, multivariate=())
    assert not [f for f in result.findings if f.feature == "ts"]
    note = result.select(group="schema")[0]
    assert note.status == "info" and note.details["columns"] == ["ts"]
    assert result.findings[-1].details["action"] == "continue monitoring"


def test_profiles_refuse_text_and_inf_and_survive_an_empty_column(frames):
    ref, cur = frames
    spec = ProfileSpec().fit(ref)
    with pytest.raises(ValidationError, match="batch column 'a' is numeric in the reference"):
        spec.profile(cur.assign(a="q"))
    with pytest.raises(ValidationError, match="batch column 'b' contains 2 infinite values"):
        spec.profile(cur.assign(b=cur["b"].mask(cur.index < 2, np.inf)))
    result = drift.run(spec.profile(ref), spec.profile(cur.assign(a=np.nan)))
    ks = _one(result, "ks", "a")
    assert ks.status == "warn" and "no values (all 400 rows NaN)" in ks.message
    assert _one(result, "ks", "b").p_value is not None


def test_streaming_detectors_name_a_value_that_is_not_a_number():
    with pytest.raises(ValidationError, match="PageHinkley.update: x must be one number"):
        PageHinkley().update("a")

