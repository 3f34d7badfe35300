"""An input space for global sensitivity analysis: independent features with given marginals.

Sobol and Morris sample points in the unit cube; this maps them to model inputs, either
uniformly within explicit bounds or through each feature's empirical quantile function
(so a sample has the data's marginal distributions, categories included, but independent
features: the usual assumption of variance-based sensitivity analysis, stated in reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shakeout.data.dataset import is_numeric_column
from shakeout.errors import ValidationError


class Marginals:
    """Map points of ``[0, 1]^d`` to inputs shaped like the reference data.

    Examples
    --------
    >>> m = Marginals.from_bounds([(-1.0, 1.0), (0.0, 10.0)])
    >>> m.transform(np.array([[0.5, 0.1]])).tolist()
    [[0.0, 1.0]]
    >>> m = Marginals.from_data(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": list("xxyz")}))
    >>> m.transform(np.array([[0.0, 0.6]])).values.tolist()
    [[1.0, 'y']]
    """

    def __init__(self, names: list[str], columns: list[np.ndarray | None], *,
                 bounds: np.ndarray | None, frame_columns: list[Any] | None,
                 shape: tuple[int, ...], dtypes: Any = None):
        self.names = names
        self.columns = columns
        self.bounds = bounds
        self.frame_columns = frame_columns
        self.shape = shape
        self.dtypes = dtypes

    @property
    def d(self) -> int:
        return len(self.names)

    @classmethod
    def from_bounds(cls, bounds: Sequence[tuple[float, float]],
                    names: Sequence[str] | None = None) -> "Marginals":
        b = np.asarray(bounds, dtype=np.float64)
        if b.ndim != 2 or b.shape[1] != 2 or not np.all(b[:, 0] < b[:, 1]):
            raise ValidationError(
                f"bounds must be a list of (low, high) pairs with low < high, got {bounds!r}."
            )
        names = list(names) if names is not None else [f"x{i}" for i in range(len(b))]
        return cls(names, [None] * len(b), bounds=b, frame_columns=None, shape=(len(b),))

    @classmethod
    def from_data(cls, X: Any) -> "Marginals":
        if isinstance(X, pd.DataFrame):
            cols = []
            for c in X.columns:
                s = X[c].dropna()
                if len(s) == 0:
                    raise ValidationError(f"column {c!r} has no values to sample from.")
                cols.append(np.sort(s.to_numpy(dtype=np.float64)) if is_numeric_column(X[c])
                            else np.asarray(s.to_numpy(), dtype=object))
            return cls([str(c) for c in X.columns], cols, bounds=None,
                       frame_columns=list(X.columns), shape=(X.shape[1],), dtypes=X.dtypes)
        arr = np.asarray(X, dtype=np.float64)
        flat = np.sort(arr.reshape(len(arr), -1), axis=0)
        return cls([f"x{i}" for i in range(flat.shape[1])], list(flat.T), bounds=None,
                   frame_columns=None, shape=arr.shape[1:])

    def transform(self, U: np.ndarray) -> Any:
        """Inputs for the points ``U`` of shape ``(n, d)``."""
        U = np.clip(np.asarray(U, dtype=np.float64), 0.0, 1.0)
        if self.bounds is not None:
            return self.bounds[:, 0] + U * (self.bounds[:, 1] - self.bounds[:, 0])
        out = []
        for j, values in enumerate(self.columns):
            if values.dtype == object:  # categories by their observed frequencies
                cats, counts = np.unique(values.astype(str), return_counts=True)
                first = {c: v for v, c in zip(values, values.astype(str))}
                cdf = np.cumsum(counts) / counts.sum()
                pick = np.minimum(np.searchsorted(cdf, U[:, j], side="left"), len(cats) - 1)
                out.append(np.array([first[c] for c in cats], dtype=object)[pick])
            else:  # inverse of the empirical CDF: every sampled value was observed
                pos = np.minimum((U[:, j] * len(values)).astype(np.int64), len(values) - 1)
                out.append(values[pos])
        if self.frame_columns is not None:
            frame = pd.DataFrame(dict(zip(self.frame_columns, out)))
            return frame.astype(self.dtypes.to_dict())
        return np.column_stack(out).reshape((len(U), *self.shape))
