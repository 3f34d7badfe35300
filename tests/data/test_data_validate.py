"""``check_features`` and ``check_target``: bad data never reaches a metric silently."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shakeout.data import check_features, check_target
from shakeout.errors import ValidationError
from shakeout.models import wrap


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True)


@pytest.fixture(scope="module")
def frame_model(wine):
    """A classifier fitted on a DataFrame: it records the column names."""
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return wrap(est.fit(wine.data, wine.target))


@pytest.fixture(scope="module")
def array_model(wine):
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return wrap(est.fit(wine.data.to_numpy(), wine.target.to_numpy()))


def test_clean_frame_and_array_pass_through(frame_model, array_model, wine):
    assert check_features(frame_model, wine.data) is wine.data
    X = wine.data.to_numpy()
    np.testing.assert_array_equal(check_features(array_model, X), X)


def test_nan_message_names_the_column(frame_model, wine):
    X = wine.data.copy()
    X.loc[[3, 7, 9], "magnesium"] = np.nan
    with pytest.raises(ValidationError, match=r"X has 3 missing \(NaN\) values, first in column "
                                              r"magnesium \(row 3\)\. Impute them first, or allow "
                                              r"them \(allow_nan=True / --allow-nan\)"):
        check_features(frame_model, X)


def test_nan_in_an_array_names_the_position(array_model, wine):
    X = wine.data.to_numpy().copy()
    X[5, 4] = np.nan
    with pytest.raises(ValidationError, match=r"reference has 1 missing \(NaN\) values, first in "
                                              r"column 4 \(row 5\)\."):
        check_features(array_model, X, name="reference")


def test_allow_nan_lets_a_nan_aware_model_through(wine):
    def nan_aware(X):  # like HistGradientBoosting: NaN is a value it knows how to route
        p = 1 / (1 + np.exp(-np.nan_to_num(np.asarray(X, dtype=float)).mean(axis=1) / 100))
        return np.column_stack([1 - p, p])

    model = wrap(nan_aware, task="classification")
    X = wine.data.copy()
    X.iloc[0, 0] = np.nan
    assert check_features(model, X, allow_nan=True) is X


def test_allow_nan_with_a_model_that_cannot_take_nan_fails_up_front(frame_model, wine):
    X = wine.data.copy()
    X.loc[[40, 90], "ash"] = np.nan  # the first row is clean: the trial row must hold the NaN
    with pytest.raises(ValidationError, match=r"cannot predict on X of shape \(178, 13\): "
                                              r"ValueError: Input X contains NaN\. Row 40 holds "
                                              r"NaN \(allowed by allow_nan=True / --allow-nan\): "
                                              r"impute the missing values"):
        check_features(frame_model, X, allow_nan=True)


def test_inf_is_refused_even_when_nan_is_allowed(frame_model, wine):
    X = wine.data.copy()
    X.loc[2, "proline"] = np.inf
    X.loc[4, "proline"] = -np.inf
    with pytest.raises(ValidationError, match=r"X has 2 infinite values, first in column "
                                              r"proline \(row 2\); replace them"):
        check_features(frame_model, X, allow_nan=True)


def test_missing_and_extra_columns_are_named(frame_model, wine):
    X = wine.data.drop(columns=["hue"]).assign(colour_name="red")
    with pytest.raises(ValidationError, match=r"X does not match the model's features: missing "
                                              r"columns \['hue'\]; extra columns "
                                              r"\['colour_name'\] the model was not fitted on"):
        check_features(frame_model, X)
    with pytest.raises(ValidationError, match=r"missing columns \['hue'\]\. Pass the columns"):
        check_features(frame_model, wine.data.drop(columns=["hue"]))


def test_target_column_left_in_the_features_is_extra(frame_model, wine):
    with pytest.raises(ValidationError, match=r"extra columns \['target'\].*name the target with "
                                              r"--target"):
        check_features(frame_model, wine.frame)


def test_wrong_number_of_features_gives_a_clear_message(array_model, wine):
    X = wine.data.to_numpy()[:, :10]
    with pytest.raises(ValidationError, match=r"the model cannot predict on X of shape \(178, 10\)"
                                              r": ValueError: X has 10 features, but "
                                              r"StandardScaler is expecting 13 features as "
                                              r"input\. Check the number and order of features\."):
        check_features(array_model, X)


def test_torch_model_with_the_wrong_width(wine):
    torch = pytest.importorskip("torch")
    model = wrap(torch.nn.Linear(13, 3))
    with pytest.raises(ValidationError, match=r"Linear: the model expects input of shape "
                                              r"\(n, 13\) but got \(1, 12\) \(mat1 and mat2 "
                                              r"shapes cannot be multiplied"):
        check_features(model, wine.data.to_numpy()[:, :12])


def test_empty_and_text_arrays(array_model):
    with pytest.raises(ValidationError, match=r"X is empty; pass at least one row"):
        check_features(array_model, np.zeros((0, 13)))
    with pytest.raises(ValidationError, match=r"X holds values that are not numbers "
                                              r"\(dtype <U1\); pass a DataFrame"):
        check_features(array_model, np.array([["a"] * 13]))


# ---------------------------------------------------------------- targets
def test_target_is_encoded_to_column_indices(wine):
    names = np.array(["barolo", "grignolino", "barbera"])
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model = wrap(est.fit(wine.data, names[wine.target]))
    assert model.classes_.tolist() == sorted(names)
    y = check_target(model, ["grignolino", "barbera", "barolo"], 3)
    assert y.tolist() == [2, 0, 1]
    assert y.dtype.kind == "i"


def test_unknown_labels_are_named(frame_model):
    with pytest.raises(ValidationError, match=r"labels \['3', '7'\] are not among the model's "
                                              r"classes \['0', '1', '2'\]. Check the target "
                                              r"column"):
        check_target(frame_model, [0, 3, 7, 1], 4)


def test_target_of_the_wrong_length(frame_model):
    with pytest.raises(ValidationError, match=r"y has 3 rows but X has 4; they must match"):
        check_target(frame_model, [0, 1, 2], 4)


def test_target_shapes(frame_model):
    assert check_target(frame_model, np.array([[0], [2]]), 2).tolist() == [0, 2]
    with pytest.raises(ValidationError, match=r"y must be one label per row, got shape \(2, 2\)"):
        check_target(frame_model, np.array([[0, 1], [1, 0]]), 2)


def test_missing_target_and_missing_labels(frame_model):
    with pytest.raises(ValidationError, match=r"this drill needs labels: pass y \(for a table, "
                                              r"name its column with --target\)"):
        check_target(frame_model, None, 3)
    with pytest.raises(ValidationError, match=r"y has 1 missing labels; drop those rows"):
        check_target(frame_model, np.array([0, None, 1], dtype=object), 3)


def test_regression_target_must_be_numeric_and_finite():
    X, y = load_diabetes(return_X_y=True)
    model = wrap(LinearRegression().fit(X, y))
    np.testing.assert_array_equal(check_target(model, ["1.5", "2"], 2), [1.5, 2.0])
    with pytest.raises(ValidationError, match=r"y must be numeric for a regression model"):
        check_target(model, ["low", "high"], 2)
    with pytest.raises(ValidationError, match=r"y has infinite values; a regression target must "
                                              r"be finite"):
        check_target(model, [1.0, np.inf], 2)


def test_classifier_without_classes_takes_integer_labels():
    model = wrap(lambda X: np.full((len(X), 2), 0.5), task="classification")
    assert check_target(model, [1, 0, 1], 3).tolist() == [1, 0, 1]
    assert check_target(model, [1.0, 0.0], 2).tolist() == [1, 0]  # whole floats are indices


@pytest.mark.parametrize(("y", "shown"), [
    ([0.0, 1.0, 1.7], r"\['0.0', '1.0', '1.7'\]"),  # never truncated to 1 silently
    (["cat", "dog"], r"\['cat', 'dog'\]"),
])
def test_classifier_without_classes_refuses_labels_that_are_not_indices(y, shown):
    model = wrap(lambda X: np.full((len(X), 2), 0.5), task="classification")
    with pytest.raises(ValidationError, match=rf"the model does not name its classes, so labels "
                                              rf"must be class indices 0, 1, ...; got {shown}\. "
                                              rf"Pass classes=\[...\] to wrap"):
        check_target(model, y, len(y))


def test_text_in_a_column_of_numbers_is_named_with_rows(frame_model, wine):
    X = wine.data.astype({"alcohol": object})
    X.loc[[5, 9, 11, 40], "alcohol"] = ["n/a", "?", "13,2", "-"]
    with pytest.raises(ValidationError, match=r"could not convert string to float: 'n/a'\. "
                                              r"Column 'alcohol' holds 4 values that are not "
                                              r"numbers: 'n/a' \(row 5\), '\?' \(row 9\), "
                                              r"'13,2' \(row 11\), \.\.\.; replace them"):
        check_features(frame_model, X)


def test_text_that_the_model_reads_as_categories_passes(wine):
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    X = wine.data.astype({"alcohol": str})
    X.loc[[5, 9], "alcohol"] = "unknown"
    est = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"),
                                                 ["alcohol"]), remainder=StandardScaler()),
                        LogisticRegression(max_iter=500))
    model = wrap(est.fit(X, wine.target))
    assert check_features(model, X) is X
