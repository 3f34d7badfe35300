"""The threat model's input space: valid range, and tabular rules an adversarial row must keep.

A threat model says what an attacker may change: a budget ``eps`` in a ``norm`` (set on each
attack), the valid range of every input (``bounds``), and for tables which features may move
at all, which must stay integers and which take values from a fixed set. :class:`Constraints`
states the tabular rules; :class:`Domain` is what an attack works with once the rules are
resolved against the data: it checks that the clean inputs are valid and projects any
candidate back into the threat model, so no attack can return a point outside the budget or
the valid range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import ValidationError

NORMS = ("linf", "l2", "l1", "l0")
_ORD = {"linf": np.inf, "l2": 2, "l1": 1}


def perturbation_norm(X_adv: Any, X: Any, *, norm: str) -> np.ndarray:
    """Size of each row's perturbation ``X_adv - X`` in ``norm``, over all trailing axes.

    ``l0`` counts the changed values.

    Examples
    --------
    >>> perturbation_norm(np.array([[3.0, 4.0]]), np.zeros((1, 2)), norm="l2").tolist()
    [5.0]
    >>> perturbation_norm(np.array([[3.0, 0.0]]), np.zeros((1, 2)), norm="l0").tolist()
    [1.0]
    """
    check_choice("perturbation_norm", "norm", norm, NORMS)
    delta = np.asarray(X_adv, dtype=np.float64) - np.asarray(X, dtype=np.float64)
    flat = delta.reshape(len(delta), -1)
    if norm == "l0":
        return (flat != 0).sum(axis=1).astype(np.float64)
    return np.linalg.norm(flat, ord=_ORD[norm], axis=1)


def data_bounds(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(low, high)`` observed in reference data: a valid range for a table.

    Pass the training data, not only the rows you attack, so the range is the one the
    model was fitted on.

    Examples
    --------
    >>> low, high = data_bounds(np.array([[0.0, 5.0], [2.0, 3.0]]))
    >>> low.tolist(), high.tolist()
    ([0.0, 3.0], [2.0, 5.0])
    """
    arr = X.select_dtypes("number").to_numpy(np.float64) if hasattr(X, "select_dtypes") \
        else np.asarray(X, dtype=np.float64)
    return arr.min(axis=0), arr.max(axis=0)


def check_bounds(owner: str, bounds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(low, high)`` as float arrays (scalars or per-feature), finite and ordered; or None.

    >>> check_bounds("PGD", (0, 1))
    (array(0.), array(1.))
    >>> check_bounds("PGD", (1, 0))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: PGD: bounds have low > high (at 1 values); ...
    """
    if bounds is None:
        return None
    try:
        low, high = (np.asarray(b, dtype=np.float64) for b in bounds)
        np.broadcast_shapes(low.shape, high.shape)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{owner}: bounds must be (low, high) with scalars or per-feature arrays, or None; "
            f"got {bounds!r}."
        ) from None
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValidationError(
            f"{owner}: bounds must be finite; use bounds=None for inputs without a valid range."
        )
    wrong = int(np.sum(high < low))
    if wrong:
        raise ValidationError(
            f"{owner}: bounds have low > high (at {wrong} values); pass (low, high) in that "
            "order."
        )
    return low, high


class Constraints:
    """Tabular rules: which features may move and which values they may take.

    Features are named by column name (when ``X`` is a DataFrame) or by integer position
    (any array: the position in a row flattened to 1-D).

    Parameters
    ----------
    immutable : sequence of names or positions, default=()
        Features the attacker cannot change (age, an ID, a sensor it cannot reach).
    mask : array of bool or None
        The perturbation mask for any input shape: ``True`` where a value may change. Shape
        of one input (``(d,)`` for a table, ``(c, h, w)`` for an image); combined with
        ``immutable``.
    integer : sequence of names or positions, default=()
        Features that must stay whole numbers (counts). Integer-typed DataFrame columns are
        integer features without being named.
    categorical : mapping of name or position to allowed values, default=None
        Features whose value must stay in a set (codes of a category). An adversarial
        value snaps to the nearest allowed value.
    one_hot : sequence of sequences of names or positions, default=()
        Groups of 0/1 columns encoding one category: exactly one stays 1.

    Discrete values are restored after the continuous attack: to the nearest valid value
    within the budget, or back towards the clean value when rounding would leave it.

    Examples
    --------
    >>> c = Constraints(immutable=["age"], integer=["visits"], categorical={"plan": [0, 1, 2]})
    >>> c
    Constraints(immutable=['age'], integer=['visits'], categorical={'plan': [0, 1, 2]})
    """

    def __init__(self, *, immutable: Sequence[Any] = (), mask: Any = None,
                 integer: Sequence[Any] = (),
                 categorical: Mapping[Any, Sequence[float]] | None = None,
                 one_hot: Sequence[Sequence[Any]] = ()):
        self.immutable = _names(self, "immutable", immutable)
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.integer = _names(self, "integer", integer)
        self.categorical = _categories(self, categorical)
        self.one_hot = [_names(self, "one_hot", group) for group in one_hot]
        if any(len(group) < 2 for group in self.one_hot):
            raise ValidationError(
                f"Constraints: each one_hot group needs at least two columns, got "
                f"{self.one_hot!r}."
            )

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in vars(self).items()
                 if v is not None and not (isinstance(v, (list, dict)) and not v)]
        return f"Constraints({', '.join(parts)})"


def _names(owner: Any, name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, int, np.integer)):
        values = [values]
    try:
        return list(values)
    except TypeError:
        raise ValidationError(
            f"{type(owner).__name__}: {name} must be a list of feature names or positions, "
            f"got {values!r}."
        ) from None


def _categories(owner: Any, categorical: Any) -> dict[Any, list[float]]:
    if categorical is None:
        return {}
    if not isinstance(categorical, Mapping):
        raise ValidationError(
            f"{type(owner).__name__}: categorical must map a feature to its allowed values, "
            f"e.g. {{'plan': [0, 1, 2]}}, got {categorical!r}."
        )
    for key, allowed in categorical.items():
        if len({float(v) for v in np.atleast_1d(allowed)}) < 2:
            raise ValidationError(
                f"{type(owner).__name__}: categorical feature {key!r} needs at least two "
                f"allowed values, got {allowed!r}; list it as immutable instead."
            )
    return dict(categorical)


class Domain:
    """A resolved threat model for one input shape: bounds, mask and discrete features.

    Built by every attack at the start of ``apply``; ``project`` is the last step of every
    attack and the per-query projection of black-box attacks.

    Parameters
    ----------
    shape : tuple
        Shape of one input.
    bounds : (low, high) or None
        Scalars or arrays broadcastable to ``shape``; ``None`` for no range.
    constraints : Constraints or None
    names : list of str or None
        Feature names of a table, to resolve names in ``constraints``.
    integer_columns : sequence of int
        Positions that are integer-typed columns of a DataFrame.

    Examples
    --------
    >>> d = Domain((2,), bounds=(0.0, 1.0))
    >>> d.project(np.array([[1.4, 0.5]]), np.array([[0.9, 0.5]]), "linf", 0.2).tolist()
    [[1.0, 0.5]]
    """

    def __init__(self, shape: tuple[int, ...], *, bounds: Any = (0.0, 1.0),
                 constraints: Constraints | None = None, names: Sequence[str] | None = None,
                 integer_columns: Sequence[int] = (), owner: str = "attack"):
        self.shape = tuple(shape)
        self.owner = owner
        self.size = int(np.prod(self.shape))
        self.lower, self.upper = self._bounds(bounds)
        self.names = None if names is None else [str(n) for n in names]
        c = constraints or Constraints()
        mask = np.ones(self.size, dtype=bool)
        if c.mask is not None:
            try:
                mask &= np.broadcast_to(c.mask, self.shape).reshape(-1)
            except ValueError:
                raise ValidationError(
                    f"{owner}: constraints mask has shape {c.mask.shape}, which does not fit "
                    f"inputs of shape {self.shape}."
                ) from None
        mask[self._positions(c.immutable, "immutable")] = False
        self.integer = np.zeros(self.size, dtype=bool)
        self.integer[self._positions(c.integer, "integer")] = True
        self.integer[list(integer_columns)] = True
        self.categorical = {int(self._positions([k], "categorical")[0]):
                            np.unique(np.asarray(v, dtype=np.float64))
                            for k, v in c.categorical.items()}
        self.one_hot = [self._positions(group, "one_hot") for group in c.one_hot]
        self.integer[list(self.categorical)] = False
        for group in self.one_hot:
            self.integer[group] = False
        self.mask = mask
        self.discrete = bool(self.integer.any() or self.categorical or self.one_hot)

    @property
    def shaped_mask(self) -> np.ndarray | None:
        """The mask as a float array of one input's shape, or None when everything may move."""
        return None if self.mask.all() else self.mask.reshape(self.shape).astype(np.float64)

    @property
    def span(self) -> float:
        """The widest range of one value (``high - low``), the unit of default budgets."""
        if self.lower is None:
            return float("nan")
        return float(np.max(self.upper - self.lower))

    def _bounds(self, bounds: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        checked = check_bounds(self.owner, bounds)
        if checked is None:
            return None, None
        try:
            return tuple(np.broadcast_to(b, self.shape).reshape(-1) for b in checked)
        except ValueError:
            raise ValidationError(
                f"{self.owner}: bounds of shape {checked[0].shape} and {checked[1].shape} do "
                f"not fit inputs of shape {self.shape}; pass scalars or arrays of one input's "
                "shape."
            ) from None

    def _positions(self, keys: Sequence[Any], what: str) -> np.ndarray:
        out = []
        for key in keys:
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                if not 0 <= key < self.size:
                    raise ValidationError(
                        f"{self.owner}: {what} feature position {key} is out of range for "
                        f"inputs with {self.size} values."
                    )
                out.append(int(key))
            elif self.names is not None and str(key) in self.names:
                out.append(self.names.index(str(key)))
            else:
                known = self.names[:10] if self.names else "positions only (X is an array)"
                raise ValidationError(
                    f"{self.owner}: {what} feature {key!r} not found; numeric features are "
                    f"{known}."
                )
        return np.asarray(out, dtype=np.int64)

    def check(self, x: np.ndarray) -> None:
        """Refuse clean inputs that already break the threat model's rules."""
        flat = x.reshape(len(x), -1)
        if self.lower is not None:
            tol = 1e-6 * max(1.0, self.span)
            bad = (flat < self.lower - tol) | (flat > self.upper + tol)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise ValidationError(
                    f"{self.owner}: X has values outside bounds ({int(bad.sum())} values, first "
                    f"row {row} feature {col}: {flat[row, col]:g} not in "
                    f"[{self.lower[col]:g}, {self.upper[col]:g}]). Pass the valid range of your "
                    "inputs as bounds=(low, high), bounds=data_bounds(X_train), or bounds=None."
                )
        ints = flat[:, self.integer]
        if ints.size and np.any(ints != np.round(ints)):
            raise ValidationError(
                f"{self.owner}: integer features hold non-integer values in X; fix the data "
                "or drop them from integer=."
            )
        for pos, allowed in self.categorical.items():
            if not np.isin(flat[:, pos], allowed).all():
                raise ValidationError(
                    f"{self.owner}: categorical feature {pos} holds values outside its allowed "
                    f"set {allowed.tolist()}."
                )

    def project(self, x_adv: np.ndarray, x: np.ndarray, norm: str,
                eps: float | None) -> np.ndarray:
        """The point of the threat model for each candidate row: mask, budget, range, validity.

        Linf budgets are met by clipping (the exact projection), L2 and L1 budgets by scaling
        the perturbation towards ``x`` (valid because the range is convex), L0 by keeping
        the ``eps`` largest changes.
        """
        n = len(x)
        x0 = x.reshape(n, -1).astype(np.float64)
        delta = x_adv.reshape(n, -1).astype(np.float64) - x0
        delta[:, ~self.mask] = 0.0
        if eps is not None:
            delta = _into_budget(delta, norm, eps)
        z = x0 + delta
        if self.lower is not None:
            z = np.clip(z, self.lower, self.upper)
        if self.discrete:
            z = self._repair(z, x0, norm, eps)
        return z.reshape(x.shape).astype(x.dtype, copy=False)

    def _repair(self, z: np.ndarray, x0: np.ndarray, norm: str, eps: float | None) -> np.ndarray:
        """Make discrete features valid without leaving the budget."""
        z = z.copy()
        near = z.copy()
        lo, hi = self._window(x0, norm, eps)
        cols = np.flatnonzero(self.integer)
        if cols.size:
            near[:, cols] = np.clip(np.round(z[:, cols]), np.ceil(lo[:, cols] - 1e-9),
                                    np.floor(hi[:, cols] + 1e-9))
        for pos, allowed in self.categorical.items():
            near[:, pos] = _nearest_allowed(z[:, pos], allowed, lo[:, pos], hi[:, pos], x0[:, pos])
        for group in self.one_hot:
            pick = np.argmax(z[:, group], axis=1)
            block = np.zeros((len(z), len(group)))
            block[np.arange(len(z)), pick] = 1.0
            near[:, group] = block
        if eps is None or norm == "linf":
            return near
        over = _row_norms(near - x0, norm) > eps * (1 + 1e-12)
        if over.any():
            safe = near[over]
            safe[:, cols] = x0[over][:, cols] + np.trunc(z[over][:, cols] - x0[over][:, cols])
            for pos in self.categorical:
                safe[:, pos] = x0[over, pos]
            for group in self.one_hot:
                safe[:, group] = x0[over][:, group]
            near[over] = safe
        return near

    def _window(self, x0: np.ndarray, norm: str,
                eps: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Per-value interval a discrete value may take: the range, and the budget under Linf."""
        lo, hi = np.full_like(x0, -np.inf), np.full_like(x0, np.inf)
        if self.lower is not None:
            lo, hi = np.broadcast_to(self.lower, x0.shape), np.broadcast_to(self.upper, x0.shape)
        if norm == "linf" and eps is not None:
            lo, hi = np.maximum(lo, x0 - eps), np.minimum(hi, x0 + eps)
        return lo, hi


def _nearest_allowed(v: np.ndarray, allowed: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     clean: np.ndarray) -> np.ndarray:
    """Nearest allowed value inside ``[lo, hi]``; the clean value (always allowed) otherwise."""
    inside = (allowed[None, :] >= lo[:, None] - 1e-9) & (allowed[None, :] <= hi[:, None] + 1e-9)
    dist = np.where(inside, np.abs(allowed[None, :] - v[:, None]), np.inf)
    best = allowed[np.argmin(dist, axis=1)]
    return np.where(np.isfinite(dist.min(axis=1)), best, clean)


def _row_norms(delta: np.ndarray, norm: str) -> np.ndarray:
    if norm == "l0":
        return (delta != 0).sum(axis=1).astype(np.float64)
    return np.linalg.norm(delta, ord=_ORD[norm], axis=1)


def _into_budget(delta: np.ndarray, norm: str, eps: float) -> np.ndarray:
    if norm == "linf":
        return np.clip(delta, -eps, eps)
    if norm == "l0":
        keep = int(np.floor(eps))
        if keep >= delta.shape[1]:
            return delta
        order = np.argsort(-np.abs(delta), axis=1, kind="stable")
        out = np.zeros_like(delta)
        rows = np.arange(len(delta))[:, None]
        out[rows, order[:, :keep]] = delta[rows, order[:, :keep]]
        return out
    size = _row_norms(delta, norm)
    scale = np.where(size > eps, eps / np.maximum(size, 1e-300), 1.0)
    return delta * scale[:, None]
