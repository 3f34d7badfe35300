"""Columns as drift tests see them: numeric values without NaN, or categories as strings.

Missing values are never dropped silently: numeric tests remove them and report how many,
binned tests give them a bin of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shakeout.data import is_numeric_column
from shakeout.errors import ValidationError


@dataclass(frozen=True)
class Column:
    """One sample of one feature: its name, the present values and how many were missing."""

    name: str
    values: np.ndarray
    n_missing: int

    @property
    def n(self) -> int:
        """Rows including the missing ones."""
        return len(self.values) + self.n_missing


def column_name(values: Any, default: str = "x") -> str:
    """The feature name carried by a pandas Series, else ``default``."""
    name = getattr(values, "name", None)
    return default if name is None else str(name)


def one_dimensional(values: Any, *, owner: str, role: str) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValidationError(
                f"{owner}: {role} must be one column, got a table with {values.shape[1]} "
                "columns. Test each column on its own, or use shakeout.drift.run for a table."
            )
        values = values.iloc[:, 0]
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(
            f"{owner}: {role} must be one-dimensional, got shape {arr.shape}. Test each column "
            "on its own, or use shakeout.drift.run for a table."
        )
    if arr.size == 0:
        raise ValidationError(f"{owner}: {role} is empty; pass at least one row.")
    return arr


def numeric_column(values: Any, *, owner: str, role: str, min_rows: int = 1) -> Column:
    """Float values of a numeric feature with NaN removed (and counted).

    >>> c = numeric_column([1.0, float("nan"), 3.0], owner="KSTest", role="reference")
    >>> c.values.tolist(), c.n_missing
    ([1.0, 3.0], 1)
    """
    name = column_name(values)
    arr = one_dimensional(values, owner=owner, role=role)
    try:
        arr = np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{owner}: {role} column {name!r} is not numeric (dtype {arr.dtype}). Use a "
            "categorical test (PSI, Chi2Test) for categories."
        ) from None
    n_missing = 0
    if not np.isfinite(arr).all():  # one pass in the common case
        refuse_infinite(arr, owner=owner, role=role, name=name)
        missing = np.isnan(arr)
        n_missing = int(missing.sum())
        arr = arr[~missing]
    check_rows(len(arr), min_rows, owner=owner, role=role, name=name, n_missing=n_missing)
    return Column(name, arr, n_missing)


ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                      r"(Z|[+-]\d{2}:?\d{2})?)?")
"""An ISO 8601 date or date-time, as csv files carry timestamps."""


def holds_times(values: pd.Series, sample: int = 200) -> bool:
    """Whether a column holds dates or times: a datetime dtype, or text that is all ISO dates.

    >>> holds_times(pd.Series(["2024-01-05", "2024-01-06T10:00:00Z"]))
    True
    >>> holds_times(pd.Series(["2024-01-05", "n/a"]))
    False
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if is_numeric_column(values) or pd.api.types.is_bool_dtype(values):
        return False
    head = values.dropna().head(sample)
    return len(head) > 0 and all(isinstance(v, str) and ISO_TIME.fullmatch(v) for v in head)


def as_numbers(values: pd.Series, *, where: str, hint: str = "fix the data upstream") -> pd.Series:
    """A column numeric in the reference, as floats; a value that is not a number is an error.

    Columns that arrive as ``object`` (all missing, numbers as text) are converted.

    >>> as_numbers(pd.Series(["1.5", None], dtype=object), where="current column 'a'").tolist()
    [1.5, nan]
    """
    if is_numeric_column(values):
        return values.astype(np.float64)
    numbers = pd.to_numeric(values.astype(object), errors="coerce").astype(np.float64)
    bad = values[numbers.isna() & values.notna()]
    if len(bad):
        shown = [str(v) for v in dict.fromkeys(bad.tolist())][:3]
        raise ValidationError(
            f"{where} is numeric in the reference but holds {len(bad)} values that are not "
            f"numbers (e.g. {shown}); {hint}."
        )
    return numbers


def refuse_infinite(arr: np.ndarray, *, owner: str, role: str, name: str) -> None:
    """Infinite values have no place in a distribution: say how many, and the fix."""
    n_inf = int(np.isinf(arr).sum())
    if n_inf:
        raise ValidationError(
            f"{owner}: {role} column {name!r} contains {n_inf} infinite values. Replace them "
            "(clip or set to NaN) first."
        )


def check_rows(n: int, needed: int, *, owner: str, role: str, name: str,
               n_missing: int = 0) -> None:
    """Raise a message naming the test, the column and the rows it needs."""
    if n >= needed:
        return
    if n == 0 and n_missing:
        raise ValidationError(
            f"{owner}: {role} column {name!r} is all NaN ({n_missing} rows); nothing to test. "
            "Drop the column or fix the pipeline that fills it."
        )
    missing = f" after removing {n_missing} NaN" if n_missing else ""
    raise ValidationError(
        f"{owner}: {role} column {name!r} has {n} rows{missing}; this test needs at least "
        f"{needed}. Use a longer window or a larger sample."
    )


def category_strings(values: Any, *, owner: str, role: str) -> tuple[np.ndarray, np.ndarray]:
    """Values as strings (``object`` array) and the mask of missing entries.

    Whole floats read as integers, so category codes match whether or not a missing value
    turned their column into floats (``2.0`` and ``2`` are both ``'2'``).

    >>> s, miss = category_strings(["a", None, 1, 2.0, 2.5], owner="Chi2Test", role="current")
    >>> s.tolist(), miss.tolist()
    (['a', '', '1', '2', '2.5'], [False, True, False, False, False])
    """
    arr = one_dimensional(values, owner=owner, role=role)
    series = pd.Series(arr, dtype=object)
    missing = series.isna().to_numpy()
    strings = series.where(~missing, "").astype(str).to_numpy(dtype=object)
    if arr.dtype.kind == "f":
        floats = np.ones(len(arr), dtype=bool)
    elif arr.dtype == object and pd.api.types.infer_dtype(arr, skipna=True) in (
            "floating", "mixed-integer-float", "mixed-integer", "mixed"):
        floats = np.fromiter((isinstance(v, (float, np.floating)) for v in arr), bool, len(arr))
    else:
        return strings, missing
    values, where = np.unique(np.asarray(arr[floats], dtype=np.float64), return_inverse=True)
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0 ** 53)
    if whole.any():  # few distinct codes: format each once
        text = np.array([str(int(v)) if w else "" for v, w in zip(values, whole)], dtype=object)
        hit = whole[where]
        strings[np.flatnonzero(floats)[hit]] = text[where[hit]]
    return strings, missing


def as_frame(data: Any, *, role: str) -> pd.DataFrame:
    """A table from a DataFrame, a Dataset, a 2-D array or a 1-D array (one column ``x0``).

    >>> as_frame(np.zeros((2, 3)), role="reference").columns.tolist()
    ['x0', 'x1', 'x2']
    """
    from shakeout.data import Dataset

    if isinstance(data, Dataset):
        data = data.X
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=column_name(data, "x0"))
    else:
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValidationError(
                f"{role} must be a table (2-D), got shape {arr.shape}. Flatten images or "
                "embeddings to (n, features), or use ProjectionTest on them."
            )
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if len(frame) == 0:
        raise ValidationError(f"{role} has no rows; pass at least one.")
    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    twice = sorted(set(frame.columns[frame.columns.duplicated()]))
    if twice:
        raise ValidationError(
            f"{role} has more than one column named {twice[:10]} (names are compared as "
            "text); give every column its own name."
        )
    return frame
