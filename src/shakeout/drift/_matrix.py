"""Numeric matrices for the multivariate tests: matching columns, no NaN, no text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.data import is_numeric_column
from shakeout.drift._columns import as_frame
from shakeout.errors import ValidationError


def numeric_matrix(data: Any, *, owner: str, role: str, columns: list[str] | None = None,
                   min_rows: int = 2) -> tuple[np.ndarray, list[str]]:
    """A float matrix of ``data``, restricted to ``columns`` when given (names must exist).

    Images and other arrays with more than two dimensions are flattened per row.

    >>> X, cols = numeric_matrix(np.ones((3, 2)), owner="MMDTest", role="reference")
    >>> X.shape, cols
    ((3, 2), ['x0', 'x1'])
    """
    if not isinstance(data, (pd.DataFrame, pd.Series)):
        arr = np.asarray(data)
        if arr.ndim > 2:
            data = arr.reshape(len(arr), -1)
    frame = as_frame(data, role=role)
    if columns is not None:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ValidationError(
                f"{owner}: {role} lacks columns {absent[:10]} that the reference has; "
                "pass data with the same columns."
            )
        extra = [c for c in frame.columns if c not in columns]
        if extra:
            raise ValidationError(
                f"{owner}: {role} has {len(extra)} columns the reference lacks ({extra[:10]}); "
                "pass data with the reference's columns (DriftSuite does this for a table)."
            )
        frame = frame[columns]
    text = [c for c in frame.columns if not is_numeric_column(frame[c])]
    if text:
        raise ValidationError(
            f"{owner}: columns {text[:10]} of {role} are not numeric; this test takes numbers "
            "only. Encode them, or leave them to PSI / Chi2Test."
        )
    X = frame.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        cols = [frame.columns[j] for j in np.flatnonzero(bad.any(axis=0))][:10]
        raise ValidationError(
            f"{owner}: {role} has NaN or inf in {rows} rows (columns {cols}). Impute or drop "
            "those rows first; univariate tests handle missing values on their own."
        )
    if len(X) < min_rows:
        raise ValidationError(
            f"{owner}: {role} has {len(X)} rows; this test needs at least {min_rows}. Use a "
            "longer window or a larger sample."
        )
    return X, list(frame.columns)


def complete_rows(frame: pd.DataFrame, columns: list[str], role: str) -> tuple[pd.DataFrame, int]:
    """The rows of ``columns`` without NaN (multivariate tests), and how many were left out."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValidationError(f"{role} lacks the numeric columns {absent[:10]}; this test "
                              "needs every numeric column of the reference.")
    part = frame[columns]
    complete = part.dropna()
    if len(complete) == 0:
        nan = part.isna().sum()
        raise ValidationError(
            f"every {role} row has NaN in some numeric column ({nan.idxmax()!r} in "
            f"{int(nan.max())} of {len(part)} rows); impute them or drop that column."
        )
    return complete, len(part) - len(complete)


def standardizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference mean and standard deviation per column (1 where a column is constant)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)
