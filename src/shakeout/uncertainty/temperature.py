"""Temperature scaling: one parameter fitted on a calibration split to calibrate a classifier.

Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern neural networks", ICML: divide
the logits by a temperature ``T`` chosen to minimise the negative log-likelihood of a held-out
calibration split. ``T > 1`` softens an over-confident model. The top class never changes, so
accuracy is kept. Logits are read as ``log predict_proba`` (softmax is blind to a constant per
row), so any classifier can be scaled, not only a torch one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.errors import NotFittedError, ValidationError
from shakeout.models import Capabilities, Model
from shakeout.uncertainty._inputs import as_labels, as_probabilities, classifier

BOUNDS = (1e-2, 1e2)
"""The inverse temperatures searched, ``1 / T`` in ``[0.01, 100]``."""


def _log(proba: np.ndarray) -> np.ndarray:
    """``log p`` with zeros at the smallest float's log, so a zero stays (almost) zero."""
    return np.log(np.maximum(proba, np.finfo(np.float64).tiny))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def scale(proba: Any, temperature: float) -> np.ndarray:
    """Probabilities with their logits divided by ``temperature``.

    >>> scale([[0.8, 0.2]], 1.0).round(3).tolist(), scale([[0.8, 0.2]], 1e9).round(3).tolist()
    ([[0.8, 0.2]], [[0.5, 0.5]])
    """
    return _softmax(_log(as_probabilities(proba)) / temperature)


class TemperatureScaled(Model):
    """A classifier whose probabilities are temperature-scaled: a Model like any other.

    Parameters
    ----------
    model : Model or anything :func:`shakeout.wrap` takes
        The classifier to calibrate; it is not changed.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature (after :meth:`fit`); ``> 1`` softens, ``< 1`` sharpens.

    Examples
    --------
    A model that says ``sigmoid(3 z)`` where the truth is ``sigmoid(z)``: the fitted
    temperature is about 3 (2.9 from 5,000 rows).

    >>> import numpy as np
    >>> from shakeout.models import wrap
    >>> from shakeout.uncertainty import TemperatureScaled
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 1))
    >>> y = (rng.random(5000) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    >>> sure = wrap(lambda X: np.c_[1 / (1 + np.exp(3 * X[:, 0])),
    ...                             1 / (1 + np.exp(-3 * X[:, 0]))], task="classification")
    >>> scaled = TemperatureScaled(sure).fit(X, y)
    >>> round(scaled.temperature_, 1), scaled.predict_proba(np.zeros((1, 1))).tolist()
    (2.9, [[0.5, 0.5]])
    """

    def __init__(self, model: Any):
        self.model = classifier(model, "TemperatureScaled")
        self.task = "classification"
        self.classes_ = self.model.classes_
        self.batch_size = self.model.batch_size

    def fit(self, X: Any, y: Any) -> TemperatureScaled:
        """Fit the temperature on a calibration split by minimising the negative
        log-likelihood (scipy's bounded Brent search over ``1 / T``, where it is convex).

        ``y`` holds labels as the model knows them (``model.encode_labels``). A calibration
        row whose true class gets probability 0 is an error: no temperature moves a zero.
        """
        from scipy.optimize import minimize_scalar

        proba = as_probabilities(self.model.predict_proba(X), name="the model's probabilities")
        labels = as_labels(self.model.encode_labels(y), proba.shape[1])
        if len(labels) != len(proba):
            raise ValidationError(f"TemperatureScaled.fit: X has {len(proba)} rows but y has "
                                  f"{len(labels)}; pass one label per row.")
        truth = proba[np.arange(len(labels)), labels]
        _refuse_zeros(self.model, truth, labels)
        logp = _log(proba)

        def nll(beta: float) -> float:
            z = logp * beta
            top = z.max(axis=1)
            lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
            return float(np.mean(lse - z[np.arange(len(labels)), labels]))

        best = minimize_scalar(nll, bounds=BOUNDS, method="bounded",
                               options={"xatol": 1e-8})
        self.temperature_ = float(1 / best.x)
        return self

    def _raw(self, X: Any) -> np.ndarray:
        if not hasattr(self, "temperature_"):
            raise NotFittedError(
                "TemperatureScaled is not fitted; call fit(X_calibration, y_calibration) first."
            )
        return scale(self.model.predict_proba(X), self.temperature_)

    @property
    def capabilities(self) -> Capabilities:
        """What the scaled model takes (DataFrames, feature names) from the model it scales;
        no gradients or module: attack or perturb the model itself."""
        inner = self.model.capabilities
        return Capabilities(frames=inner.frames, feature_names=inner.feature_names)

    @property
    def name(self) -> str:
        return f"TemperatureScaled({self.model.name})"

    def fingerprint(self) -> str:
        from shakeout.fingerprint import fingerprint

        return fingerprint(f"{self.model.fingerprint()}|{getattr(self, 'temperature_', None)!r}")


def _refuse_zeros(model: Model, truth: np.ndarray, labels: np.ndarray) -> None:
    """A calibration row whose true class has probability 0 makes the likelihood zero at
    every temperature: say which class the model never gives any probability to."""
    zero = np.flatnonzero(truth <= 0)
    if zero.size:
        row = int(zero[0])
        classes = model.classes_ if model.classes_ is not None else np.arange(labels.max() + 1)
        raise ValidationError(
            f"TemperatureScaled.fit: the model gives probability 0 to the true class of "
            f"{zero.size} calibration rows (first: row {row}, class "
            f"{np.asarray(classes)[labels[row]].item()!r}); no temperature can move a zero. Drop "
            "classes the model never predicts from the calibration set, or smooth the model's "
            "probabilities first."
        )
