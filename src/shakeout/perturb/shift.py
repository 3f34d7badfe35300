"""Feature-range shift: move features by a fraction of their observed range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, feature_positions, register


@register
class FeatureShift(Perturbation):
    """Add ``severity x (max - min)`` of each chosen feature: a systematic offset.

    Parameters
    ----------
    features : sequence of int or str, or None
        Column positions (arrays) or names (DataFrames) to shift; None shifts every numeric
        feature at once. Shifting one feature at a time is how per-feature sensitivity
        rankings are made.
    direction : {"up", "down"}, default="up"
        Sign of the shift.

    Examples
    --------
    >>> X = np.array([[0.0, 10.0], [1.0, 30.0]])
    >>> FeatureShift(features=[1]).fit(X).apply(X, 0.1, seed=0)
    array([[ 0., 12.],
           [ 1., 32.]])
    """

    name = "feature_shift"
    unit = "fraction of feature range"
    default_severities = (0.0, 0.05, 0.1, 0.2)

    def __init__(self, *, features: Sequence[Any] | None = None, direction: str = "up"):
        if features is not None and (isinstance(features, (str, bytes))
                                     or not hasattr(features, "__iter__")):
            raise ValidationError(
                f"FeatureShift: features must be a list of column positions or names, got "
                f"{features!r}. Use features=[{features!r}] for one feature."
            )
        self.features = None if features is None else list(features)
        if self.features == []:
            raise ValidationError(
                "FeatureShift: features must not be empty, got []. Use features=None to shift "
                "every numeric feature."
            )
        self.direction = check_choice(self, "direction", direction, ("up", "down"))

    def _fit_array(self, X: np.ndarray) -> None:
        flat = X.reshape(len(X), -1)
        span = np.nanmax(flat, axis=0) - np.nanmin(flat, axis=0)
        mask = np.zeros(flat.shape[1], dtype=bool)
        mask[feature_positions(self, self.features, self.columns_, flat.shape[1])] = True
        self.offset_ = (np.where(np.isfinite(span), span, 0.0) * mask).reshape(X.shape[1:])

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        sign = 1.0 if self.direction == "up" else -1.0
        return X + sign * severity * self.offset_
