"""``Selective``: a classifier that answers when it is sure enough, and otherwise abstains or
hands the input to a fallback (another model, or a rule)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from shakeout._validation import check_choice, check_number, check_open_interval
from shakeout.errors import NotFittedError, ValidationError
from shakeout.models import Model, wrap
from shakeout.models.torch import is_torch_module
from shakeout.uncertainty._inputs import as_labels, classifier
from shakeout.uncertainty.risk import Guarantee, guaranteed_threshold
from shakeout.uncertainty.scores import SCORES, confidence


class Selective:
    """Answer or abstain: the model's answer where its confidence reaches a threshold.

    The threshold is given, or fitted on a calibration split by selection with guaranteed
    risk (:func:`shakeout.uncertainty.risk.guaranteed_threshold`): with probability at
    least ``1 - delta`` the error rate among answered inputs is at most ``risk``.

    Parameters
    ----------
    model : Model or anything :func:`shakeout.wrap` takes
        The classifier.
    risk : float, default=0.05
        Target selective risk for :meth:`fit`, in (0, 1).
    delta : float, default=0.05
        Probability that the fitted guarantee fails, in (0, 1).
    score : {"max_probability", "margin", "entropy"}, default="max_probability"
        The confidence score (higher is surer; ``entropy`` is negated).
    threshold : float or None
        A fixed threshold instead of fitting one.
    fallback : model, callable or None
        What answers the refused inputs: a model (its ``predict``) or a rule
        ``fallback(X) -> labels``; None abstains.
    abstain : any, default=None
        The answer of a refused input when there is no fallback.

    Attributes
    ----------
    guarantee_ : Guarantee
        After :meth:`fit`: the threshold, its risk bound, and coverage on calibration.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.models import wrap
    >>> from shakeout.uncertainty import Selective
    >>> model = wrap(lambda X: np.c_[X[:, 0], 1 - X[:, 0]], task="classification")
    >>> guard = Selective(model, threshold=0.8, fallback=lambda X: np.full(len(X), -1))
    >>> guard.predict(np.array([[0.9], [0.6], [0.1]])).tolist()
    [0, -1, 1]
    >>> Selective(model, threshold=0.8).predict(np.array([[0.9], [0.6]])).tolist()
    [0, None]
    """

    def __init__(self, model: Any, *, risk: float = 0.05, delta: float = 0.05,
                 score: str = "max_probability", threshold: float | None = None,
                 fallback: Any = None, abstain: Any = None):
        self.model = classifier(model, "Selective")
        self.risk = check_open_interval(self, "risk", risk, 0, 1)
        self.delta = check_open_interval(self, "delta", delta, 0, 1)
        self.score = check_choice(self, "score", score, SCORES)
        self.threshold = None if threshold is None else check_number(self, "threshold",
                                                                     threshold)
        self.fallback = _fallback(fallback)
        self.abstain = abstain

    def fit(self, X: Any, y: Any) -> Selective:
        """Choose the threshold on a calibration split (labels as the model knows them)."""
        proba = self.model.predict_proba(X)
        labels = as_labels(self.model.encode_labels(y), proba.shape[1])
        if len(labels) != len(proba):
            raise ValidationError(f"Selective.fit: X has {len(proba)} rows but y has "
                                  f"{len(labels)}; pass one label per row.")
        self.guarantee_: Guarantee = guaranteed_threshold(
            confidence(proba, self.score), proba.argmax(axis=1) == labels, risk=self.risk,
            delta=self.delta)
        return self

    @property
    def threshold_(self) -> float:
        """The threshold in use: the fitted one, else the one given."""
        if hasattr(self, "guarantee_"):
            return self.guarantee_.threshold
        if self.threshold is not None:
            return float(self.threshold)
        raise NotFittedError("Selective has no threshold; pass threshold=... or call "
                             "fit(X_calibration, y_calibration) first.")

    def accepts(self, X: Any) -> np.ndarray:
        """True where the model answers: its confidence reaches the threshold."""
        return confidence(self.model.predict_proba(X), self.score) >= self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """The model's label where it answers; the fallback's (or ``abstain``) elsewhere."""
        threshold = self.threshold_
        proba = self.model.predict_proba(X)
        classes = self.model.classes_ if self.model.classes_ is not None else \
            np.arange(proba.shape[1])
        out = np.asarray(classes)[proba.argmax(axis=1)].astype(object)
        refused = confidence(proba, self.score) < threshold
        if refused.any():
            out[refused] = self.abstain if self.fallback is None else \
                list(np.asarray(self.fallback(_rows(X, refused))))
        if self.fallback is None and self.abstain is None:
            return out  # None marks an abstention: an object array
        return np.asarray(out.tolist())

    def __repr__(self) -> str:
        shown = "unfitted" if self.threshold is None and not hasattr(self, "guarantee_") \
            else f"{self.threshold_:g}" if math.isfinite(self.threshold_) else "inf"
        return f"Selective({self.model.name}, score={self.score!r}, threshold={shown})"


def _fallback(fallback: Any) -> Callable[[Any], Any] | None:
    """A fallback's answer function: a model's ``predict`` (its labels as it gives them), or
    the rule itself."""
    if fallback is None:
        return None
    if is_torch_module(fallback):
        return wrap(fallback).predict
    if isinstance(fallback, Model) or hasattr(fallback, "predict"):
        return fallback.predict
    if callable(fallback):
        return fallback
    raise ValidationError(
        f"Selective: fallback must be a model, a callable rule fallback(X) -> labels or None, "
        f"got {type(fallback).__name__}."
    )


def _rows(X: Any, mask: np.ndarray) -> Any:
    """The rows of ``X`` where ``mask`` holds (DataFrames by position)."""
    return X.iloc[np.flatnonzero(mask)] if hasattr(X, "iloc") else np.asarray(X)[mask]
