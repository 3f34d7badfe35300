"""Check that data fits a model before any work starts: shapes, columns, values, labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.data.dataset import is_numeric_column
from shakeout.errors import ShakeoutError, ValidationError, first_line
from shakeout.models._base import Model

BLOCK = 65_536
"""Rows checked at a time, so validating a large array never copies it whole."""


def check_features(model: Model, X: Any, *, allow_nan: bool = False, name: str = "X") -> Any:
    """Validate features for ``model``; returns X (a numeric array or the DataFrame).

    Checks: not empty; no inf; no NaN unless ``allow_nan``; a DataFrame has exactly the
    columns the model was fitted on (when the model records them); and the model can
    predict one row of it.

    >>> from shakeout.models import wrap
    >>> m = wrap(lambda X: np.asarray(X).sum(axis=1), task="regression")
    >>> check_features(m, np.array([[1.0, np.nan]]))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: X has 1 missing (NaN) values, first in column 1 (row 0). ...
    """
    if len(X) == 0:
        raise ValidationError(f"{name} is empty; pass at least one row.")
    if isinstance(X, pd.DataFrame):
        _check_columns(model, X, name)
        numeric = [c for c in X.columns if is_numeric_column(X[c])]
        labels = [str(c) for c in numeric]
        blocks = (X[numeric].iloc[i:i + BLOCK].to_numpy(dtype=np.float64)
                  for i in range(0, len(X), BLOCK))
    else:
        X = np.asarray(X)
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValidationError(
                f"{name} holds values that are not numbers (dtype {X.dtype}); pass a DataFrame "
                "so text columns are treated as categories, or encode them."
            )
        labels = [str(i) for i in range(int(np.prod(X.shape[1:])))]
        blocks = (X[i:i + BLOCK].reshape(len(X[i:i + BLOCK]), -1) for i in range(0, len(X), BLOCK))
    nan_row = _check_values(zip(range(0, len(X), BLOCK), blocks), labels, allow_nan, name)
    # the trial row holds NaN when NaN is allowed, so a model that cannot take it fails here
    _probe(model, X, [0 if nan_row is None else nan_row], name,
           "Check the number and order of features." if nan_row is None else
           f"Row {nan_row} holds NaN (allowed by allow_nan=True / --allow-nan): impute the "
           "missing values, or use a model that handles NaN.")
    if isinstance(X, pd.DataFrame):  # text in a column of numbers fails only on its own rows
        for column, (rows, values) in _text_among_numbers(X).items():
            shown = ", ".join(f"{v!r} (row {r})" for r, v in zip(rows[:3], values[:3]))
            _probe(model, X, rows[:3], name,
                   f"Column {column!r} holds {len(rows)} values that are not numbers: {shown}"
                   f"{', ...' if len(rows) > 3 else ''}; replace them with numbers, or read them "
                   "as missing (pandas' na_values) and impute them.")
        rows = _first_of_each_category(X)  # a category the model never saw fails on its rows
        if rows:
            _probe(model, X, rows, name, "Map or drop the categories the model was not fitted "
                   "on, or fit it with an encoder that ignores unknown categories (e.g. "
                   "OneHotEncoder(handle_unknown='ignore')).")
    return X


def _probe(model: Model, X: Any, rows: list[int], name: str, fix: str) -> None:
    """Predict on a few rows of X; whatever the model raises becomes one line ending in ``fix``."""
    try:
        model.outputs(X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows])
    except ShakeoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the model raises means "does not fit"
        raise ValidationError(
            f"the model cannot predict on {name} of shape {X.shape}: {first_line(exc)}. {fix}"
        ) from None


def _text_among_numbers(X: pd.DataFrame) -> dict[str, tuple[list[int], list[Any]]]:
    """Text columns holding mostly numbers: for each, the rows that are not numbers (and the
    first three such values).

    >>> _text_among_numbers(pd.DataFrame({"a": ["1.5", "?", "2"], "b": ["x", "y", "1"]}))
    {'a': ([1], ['?'])}
    """
    found = {}
    for column in X.columns:
        values = X[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        text = (numbers.isna() & values.notna()).to_numpy()
        if text.any() and numbers.notna().sum() > text.sum():
            rows = np.flatnonzero(text)
            found[str(column)] = (rows.tolist(), values.iloc[rows[:3]].tolist())
    return found


def _first_of_each_category(X: pd.DataFrame, limit: int = 10_000) -> list[int]:
    """Rows holding the first occurrence of each value of each non-numeric column.

    >>> _first_of_each_category(pd.DataFrame({"a": [1.0, 2, 3], "c": ["x", "x", "y"]}))
    [0, 2]
    """
    first = np.zeros(len(X), dtype=bool)
    for column in X.columns:
        if not is_numeric_column(X[column]):
            first |= ~X[column].duplicated().to_numpy()
    return np.flatnonzero(first)[:limit].tolist()


def _check_columns(model: Model, X: pd.DataFrame, name: str) -> None:
    expected = model.capabilities.feature_names
    if expected is None:
        return
    got = [str(c) for c in X.columns]
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing[:10]}")
        if extra:
            parts.append(f"extra columns {extra[:10]} the model was not fitted on")
        raise ValidationError(
            f"{name} does not match the model's features: {'; '.join(parts)}. Pass the columns "
            "the model was trained on (and name the target with --target)."
        )


def _check_values(blocks: Any, labels: list[str], allow_nan: bool, name: str) -> int | None:
    """Count inf (and NaN unless allowed) over blocks of rows; raise naming the first one.

    Returns the first row holding an allowed NaN, or None.
    """
    counts = {"infinite": 0, "missing (NaN)": 0}
    first: dict[str, tuple[int, int]] = {}
    for start, values in blocks:
        if values.dtype == bool or np.isfinite(values).all():
            continue
        for kind, bad in (("infinite", np.isinf(values)), ("missing (NaN)", np.isnan(values))):
            if bad.any():
                counts[kind] += int(bad.sum())
                row, col = np.argwhere(bad)[0]
                first.setdefault(kind, (start + int(row), int(col)))
    if counts["infinite"]:
        row, col = first["infinite"]
        raise ValidationError(
            f"{name} has {counts['infinite']} infinite values, first in column {labels[col]} "
            f"(row {row}); replace them."
        )
    if counts["missing (NaN)"] and not allow_nan:
        row, col = first["missing (NaN)"]
        raise ValidationError(
            f"{name} has {counts['missing (NaN)']} missing (NaN) values, first in column "
            f"{labels[col]} (row {row}). Impute them first, or allow them (allow_nan=True / "
            "--allow-nan) if the model handles NaN."
        )
    return first["missing (NaN)"][0] if counts["missing (NaN)"] else None


def check_target(model: Model, y: Any, n_rows: int, *, name: str = "y") -> np.ndarray:
    """Validate the target and encode it: class indices for classifiers, floats for regressors.

    >>> from shakeout.models import wrap
    >>> m = wrap(lambda X: np.asarray(X, float).sum(axis=1), task="regression")
    >>> check_target(m, [1, 2], 2).tolist()
    [1.0, 2.0]
    """
    if y is None:
        raise ValidationError(
            f"this drill needs labels: pass {name} (for a table, name its column with --target)."
        )
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.reshape(len(y), -1)
        if y.shape[1] != 1:
            raise ValidationError(f"{name} must be one label per row, got shape {y.shape}.")
        y = y[:, 0]
    if len(y) != n_rows:
        raise ValidationError(f"{name} has {len(y)} rows but X has {n_rows}; they must match.")
    if pd.isna(y).any():
        raise ValidationError(f"{name} has {int(pd.isna(y).sum())} missing labels; drop those rows.")
    if model.task == "classification":
        return model.encode_labels(y)
    try:
        values = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be numeric for a regression model.") from None
    if not np.all(np.isfinite(values)):
        raise ValidationError(f"{name} has infinite values; a regression target must be finite.")
    return values
