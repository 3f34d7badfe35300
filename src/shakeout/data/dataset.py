"""Datasets: features plus an optional target, from arrays, DataFrames or files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError

SUFFIXES = (".csv", ".parquet", ".pq", ".npz")


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (array or DataFrame), target ``y`` (or None) and a name for reports.

    Examples
    --------
    >>> ds = Dataset.from_frame(pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"], "t": [0, 1]}),
    ...                         target="t")
    >>> ds.feature_names, ds.categorical
    (['a', 'c'], ['c'])
    """

    X: Any
    y: np.ndarray | None = None
    name: str = "data"

    def __post_init__(self) -> None:
        if len(self.X) == 0:
            raise ValidationError(f"{self.name}: the data has no rows.")
        if self.y is not None and len(self.y) != len(self.X):
            raise ValidationError(
                f"{self.name}: X has {len(self.X)} rows but y has {len(self.y)}; they must match."
            )

    @property
    def is_frame(self) -> bool:
        return isinstance(self.X, pd.DataFrame)

    @property
    def feature_names(self) -> list[str]:
        if self.is_frame:
            return [str(c) for c in self.X.columns]
        width = int(np.prod(np.shape(self.X)[1:])) if np.ndim(self.X) > 1 else 1
        return [f"x{i}" for i in range(width)]

    @property
    def categorical(self) -> list[str]:
        """Names of non-numeric columns (object, string, category, bool)."""
        if not self.is_frame:
            return []
        return [str(c) for c in self.X.columns if not is_numeric_column(self.X[c])]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, target: str | None = None,
                   name: str = "data") -> "Dataset":
        """Split a DataFrame into features and the ``target`` column."""
        if frame.shape[1] == 0:
            raise ValidationError(f"{name}: the table has no columns.")
        if target is None:
            return cls(X=frame, y=None, name=name)
        if target not in frame.columns:
            raise ValidationError(
                f"{name}: target column {target!r} not found; columns are "
                f"{[str(c) for c in frame.columns][:20]}. Pass --target with one of them."
            )
        y = frame[target].to_numpy()
        if pd.isna(y).any():
            raise ValidationError(
                f"{name}: target column {target!r} has {int(pd.isna(y).sum())} missing values; "
                "drop those rows first."
            )
        return cls(X=frame.drop(columns=[target]), y=y, name=name)


def is_numeric_column(series: pd.Series) -> bool:
    """True for numeric, non-boolean columns."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def load_dataset(source: Any, *, target: str | None = None, x_key: str = "X",
                 y_key: str = "y") -> Dataset:
    """Load features and target from a file path, an array pair, or a DataFrame.

    Parameters
    ----------
    source : str, Path, DataFrame, ndarray or (X, y) tuple
        ``.csv`` and ``.parquet`` files are tables (name the target column with ``target``);
        ``.npz`` files hold arrays named ``x_key`` and ``y_key`` (``y`` may be absent).
    target : str or None
        Target column of a table.

    Examples
    --------
    >>> ds = load_dataset((np.zeros((3, 2)), np.array([0, 1, 0])))
    >>> ds.X.shape, ds.y.tolist()
    ((3, 2), [0, 1, 0])
    """
    if isinstance(source, Dataset):
        return source
    if isinstance(source, pd.DataFrame):
        return Dataset.from_frame(source, target=target)
    if isinstance(source, tuple) and len(source) == 2:
        X, y = source
        return Dataset(X=X if isinstance(X, pd.DataFrame) else np.asarray(X),
                       y=None if y is None else np.asarray(y))
    if isinstance(source, np.ndarray):
        return Dataset(X=source)
    path = Path(source)
    name = path.name
    if not path.exists():
        raise ValidationError(f"data file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError(
            f"data file {name!r}: unsupported type {suffix!r}; use one of {', '.join(SUFFIXES)}."
        )
    try:
        if suffix == ".npz":
            return _load_npz(path, x_key, y_key)
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many kinds of error
        reason = " ".join(str(exc).split())  # pandas' parser errors span lines
        raise ValidationError(f"data file {name!r} could not be read as {suffix} ({reason}).") \
            from None
    return Dataset.from_frame(frame, target=target, name=name)


def _load_npz(path: Path, x_key: str, y_key: str) -> Dataset:
    with np.load(path, allow_pickle=False) as npz:
        if x_key not in npz:
            raise ValidationError(
                f"{path.name}: no array named {x_key!r}; it holds {sorted(npz.files)}. "
                "Save features as X (and labels as y), or pass the key names."
            )
        y = npz[y_key] if y_key in npz else None
        return Dataset(X=npz[x_key], y=y, name=path.name)
