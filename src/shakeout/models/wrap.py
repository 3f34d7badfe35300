"""``wrap``: adapt any supported model object to :class:`~shakeout.models.Model`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shakeout.errors import ValidationError
from shakeout.models._base import Model
from shakeout.models.callable import CallableModel
from shakeout.models.sklearn import SklearnModel
from shakeout.models.torch import is_torch_module


def wrap(obj: Any, *, task: str | None = None, classes: Any = None,
         batch_size: int | None = None, device: str | None = None) -> Model:
    """Adapt a model to shakeout's :class:`Model` interface.

    Accepts scikit-learn-style estimators (XGBoost, LightGBM and CatBoost through their
    scikit-learn API), torch ``nn.Module`` objects, paths to ``.onnx`` files, plain callables
    and already wrapped models.

    Parameters
    ----------
    task : {"classification", "regression"} or None
        Inferred for estimators (``predict_proba`` means classification); torch modules
        default to classification; callables must say.
    classes : sequence or None
        Labels of the probability columns, when the model does not know them.
    batch_size : int or None
        Rows per call; a sensible default per kind of model.
    device : str or None
        Torch only: where inference runs (default: where the parameters are).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> wrap(DecisionTreeClassifier(max_depth=2).fit(X, y)).task
    'classification'
    """
    if isinstance(obj, Model):
        return obj
    extra = {} if batch_size is None else {"batch_size": batch_size}
    if is_torch_module(obj):
        from shakeout.models.torch import TorchModel

        return TorchModel(obj, task=task or "classification", classes=classes, device=device,
                          **extra)
    if isinstance(obj, (str, Path)):
        if str(obj).endswith(".onnx"):
            from shakeout.models.onnx import OnnxModel

            return OnnxModel(obj, task=task or "classification", classes=classes, **extra)
        raise ValidationError(
            f"wrap: {str(obj)!r} is a path; only .onnx files are wrapped directly. Load other "
            "files with shakeout.models.load_model(path)."
        )
    if hasattr(obj, "predict_proba") or hasattr(obj, "predict"):
        model = SklearnModel(obj, task=task, **extra)
        if classes is not None:
            model.classes_ = np.asarray(classes)
        return model
    if callable(obj):
        if task is None:
            raise ValidationError(
                "wrap: a plain callable needs task='classification' (it returns probabilities "
                "of shape (n, k)) or task='regression' (it returns values of shape (n,))."
            )
        return CallableModel(obj, task=task, classes=classes, **extra)
    raise ValidationError(
        f"wrap: cannot use an object of type {type(obj).__name__} as a model. Pass a "
        "scikit-learn-style estimator, a torch nn.Module, an .onnx path or a callable."
    )
