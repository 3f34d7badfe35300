"""Models with the scikit-learn interface: scikit-learn, XGBoost, LightGBM, CatBoost."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import ValidationError
from shakeout.models._base import TASKS, Capabilities, Model
from shakeout.fingerprint import fingerprint


def _estimator_type(estimator: Any) -> str | None:
    """``"classifier"``, ``"regressor"`` or None, from scikit-learn's tags or older attribute."""
    if hasattr(estimator, "__sklearn_tags__"):
        try:
            return estimator.__sklearn_tags__().estimator_type
        except Exception:  # noqa: BLE001 - third-party tags can be incomplete
            pass
    return getattr(estimator, "_estimator_type", None)


class SklearnModel(Model):
    """Wrap any estimator with ``predict_proba`` (classifier) or ``predict`` (regressor).

    DataFrames pass through unchanged, so a pipeline with its own encoders for categorical
    columns sees the columns it was trained on.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SklearnModel(LogisticRegression(max_iter=500).fit(X, y))
    >>> model.task, model.predict_proba(X[:2]).shape
    ('classification', (2, 3))
    """

    def __init__(self, estimator: Any, *, task: str | None = None, batch_size: int = 65536):
        self.estimator = estimator
        self.batch_size = batch_size
        kind = _estimator_type(estimator)
        has_proba = hasattr(estimator, "predict_proba")
        if task is not None:
            check_choice(self, "task", task, TASKS)
        self.task = task or ("classification" if has_proba and kind != "regressor"
                             else "regression")
        if not has_proba and (self.task == "classification"
                              or (task is None and kind == "classifier")):
            raise ValidationError(
                f"{type(estimator).__name__} is a classifier without predict_proba, and "
                "shakeout measures class probabilities. Use a probabilistic model (e.g. "
                "SVC(probability=True)) or wrap it in sklearn.calibration.CalibratedClassifierCV."
            )
        classes = getattr(estimator, "classes_", None)
        self.classes_ = np.asarray(classes) if classes is not None else None

    @property
    def capabilities(self) -> Capabilities:
        """DataFrames pass through; the fitted column names when the estimator records them.

        >>> import pandas as pd
        >>> from sklearn.linear_model import LinearRegression
        >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
        >>> SklearnModel(LinearRegression().fit(X, [0, 1, 2])).capabilities.feature_names
        ('a', 'b')
        """
        names = getattr(self.estimator, "feature_names_in_", None)
        return Capabilities(frames=True,
                            feature_names=None if names is None else tuple(map(str, names)))

    def _raw(self, X: Any) -> np.ndarray:
        if self.task == "classification":
            return self.estimator.predict_proba(X)
        return self.estimator.predict(X)

    @property
    def name(self) -> str:
        return type(self.estimator).__name__

    def fingerprint(self) -> str:
        try:
            return fingerprint(pickle.dumps(self.estimator))
        except Exception:  # noqa: BLE001 - unpicklable estimators still get a name-based hash
            return fingerprint(repr(self.estimator))
