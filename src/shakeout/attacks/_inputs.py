"""Inputs as attacks see them: a float array of the values an attacker may move.

Arrays pass through (any shape, float dtype kept). A DataFrame's numeric columns become the
array; other columns (text categories a pipeline encodes itself) stay as they are, and every
query to the model rebuilds the frame it was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import as_finite_array
from shakeout.data.dataset import is_numeric_column


class Inputs:
    """``X`` split into the numeric array an attack perturbs and the way back to the model.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "n": [3, 4], "c": ["x", "y"]})
    >>> inp = Inputs(frame)
    >>> inp.array.tolist(), inp.names, inp.integer_columns
    ([[1.0, 3.0], [2.0, 4.0]], ['a', 'n'], [1])
    >>> inp.restore(inp.array + 1)[["a", "n"]].dtypes.tolist()
    [dtype('float64'), dtype('int64')]
    """

    def __init__(self, X: Any):
        self.frame = X if isinstance(X, pd.DataFrame) else None
        if self.frame is not None:
            numeric = [c for c in X.columns if is_numeric_column(X[c])]
            self.names = [str(c) for c in numeric]
            self._columns = numeric
            self.integer_columns = [i for i, c in enumerate(numeric)
                                    if pd.api.types.is_integer_dtype(X[c])]
            self.array = as_finite_array(X[numeric].to_numpy(np.float64), name="X", ndim=2)
        else:
            arr = np.asarray(X)
            dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
            self.array = as_finite_array(arr, name="X", dtype=dtype)
            if self.array.ndim < 2:
                self.array = self.array.reshape(-1, 1)
            self.names = None
            self.integer_columns = []

    def to_model(self, arr: np.ndarray, rows: np.ndarray | None = None) -> Any:
        """What the model reads for perturbed values ``arr``; ``rows`` are their rows of ``X``.

        Query batches may repeat a row many times (one per candidate); ``rows`` says which
        row of ``X`` each candidate came from, so a frame gets that row's other columns.
        """
        if self.frame is None:
            return arr
        if len(self._columns) == self.frame.shape[1]:
            return pd.DataFrame(arr, columns=self.frame.columns)
        take = np.arange(len(arr)) if rows is None else rows
        out = self.frame.iloc[take].reset_index(drop=True)
        out[self._columns] = arr
        return out

    def restore(self, arr: np.ndarray) -> Any:
        """``arr`` in the type of ``X``: a frame with its dtypes, or an array."""
        if self.frame is None:
            return arr
        out = self.frame.copy()
        for j, col in enumerate(self._columns):
            values = arr[:, j]
            out[col] = values.astype(self.frame[col].dtype) if j in self.integer_columns else values
        return out
