"""Categorical value swaps to other categories observed in the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.data.dataset import is_numeric_column
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, register


@register
class CategorySwap(Perturbation):
    """Replace each categorical value, with probability ``severity``, by another observed category.

    The replacement is drawn uniformly among the *other* categories seen at ``fit`` in that
    column, so the value always changes and never becomes a category the model has not seen.
    Works on the non-numeric columns of a DataFrame; numeric columns are left alone.

    Examples
    --------
    >>> X = pd.DataFrame({"colour": ["red", "green", "blue"] * 2000, "size": 1.0})
    >>> swap = CategorySwap().fit(X)
    >>> out = swap.apply(X, 0.3, seed=0)
    >>> round(float((out["colour"] != X["colour"]).mean()), 2), set(out["colour"]) <= {"red", "green", "blue"}
    (0.3, True)
    """

    name = "category_swap"
    unit = "fraction of categorical values swapped"
    default_severities = (0.0, 0.05, 0.1, 0.2)
    max_severity = 1.0

    def fit(self, X: Any) -> "CategorySwap":
        if not isinstance(X, pd.DataFrame):
            raise ValidationError(
                "CategorySwap works on the categorical columns of a DataFrame; got an array. "
                "Load the data as a table with its categorical columns as text."
            )
        self.categories_ = {}
        for col in X.columns:
            if not is_numeric_column(X[col]):
                cats = pd.unique(X[col].dropna())
                if len(cats) >= 2:
                    self.categories_[col] = np.asarray(cats, dtype=object)
        if not self.categories_:
            raise ValidationError(
                "CategorySwap: no categorical column with at least two categories to swap."
            )
        self.fitted_ = True
        return self

    def _apply_frame(self, X: pd.DataFrame, severity: float, rng: np.random.Generator) -> pd.DataFrame:
        out = X.copy()
        for col, cats in self.categories_.items():
            values = X[col].to_numpy(dtype=object)
            codes = pd.Index(cats).get_indexer(values)
            swap = (rng.random(len(values)) < severity) & (codes >= 0)
            k = len(cats)
            shifted = (codes + rng.integers(1, k, size=len(values))) % k
            new = np.where(swap, cats[np.where(codes >= 0, shifted, 0)], values)
            out[col] = pd.Series(new, index=X.index).astype(X[col].dtype)
        return out

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        raise ValidationError("CategorySwap needs a DataFrame with categorical columns.")
