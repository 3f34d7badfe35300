"""Preprocessing faults: the bugs of a data pipeline, as input perturbations.

A feature that arrives in the wrong unit, two columns swapped, a feed that stopped updating,
a missing value filled with a default, a number cut to fewer digits: none of them raises an
error, and each looks to a monitor like covariate shift. As registered perturbations the
stress drill runs them like any other (``{"name": "unit_mismatch", "severities": [...]}``)
and :func:`shakeout.faults.caught` asks whether the drift suite would have noticed.

Every one has the same severity: the **fraction of rows affected** (the share of traffic
that goes through the faulty pipeline), each row drawn independently from the seed. The
draws are nested across a severity grid (common random numbers): the rows faulty at 0.25
are also faulty at 0.5. Severity 1 is the whole stream behind the faulty pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import check_choice, check_number
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, feature_positions, register

UNIT = "fraction of rows affected"
GRID = (0.0, 0.1, 0.25, 0.5, 1.0)
PRECISIONS = ("float16", "bfloat16", "float32", "integer", "decimals")


def check_features(owner: Any, features: Any, *, size: int | None = None) -> list[Any] | None:
    """``features`` as a list of column positions or names (None: every numeric feature).

    ``size`` demands exactly that many (a pair to swap).

    >>> check_features("ColumnSwap", (0, 2), size=2)
    [0, 2]
    >>> check_features("UnitMismatch", "age")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: UnitMismatch: features must be a list of column positions \
or names, got 'age'. Use features=['age'] for one feature.
    """
    if features is None:
        return None
    name = owner if isinstance(owner, str) else type(owner).__name__
    if isinstance(features, (str, bytes)) or not hasattr(features, "__iter__"):
        raise ValidationError(
            f"{name}: features must be a list of column positions or names, got {features!r}. "
            f"Use features=[{features!r}] for one feature.")
    out = list(features)
    if not out or (size is not None and len(out) != size) or len(set(map(str, out))) != len(out):
        want = f"{size} distinct" if size is not None else "distinct"
        raise ValidationError(
            f"{name}: features must hold {want} column positions or names, got {features!r}.")
    return out


class _RowFault(Perturbation):
    """Shared by the preprocessing faults: which rows (a ``severity`` share, drawn per row)
    and which features (``positions_``, learnt at ``fit``); subclasses write ``_fault``."""

    unit = UNIT
    default_severities = GRID
    max_severity = 1.0
    pair = False

    def _fit_array(self, X: np.ndarray) -> None:
        width = int(np.prod(X.shape[1:]))
        self.positions_ = feature_positions(self, self.features, self.columns_, width)
        if self.pair and self.features is None:
            if width < 2:
                raise ValidationError(f"{type(self).__name__}: swapping needs two features; the "
                                      f"data has {width}.")
            self.positions_ = np.arange(2)

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        rows = rng.random(len(X)) < severity
        flat = X.reshape(len(X), -1).copy()
        if rows.any():
            flat[rows] = self._fault(flat[rows])
        return flat.reshape(X.shape)

    def _fault(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@register
class UnitMismatch(_RowFault):
    """Features that arrive in another unit: multiplied by ``factor`` on the affected rows.

    Pixels in 0-255 where the model expects 0-1 (``factor=255``), millimetres for metres
    (``factor=1000``), percent for fractions (``factor=100``).

    Parameters
    ----------
    factor : float, default=255.0
        What the faulty pipeline multiplies by (> 0, not 1).
    features : sequence of int or str, or None
        Column positions (arrays) or names (DataFrames); None: every numeric feature.

    Examples
    --------
    >>> X = np.array([[0.5, 1.0], [0.2, 2.0]])
    >>> UnitMismatch(factor=1000, features=[0]).fit(X).apply(X, 1.0, seed=0)
    array([[500.,   1.],
           [200.,   2.]])
    """

    name = "unit_mismatch"

    def __init__(self, *, factor: float = 255.0, features: Sequence[Any] | None = None):
        self.factor = check_number(self, "factor", factor, 0, None, low_open=True)
        if factor == 1:
            raise ValidationError("UnitMismatch: factor must differ from 1 (1 changes nothing), "
                                  "got 1; use 255 for 0-1 pixels read as 0-255.")
        self.features = check_features(self, features)

    def _fault(self, rows: np.ndarray) -> np.ndarray:
        rows[:, self.positions_] *= self.factor
        return rows


@register
class ColumnSwap(_RowFault):
    """Two features that trade places on the affected rows (a reordered schema).

    Parameters
    ----------
    features : pair of int or str, or None
        The two columns; None: the first two numeric features.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> ColumnSwap(features=[0, 2]).fit(X).apply(X, 1.0, seed=0)
    array([[3., 2., 1.],
           [6., 5., 4.]])
    """

    name = "column_swap"
    pair = True

    def __init__(self, *, features: Sequence[Any] | None = None):
        self.features = check_features(self, features, size=2)

    def _fault(self, rows: np.ndarray) -> np.ndarray:
        rows[:, self.positions_] = rows[:, self.positions_[::-1]]
        return rows


@register
class FrozenFeature(_RowFault):
    """Features that stopped updating: on the affected rows each holds one stale value.

    The stale value is the feature's last finite value in the reference (the feed froze
    after the reference was collected); a feature with none freezes at 0.

    Parameters
    ----------
    features : sequence of int or str, or None
        Column positions or names; None: every numeric feature.

    Examples
    --------
    >>> ref = np.array([[1.0, 5.0], [2.0, 7.0]])
    >>> FrozenFeature(features=[1]).fit(ref).apply(np.array([[3.0, 9.0], [4.0, 8.0]]), 1.0, seed=0)
    array([[3., 7.],
           [4., 7.]])
    """

    name = "frozen_feature"

    def __init__(self, *, features: Sequence[Any] | None = None):
        self.features = check_features(self, features)

    def _fit_array(self, X: np.ndarray) -> None:
        super()._fit_array(X)
        flat = X.reshape(len(X), -1)[:, self.positions_]
        finite = np.isfinite(flat)
        last = len(flat) - 1 - np.argmax(finite[::-1], axis=0)  # last finite row per feature
        self.value_ = np.where(finite.any(axis=0), flat[last, np.arange(flat.shape[1])], 0.0)

    def _fault(self, rows: np.ndarray) -> np.ndarray:
        rows[:, self.positions_] = self.value_
        return rows


@register
class DefaultFilled(_RowFault):
    """Features lost upstream and filled with a default value on the affected rows.

    A join that found no match, a field renamed at the source, a timeout: the value is gone
    and the pipeline writes its default (0, -1, an empty-string code) without a word.

    Parameters
    ----------
    fill : float, default=0.0
        The default the pipeline writes.
    features : sequence of int or str, or None
        Column positions or names; None: every numeric feature.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> DefaultFilled(fill=-1, features=[1]).fit(X).apply(X, 1.0, seed=0)
    array([[ 1., -1.],
           [ 3., -1.]])
    """

    name = "default_filled"

    def __init__(self, *, fill: float = 0.0, features: Sequence[Any] | None = None):
        self.fill = check_number(self, "fill", fill)
        self.features = check_features(self, features)

    def _fault(self, rows: np.ndarray) -> np.ndarray:
        rows[:, self.positions_] = self.fill
        return rows


def truncated(values: np.ndarray, to: str, decimals: int = 0) -> np.ndarray:
    """``values`` cut to a narrower precision: a float16, bfloat16 or float32 round trip,
    ``integer`` (toward zero, as a cast to int does) or ``decimals`` (toward zero, to that
    many decimals, as a fixed-width text field does).

    >>> truncated(np.array([1.23456789, -2.7]), "decimals", 2).tolist()
    [1.23, -2.7]
    >>> truncated(np.array([1.9, -2.7]), "integer").tolist()
    [1.0, -2.0]
    >>> float(truncated(np.array([0.1]), "float16")[0])
    0.0999755859375
    """
    if to in ("float16", "float32"):
        return values.astype(to).astype(np.float64)
    if to == "bfloat16":  # the top 16 bits of a float32, rounded to nearest even
        bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    scale = 10.0 ** (decimals if to == "decimals" else 0)
    return np.trunc(values * scale) / scale


@register
class Truncation(_RowFault):
    """Features cut to a narrower precision on the affected rows.

    Parameters
    ----------
    to : {"float16", "bfloat16", "float32", "integer", "decimals"}, default="float16"
        A narrower float type (a column stored as half precision), ``integer`` (a float
        written into an integer column: cut toward zero) or ``decimals`` (cut toward zero
        to ``decimals`` digits: a fixed-width field).
    decimals : int, default=0
        Digits kept after the point with ``to="decimals"``.
    features : sequence of int or str, or None
        Column positions or names; None: every numeric feature.

    Examples
    --------
    >>> X = np.array([[3.14159, 2.71828]])
    >>> Truncation(to="decimals", decimals=2).fit(X).apply(X, 1.0, seed=0)
    array([[3.14, 2.71]])
    """

    name = "truncation"

    def __init__(self, *, to: str = "float16", decimals: int = 0,
                 features: Sequence[Any] | None = None):
        self.to = check_choice(self, "to", to, PRECISIONS)
        self.decimals = check_number(self, "decimals", decimals, 0, 15, integer=True)
        self.features = check_features(self, features)

    def _fault(self, rows: np.ndarray) -> np.ndarray:
        rows[:, self.positions_] = truncated(rows[:, self.positions_], self.to, self.decimals)
        return rows
