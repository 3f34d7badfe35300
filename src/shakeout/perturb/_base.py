"""The Perturbation abstraction and the registry of perturbations by name."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shakeout._validation import Seed, as_generator, check_number
from shakeout.data.dataset import is_numeric_column
from shakeout.errors import NotFittedError, ValidationError

REGISTRY: dict[str, type["Perturbation"]] = {}


def register(cls: type["Perturbation"]) -> type["Perturbation"]:
    """Class decorator: make a perturbation available by its ``name`` (plans, CLI).

    Examples
    --------
    >>> @register
    ... class Offset(Perturbation):
    ...     '''Add ``severity`` to every value.'''
    ...     name = "offset_example"
    ...     unit = "absolute"
    ...     def _apply_array(self, X, severity, rng):
    ...         return X + severity
    >>> make("offset_example").fit(np.zeros((2, 2))).apply(np.zeros((2, 2)), 0.5, seed=0)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    >>> _ = REGISTRY.pop("offset_example")
    """
    if not getattr(cls, "name", ""):
        raise ValidationError(f"register: {cls.__name__} needs a class attribute name.")
    REGISTRY[cls.name] = cls
    return cls


def make(name: str, **params: Any) -> "Perturbation":
    """Build a registered perturbation by name with its keyword parameters."""
    if name not in REGISTRY:
        raise ValidationError(
            f"unknown perturbation {name!r}; known: {', '.join(sorted(REGISTRY))}."
        )
    cls = REGISTRY[name]
    accepted = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            takes = ", ".join(accepted) or "no parameters"
            raise ValidationError(
                f"perturbation {name!r}: unknown parameter(s) {', '.join(unknown)}; "
                f"{cls.__name__} takes {takes}."
            )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValidationError(f"perturbation {name!r}: {exc}.") from None


def check_clip(owner: Any, clip: Any) -> tuple[float, float] | None:
    """``clip`` as a (low, high) pair of floats with low < high, or None.

    >>> check_clip(None, (0, 1))
    (0.0, 1.0)
    """
    if clip is None:
        return None
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{type(owner).__name__}: clip must be (low, high), got {clip!r}.") from None
    if not lo < hi:
        raise ValidationError(f"{type(owner).__name__}: clip needs low < high, got {clip!r}.")
    return (lo, hi)


def clip_note(bounds: tuple[float, float], *, given: bool) -> str:
    """How a perturbation's results are bounded, for its description in the report.

    >>> clip_note((0.0, 1.0), given=False)
    'clipped to [0, 1] (the valid range inferred from the reference)'
    """
    how = "given" if given else "the valid range inferred from the reference"
    return f"clipped to [{bounds[0]:g}, {bounds[1]:g}] ({how})"


class Perturbation:
    """A seeded transform of inputs with a severity in documented units.

    ``fit(X)`` learns what the transform is relative to (per-feature spread, range,
    categories) from clean reference data; ``apply(X, severity, rng)`` transforms any batch,
    vectorised, and returns a new object of the same kind (array or DataFrame). Severity 0
    returns ``X`` unchanged.

    Subclasses set ``name``, ``unit`` and ``default_severities`` and implement
    ``_apply_array(X, severity, rng)`` on the numeric part as a float array; they may
    override ``_fit_array`` to learn from it.

    ``kind`` says what the transform acts on: ``"input"`` (a batch of inputs, each row drawn
    apart), ``"model"`` (``apply(model, severity, rng)`` returns a perturbed model, one draw
    shared by every row: weight noise, active dropout) or ``"adversarial"`` (an attack,
    which searches for the worst input instead of drawing one). The stress sweep runs the
    first two kinds.
    """

    name: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    default_severities: ClassVar[tuple[float, ...]] = (0.0, 0.05, 0.1, 0.2, 0.5)
    max_severity: ClassVar[float | None] = None
    kind: ClassVar[str] = "input"

    def fit(self, X: Any) -> "Perturbation":
        """Learn reference state from clean data; returns ``self``."""
        if isinstance(X, pd.DataFrame):
            self.columns_ = [c for c in X.columns if is_numeric_column(X[c])]
            arr = X[self.columns_].to_numpy(dtype=np.float64) if self.columns_ else None
        else:
            self.columns_ = None
            arr = np.asarray(X, dtype=np.float64)
        if arr is not None and arr.size:
            self._fit_array(arr)
        self.fitted_ = True
        return self

    def _fit_array(self, X: np.ndarray) -> None:
        """Learn from the numeric reference array (default: nothing to learn)."""

    def apply(self, X: Any, severity: float, rng: Seed = None, *, seed: Seed = None) -> Any:
        """Perturb ``X`` at ``severity`` using ``rng`` (or ``seed``)."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__}: call fit(reference) before apply.")
        check_number(self, "severity", severity, 0.0, self.max_severity)
        if severity == 0:
            return X
        rng = as_generator(rng if rng is not None else seed)
        if isinstance(X, pd.DataFrame):
            return self._apply_frame(X, severity, rng)
        arr = np.asarray(X, dtype=np.float64)
        out = self._apply_array(arr, severity, rng)
        dtype = np.asarray(X).dtype
        return out.astype(dtype, copy=False) if np.issubdtype(dtype, np.floating) else out

    def apply_grid(self, X: Any, severities: Any, rng: np.random.Generator, *,
                   empty: Any = np.empty) -> Any:
        """``(severity, apply(X, severity))`` for each severity, all from the same random state.

        Common random numbers: every severity sees the same draw (Gaussian noise is one
        standard-normal draw scaled per severity), so a degradation curve is smooth and its
        points are compared draw for draw. ``rng`` is not advanced. Subclasses whose draw
        does not depend on the severity override this to draw once. Every result is a new
        array (severity 0 gives ``X`` itself): the caller may hold several at once.

        ``empty(shape, dtype)`` gives the arrays an override writes its results into (the
        stress sweep passes arrays its model is done with, which saves the kernel a page
        fault per page); an override that takes it returns those arrays and keeps no other
        reference to them. This default computes each result on its own and ignores it.

        >>> from shakeout.perturb import Scaling
        >>> X = np.ones((2, 2))
        >>> p = Scaling().fit(X)
        >>> [round(float(out[0, 0] - 1), 3) for _, out in p.apply_grid(X, (0.1, 0.2), np.random.default_rng(0))]
        [0.112, 0.224]
        """
        state = rng.bit_generator.state
        for severity in severities:
            copy = np.random.Generator(type(rng.bit_generator)())
            copy.bit_generator.state = state
            yield severity, self.apply(X, severity, copy)

    def _apply_frame(self, X: pd.DataFrame, severity: float, rng: np.random.Generator) -> pd.DataFrame:
        if self.columns_ is None:
            raise ValidationError(
                f"{type(self).__name__}: fitted on an array but given a DataFrame; fit on the "
                "same kind of data you perturb."
            )
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValidationError(f"{type(self).__name__}: columns {missing} missing from X.")
        out = X.copy()
        if self.columns_:
            values = self._apply_array(X[self.columns_].to_numpy(dtype=np.float64), severity, rng)
            out[self.columns_] = values
        return out

    def _apply_array(self, X: np.ndarray, severity: float,
                     rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


def feature_positions(owner: Any, features: Sequence[Any] | None, columns: Sequence[Any] | None,
                      width: int) -> np.ndarray:
    """Flat positions of ``features`` among ``width`` values per row; names are looked up in
    ``columns`` (a DataFrame's numeric columns), positions checked against ``width``.

    >>> feature_positions("UnitMismatch", ["b"], ["a", "b"], 2).tolist()
    [1]
    >>> feature_positions("UnitMismatch", None, None, 3).tolist()
    [0, 1, 2]
    """
    name = owner if isinstance(owner, str) else type(owner).__name__
    if features is None:
        return np.arange(width)
    names = None if columns is None else [str(c) for c in columns]
    out = []
    for f in features:
        if names is not None:
            if str(f) not in names:
                raise ValidationError(f"{name}: feature {f!r} is not a numeric column; numeric "
                                      f"columns are {names[:20]}.")
            out.append(names.index(str(f)))
        elif isinstance(f, (int, np.integer)) and not isinstance(f, bool) and 0 <= f < width:
            out.append(int(f))
        else:
            raise ValidationError(f"{name}: feature {f!r} must be a column position in "
                                  f"[0, {width}).")
    return np.asarray(out, dtype=np.intp)
