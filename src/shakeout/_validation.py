"""Argument checks and conversions shared by every package.

Each check raises :class:`~shakeout.errors.ValidationError` whose message names the owner
(class or function), the parameter, the value received and what is allowed.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from shakeout.errors import ValidationError

Seed = int | np.random.Generator | None


def _owner(owner: Any) -> str:
    if isinstance(owner, str):
        return owner
    return type(owner).__name__


def check_number(owner: Any, name: str, value: Any, low: float | None = None,
                 high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False, integer: bool = False) -> Any:
    """Check that ``value`` is a finite number in a range and return it unchanged.

    >>> check_number("KSTest", "alpha", 0.05, 0, 1, low_open=True, high_open=True)
    0.05
    """
    kind = "an integer" if integer else "a number"
    is_num = isinstance(value, numbers.Integral if integer else numbers.Real)
    if not is_num or isinstance(value, bool) or not np.isfinite(value):
        raise ValidationError(f"{_owner(owner)}: {name} must be {kind}, got {value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValidationError(
            f"{_owner(owner)}: {name} must be in {left}{lo}, {hi}{right}, got {value!r}."
        )
    return value


def check_open_interval(owner: Any, name: str, value: Any, low: float, high: float) -> float:
    """Check ``low < value < high``; the usual check for ``alpha`` and confidence levels."""
    return check_number(owner, name, value, low, high, low_open=True, high_open=True)


def check_positive_int(owner: Any, name: str, value: Any, minimum: int = 1) -> int:
    """Check an integer count of at least ``minimum``."""
    return check_number(owner, name, value, minimum, None, integer=True)


def check_choice(owner: Any, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``; a boolean choice takes only a boolean
    (``1 == True`` in Python, but ``1`` is not a yes).

    >>> check_choice("PSI", "binning", "quantile", ("quantile", "uniform"))
    'quantile'
    >>> check_choice("PGD", "random_start", 1, (True, False))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: PGD: random_start must be one of True, False, got 1.
    """
    choices = tuple(choices)
    is_bool = isinstance(value, (bool, np.bool_))
    if not any(value == c and is_bool == isinstance(c, bool) for c in choices):
        allowed = ", ".join(repr(c) for c in choices)
        raise ValidationError(f"{_owner(owner)}: {name} must be one of {allowed}, got {value!r}.")
    return value


def check_grid(owner: Any, name: str, values: Any, *, low: float = 0.0,
               high: float | None = None) -> tuple[float, ...]:
    """Check a non-empty, increasing grid of severities and return it as a tuple of floats.

    >>> check_grid("GaussianNoise", "severities", [0, 0.1, 0.2])
    (0.0, 0.1, 0.2)
    """
    if isinstance(values, (int, float)):
        values = [values]
    try:
        grid = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{_owner(owner)}: {name} must be a list of numbers, got {values!r}."
        ) from None
    if not grid:
        raise ValidationError(f"{_owner(owner)}: {name} must not be empty.")
    for v in grid:
        check_number(owner, name, v, low, high)
    if any(b <= a for a, b in zip(grid, grid[1:])):
        raise ValidationError(
            f"{_owner(owner)}: {name} must be strictly increasing, got {list(grid)}."
        )
    return grid


def as_generator(seed: Seed, owner: Any = None) -> np.random.Generator:
    """Turn ``seed`` (an int, a Generator or None) into a Generator, once, at the entry point.

    ``owner`` (a class, its instance or a function's name) is named when ``seed`` is bad; a
    constructor that only checks its seed passes itself.

    >>> int(as_generator(0).integers(10))
    8
    >>> as_generator(-1, owner="KSTest")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: KSTest: seed must be a non-negative integer, a numpy \
Generator or None, got -1.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
                        and seed >= 0):
        return np.random.default_rng(seed)
    where = "" if owner is None else f"{_owner(owner)}: "
    raise ValidationError(
        f"{where}seed must be a non-negative integer, a numpy Generator or None, got {seed!r}."
    )


def as_finite_array(values: Any, *, name: str, ndim: int | Sequence[int] | None = None,
                    allow_nan: bool = False, dtype: Any = np.float64) -> np.ndarray:
    """Convert to a numeric array, checking emptiness, shape and finiteness.

    >>> as_finite_array([[1, 2], [3, 4]], name="X", ndim=2).shape
    (2, 2)
    """
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be numeric, but it could not be converted to numbers ({exc}). "
            "Encode text columns or pass them as categorical columns of a DataFrame."
        ) from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValidationError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                f"got shape {arr.shape}."
            )
    if arr.size == 0 or arr.shape[0] == 0:
        raise ValidationError(f"{name} is empty (shape {arr.shape}); pass at least one row.")
    bad = ~np.isfinite(arr) if not allow_nan else np.isinf(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        what = "NaN or inf" if not allow_nan else "inf"
        raise ValidationError(
            f"{name} contains {what} ({int(bad.sum())} values, first at index "
            f"{tuple(int(i) for i in where)}). Drop or impute those values first."
        )
    return arr


def as_finite_1d(values: Any, *, name: str) -> np.ndarray:
    """A finite, non-empty 1-D float array."""
    return as_finite_array(values, name=name, ndim=1)
