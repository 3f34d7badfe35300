"""Checks shared by the uncertainty package: probabilities, labels, a classifier."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.errors import ValidationError
from shakeout.models import Model, wrap

TOLERANCE = 1e-6
"""How far a row of probabilities may sum from one (float32 softmax rounding)."""


def as_probabilities(proba: Any, *, name: str = "proba") -> np.ndarray:
    """Class probabilities ``(n, k)``: finite, in [0, 1], rows summing to one.

    >>> as_probabilities([[0.2, 0.8]]).tolist()
    [[0.2, 0.8]]
    >>> as_probabilities([[0.2, float("nan")]])
    Traceback (most recent call last):
    shakeout.errors.ValidationError: proba contains NaN or inf (1 values, first at row 0). \
A model that returns NaN probabilities cannot be scored; check its inputs and weights.
    """
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be an array of class probabilities, got values "
                              "that are not numbers.") from None
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValidationError(
            f"{name} must have shape (n, n_classes) with n >= 1 and at least 2 classes, got "
            f"shape {p.shape}. Pass model.predict_proba(X), not predicted labels."
        )
    # one pass (einsum: faster than sum over few columns): a NaN or inf makes its row's sum
    # non-finite
    sums = np.einsum("ij->i", p)
    if not np.isfinite(sums).all():
        bad = ~np.isfinite(p)
        raise ValidationError(
            f"{name} contains NaN or inf ({int(bad.sum())} values, first at row "
            f"{int(np.argwhere(bad)[0][0])}). A model that returns NaN probabilities cannot be "
            "scored; check its inputs and weights."
        )
    low, high = p.min(), p.max()
    off = np.abs(sums - 1) > TOLERANCE
    if low < -TOLERANCE or off.any():
        off |= p.min(axis=1) < -TOLERANCE
        row = int(np.flatnonzero(off)[0])
        raise ValidationError(
            f"{name}: row {row} is not a probability distribution (sum {sums[row]:.6g}, "
            f"min {p[row].min():.6g}). Pass probabilities (a softmax), not logits or scores."
        )
    return p if low >= 0 and high <= 1 else np.clip(p, 0.0, 1.0)


def as_labels(y: Any, k: int, *, name: str = "y") -> np.ndarray:
    """Labels as column indices ``0 .. k-1`` of the probabilities, one per row.

    >>> as_labels([0, 2], 3).tolist()
    [0, 2]
    >>> as_labels([0, 3], 3)
    Traceback (most recent call last):
    shakeout.errors.ValidationError: y must hold class indices 0 .. 2 (the columns of the \
probabilities); got 3 at row 1. Encode labels with model.encode_labels(y).
    """
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValidationError(f"{name} must be one label per row (1-D), got shape "
                              f"{labels.shape}.")
    codes = labels.astype(np.int64, copy=False) if labels.dtype.kind in "iub" else None
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and \
            np.all(labels == np.round(labels)):
        codes = labels.astype(np.int64)
    wrong = np.ones(len(labels), bool) if codes is None else (codes < 0) | (codes >= k)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise ValidationError(
            f"{name} must hold class indices 0 .. {k - 1} (the columns of the probabilities); "
            f"got {labels[row].item()!r} at row {row}. Encode labels with model.encode_labels(y)."
        )
    return codes


def paired(proba: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked probabilities and labels of the same length.

    >>> paired([[0.5, 0.5]], [0, 1])
    Traceback (most recent call last):
    shakeout.errors.ValidationError: proba has 1 rows but y has 2; pass one label per row.
    """
    p = as_probabilities(proba)
    labels = as_labels(y, p.shape[1])
    if len(labels) != len(p):
        raise ValidationError(f"proba has {len(p)} rows but y has {len(labels)}; pass one "
                              "label per row.")
    return p, labels


def classifier(model: Any, owner: str) -> Model:
    """``model`` wrapped; a regressor is an error naming ``owner``.

    >>> classifier(lambda X: X[:, 0], "max_probability")
    Traceback (most recent call last):
    shakeout.errors.ValidationError: wrap: a plain callable needs task='classification' (it \
returns probabilities of shape (n, k)) or task='regression' (it returns values of shape (n,)).
    >>> classifier(wrap(lambda X: X[:, 0], task="regression"), "max_probability")
    Traceback (most recent call last):
    shakeout.errors.ValidationError: max_probability needs class probabilities, but <lambda> \
is a regressor. Use a classifier; for a regressor's uncertainty use conformal intervals.
    """
    wrapped = wrap(model)
    if wrapped.task != "classification":
        raise ValidationError(
            f"{owner} needs class probabilities, but {wrapped.name} is a regressor. Use a "
            "classifier; for a regressor's uncertainty use conformal intervals."
        )
    return wrapped
