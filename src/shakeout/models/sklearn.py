"""Models with the scikit-learn interface: scikit-learn, XGBoost, LightGBM, CatBoost."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from shakeout.models._base import Model
from shakeout.report.result import fingerprint


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

    accepts_frames = True

    def __init__(self, estimator: Any, *, task: str | None = None, batch_size: int = 65536):
        self.estimator = estimator
        self.batch_size = batch_size
        is_classifier = hasattr(estimator, "predict_proba") and (
            getattr(estimator, "_estimator_type", None) != "regressor")
        self.task = task or ("classification" if is_classifier else "regression")
        classes = getattr(estimator, "classes_", None)
        self.classes_ = np.asarray(classes) if classes is not None else None

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
