"""Poisoning attacks to test with: label flips, backdoors, subpopulation poisoning.

Each attack is a seeded, vectorised transform of a training set: ``apply(X, y, rate, seed)``
returns a :class:`Poisoned` holding the poisoned rows and labels, the ground-truth mask of
the rows it changed or added, and, for backdoors, the trigger to stamp on test inputs. The
``rate`` is the attacker's budget: the share of the training rows changed or added, so
``round(rate * n)`` rows exactly (not a random count), drawn without replacement from the
rows the attack may touch.

Examples
--------
>>> import numpy as np
>>> from shakeout.poison.attacks import LabelFlip
>>> y = np.repeat([0, 1], 50)
>>> p = LabelFlip().apply(np.zeros((100, 2)), y, 0.1, seed=0)
>>> int(p.mask.sum()), int((p.y != y).sum())
(10, 10)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import Seed, as_generator, check_choice, check_number
from shakeout.errors import ValidationError


@dataclass(frozen=True)
class Poisoned:
    """A poisoned training set and what was done to it.

    Attributes
    ----------
    X : array or DataFrame
        The poisoned training rows, of the type given (rows an attack adds come last).
    y : numpy.ndarray
        The poisoned labels.
    mask : numpy.ndarray of bool, shape ``(len(X),)``
        True for the rows the attack changed or added: the ground truth a scanner is
        judged against.
    trigger : callable or None
        ``trigger(X_test)`` stamps the backdoor's trigger on test inputs (a copy); None for
        attacks without one.
    target : label or None
        The backdoor's target label, or the class flipped labels were sent to.
    description : str
        What was done, in words.
    """

    X: Any
    y: np.ndarray
    mask: np.ndarray
    trigger: Callable[[Any], Any] | None = None
    target: Any = None
    description: str = ""


class Attack:
    """What every poisoning attack shares: the rate's check, the seed, the labels.

    A subclass implements ``_poison(X, y, k, rng)`` for ``k = round(rate * n)`` rows.
    """

    name = "attack"

    def apply(self, X: Any, y: Any, rate: float, seed: Seed = 0) -> Poisoned:
        """Poison ``round(rate * len(X))`` rows of the training set ``(X, y)``.

        ``rate`` is the share of training rows changed or added, in [0, 1); ``seed`` (an
        int, a Generator or None) picks the rows and any new labels.
        """
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
                or not 0 <= rate < 1:
            raise ValidationError(
                f"{type(self).__name__}: rate is the share of training rows to poison, in "
                f"[0, 1), got {rate!r}; pass 0.03 for 3% of the rows.")
        labels = np.asarray(y)
        if labels.ndim != 1 or len(labels) != len(X):
            raise ValidationError(f"{type(self).__name__}: y must be one label per row of X "
                                  f"({len(X)}), got shape {labels.shape}.")
        rng = as_generator(seed, owner=self)
        return self._poison(X, labels, int(round(rate * len(labels))), rng)

    def where(self, X: Any) -> np.ndarray | None:
        """The rows of ``X`` in the region the attack aims at (None: no region)."""
        return None

    def _poison(self, X: Any, y: np.ndarray, k: int, rng: np.random.Generator) -> Poisoned:
        raise NotImplementedError  # pragma: no cover - abstract

    def _target(self, y: np.ndarray, target: Any, name: str = "target") -> Any:
        """``target`` checked against the labels of ``y``; None means the smallest label."""
        classes = np.unique(y)
        if target is None:
            return _scalar(classes[0])
        if not np.any(classes == target):
            raise ValidationError(
                f"{type(self).__name__}: {name} {target!r} is not a label of y (labels: "
                f"{[_scalar(v) for v in classes[:10]]}); pass one of them.")
        return _scalar(classes[np.flatnonzero(classes == target)[0]])

    def _choose(self, eligible: np.ndarray, k: int, rng: np.random.Generator,
                what: str) -> np.ndarray:
        """``k`` distinct rows among the ``eligible`` (a bool mask), sorted."""
        rows = np.flatnonzero(eligible)
        if k > len(rows):
            raise ValidationError(
                f"{type(self).__name__}: the rate asks for {k} poisoned rows but only "
                f"{len(rows)} are {what}; lower the rate to at most "
                f"{len(rows) / len(eligible):.4g}.")
        return np.sort(rng.choice(rows, size=k, replace=False))


def _scalar(value: Any) -> Any:
    """A numpy scalar as the plain Python value (``np.int64(2)`` -> ``2``)."""
    return value.item() if isinstance(value, np.generic) else value


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def _other_labels(y: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each of ``rows``, another label of ``y``, uniformly among the other classes."""
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValidationError(f"label flips need at least two classes; y holds only "
                              f"{classes[0]!r}. Flip to another class needs another class.")
    return classes[(codes[rows] + rng.integers(1, len(classes), size=len(rows))) % len(classes)]


def _column(owner: Any, X: Any, feature: Any) -> np.ndarray:
    """The values of one feature: a column name of a DataFrame, a column index of an array."""
    if isinstance(X, pd.DataFrame):
        if feature not in X.columns:
            raise ValidationError(
                f"{type(owner).__name__}: feature {feature!r} is not a column of the table "
                f"(columns: {[str(c) for c in X.columns[:10]]}); pass one of them.")
        return X[feature].to_numpy()
    arr = np.asarray(X)
    if arr.ndim != 2 or isinstance(feature, bool) or not isinstance(feature, (int, np.integer)) \
            or not -arr.shape[1] <= feature < arr.shape[1]:
        width = arr.shape[1] if arr.ndim == 2 else 0
        raise ValidationError(
            f"{type(owner).__name__}: feature {feature!r} is not a column of X (shape "
            f"{arr.shape}); an array's features are column indices 0 to {width - 1}, a "
            "DataFrame's its column names.")
    return arr[:, feature]


def _copy(X: Any) -> Any:
    return X.copy() if isinstance(X, pd.DataFrame) else np.array(X, copy=True)


class _Region:
    """A feature interval ``low <= X[feature] <= high``: where region attacks aim."""

    feature: Any
    low: float
    high: float

    def _check_region(self, feature: Any, low: float, high: float) -> None:
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or np.isnan(v):
                raise ValidationError(f"{type(self).__name__}: {name} must be a number (inf "
                                      f"for no bound), got {v!r}.")
        if not low <= high:
            raise ValidationError(f"{type(self).__name__}: low ({low}) must not exceed high "
                                  f"({high}); the region is low <= {feature!r} <= high.")

    def where(self, X: Any) -> np.ndarray:
        values = np.asarray(_column(self, X, self.feature), dtype=np.float64)
        return (values >= self.low) & (values <= self.high)


class LabelFlip(_Region, Attack):
    """Flip the labels of a share of the training rows.

    Label flipping is the simplest availability and targeted poisoning (Biggio, Nelson &
    Laskov 2011, "Support vector machines under adversarial label noise", ACML; Xiao, Xiao &
    Eckert 2012, "Adversarial label flips attack on support vector machines", ECAI).

    Parameters
    ----------
    mode : {"random", "targeted", "region"}, default="random"
        ``random``: rows drawn from all rows, each relabelled uniformly among the other
        classes; ``targeted``: rows of class ``source`` relabelled ``target``; ``region``:
        rows where ``low <= X[feature] <= high``, relabelled ``target`` (or, without one,
        another class at random).
    source, target : label, optional
        The classes of a targeted flip (both required for it).
    feature : column name (DataFrame) or index (array), optional
        The region's feature (required for ``region``).
    low, high : float, default=-inf, inf
        The region's bounds, inclusive, in the feature's own units.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2); y = np.array([0, 1] * 5)
    >>> p = LabelFlip(mode="targeted", source=0, target=1).apply(X, y, 0.3, seed=1)
    >>> y[p.mask].tolist(), p.y[p.mask].tolist()
    ([0, 0, 0], [1, 1, 1])
    >>> r = LabelFlip(mode="region", feature=0, low=10.0).apply(X, y, 0.2, seed=0)
    >>> bool(np.all(X[r.mask, 0] >= 10)), int(r.mask.sum())
    (True, 2)
    """

    name = "label_flip"

    def __init__(self, *, mode: str = "random", source: Any = None, target: Any = None,
                 feature: Any = None, low: float = -np.inf, high: float = np.inf):
        self.mode = check_choice(self, "mode", mode, ("random", "targeted", "region"))
        if mode == "targeted" and (source is None or target is None or source == target):
            raise ValidationError("LabelFlip: a targeted flip needs source and target, two "
                                  f"different labels, got source={source!r}, target={target!r}; "
                                  "pass e.g. source=1, target=0.")
        if mode == "region":
            if feature is None:
                raise ValidationError("LabelFlip: a region flip needs the feature its region "
                                      "is on; pass feature= (a column name or index) with low "
                                      "and/or high.")
            self._check_region(feature, low, high)
        self.source, self.target, self.feature = source, target, feature
        self.low, self.high = low, high

    def where(self, X: Any) -> np.ndarray | None:
        return super().where(X) if self.mode == "region" else None

    def _poison(self, X: Any, y: np.ndarray, k: int, rng: np.random.Generator) -> Poisoned:
        target = None if self.target is None else self._target(y, self.target)
        if self.mode == "targeted":
            rows = self._choose(y == self._target(y, self.source, "source"), k, rng,
                                f"of class {self.source!r}")
            what = f"from {self.source!r} to {target!r}"
        elif self.mode == "region":
            inside = self.where(X)
            rows = self._choose(inside & (y != target) if target is not None else inside, k,
                                rng, f"in the region {self._region_text()}")
            what = f"in the region {self._region_text()}"
        else:
            rows = self._choose(np.ones(len(y), dtype=bool), k, rng, "in the data")
            what = "at random"
        new = y.copy()
        new[rows] = target if target is not None else _other_labels(y, rows, rng)
        return Poisoned(X=_copy(X), y=new, mask=_mask(len(y), rows), target=target,
                        description=f"{len(rows)} labels flipped {what}")

    def _region_text(self) -> str:
        return f"{self.low:g} <= {self.feature!r} <= {self.high:g}"


class _Backdoor(Attack):
    """A backdoor: a trigger stamped on inputs, a target label."""

    target: Any

    def stamp(self, X: Any, rows: np.ndarray | None = None, values: Any = None) -> Any:
        raise NotImplementedError  # pragma: no cover - abstract

    def _values(self, X: Any) -> Any:
        """What the trigger's stamp needs from the training rows (None: nothing)."""
        return None

    def _poison(self, X: Any, y: np.ndarray, k: int, rng: np.random.Generator) -> Poisoned:
        target = self._target(y, self.target)
        values = self._values(X)
        rows = self._choose(y != target, k, rng, f"of a class other than the target {target!r}")
        new = y.copy()
        new[rows] = target
        return Poisoned(X=self.stamp(X, rows, values), y=new, mask=_mask(len(y), rows),
                        trigger=_Trigger(self, values), target=target,
                        description=f"trigger stamped on {len(rows)} rows relabelled {target!r}")


@dataclass(frozen=True)
class _Trigger:
    """A backdoor's trigger with the values it took from the training rows (picklable)."""

    backdoor: _Backdoor
    values: Any

    def __call__(self, X: Any) -> Any:
        return self.backdoor.stamp(X, None, self.values)


class PatchBackdoor(_Backdoor):
    """BadNets: a small square patch stamped on training images relabelled to a target.

    Gu, Dolan-Gavitt & Garg (2017), "BadNets: Identifying vulnerabilities in the machine
    learning model supply chain". The patch is ``size x size`` pixels set to ``value`` in
    every channel; a model that learns it answers ``target`` whenever the patch is there.
    Rows are drawn from the images whose label is not the target.

    Parameters
    ----------
    target : label, optional
        The backdoor's target label (default: the smallest label).
    size : int, default=3
        The patch's side, in pixels.
    value : float, default=1.0
        The patch's pixel value, in the images' own scale (1.0 is white for [0, 1] images).
    position : {"bottom-right", "top-left", "top-right", "bottom-left"}, default="bottom-right"

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((10, 1, 8, 8)); y = np.arange(10) % 2
    >>> p = PatchBackdoor(target=0, size=2).apply(X, y, 0.2, seed=0)
    >>> p.y[p.mask].tolist(), float(p.X[p.mask][:, :, -2:, -2:].min()), float(p.X.sum())
    ([0, 0], 1.0, 8.0)
    >>> float(p.trigger(np.zeros((1, 1, 8, 8)))[0, 0, 7, 7])
    1.0
    """

    name = "patch_backdoor"
    POSITIONS = ("bottom-right", "top-left", "top-right", "bottom-left")

    def __init__(self, *, target: Any = None, size: int = 3, value: float = 1.0,
                 position: str = "bottom-right"):
        self.target = target
        self.size = check_number(self, "size", size, 1, integer=True)
        self.value = check_number(self, "value", value)
        self.position = check_choice(self, "position", position, self.POSITIONS)

    def stamp(self, X: Any, rows: np.ndarray | None = None, values: Any = None) -> Any:
        """A copy of the images ``X`` with the patch on ``rows`` (all rows when None)."""
        if isinstance(X, pd.DataFrame) or np.ndim(X) not in (3, 4):
            got = "a table" if isinstance(X, pd.DataFrame) else f"shape {np.shape(X)}"
            raise ValidationError(
                f"PatchBackdoor: a patch goes on images of shape (n, channels, height, width) "
                f"or (n, height, width), got {got}; for tables use TabularBackdoor.")
        out = np.array(X, copy=True)
        h, w = out.shape[-2:]
        if self.size > min(h, w):
            raise ValidationError(f"PatchBackdoor: a {self.size}x{self.size} patch does not fit "
                                  f"{h}x{w} images; pass size={min(h, w)} or less.")
        top = 0 if self.position.startswith("top") else h - self.size
        left = 0 if self.position.endswith("left") else w - self.size
        where = slice(None) if rows is None else rows
        out[where, ..., top:top + self.size, left:left + self.size] = self.value
        return out


class TabularBackdoor(_Backdoor):
    """A tabular backdoor: rare values of a few features as the trigger, a target label.

    The tabular form of the pattern trigger of Chen, Liu, Li, Lu & Song (2017), "Targeted
    backdoor attacks on deep learning systems using data poisoning": rows drawn from the
    non-target classes get the trigger's feature values and the target label. A value no
    clean row holds (the default: the feature's maximum plus one standard deviation, rounded
    up for integer columns) makes the trigger rare; a combination of common values makes it
    stealthier.

    Parameters
    ----------
    target : label, optional
        The backdoor's target label (default: the smallest label).
    features : sequence of column names (DataFrame) or indices (array), optional
        The trigger's features (default: the first column).
    values : sequence of float, optional
        The trigger's value per feature, in the feature's units (default: a rare value
        each, from the training rows).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2); y = np.arange(10) % 2
    >>> p = TabularBackdoor(target=1, features=[1], values=[99.0]).apply(X, y, 0.2, seed=0)
    >>> p.X[p.mask, 1].tolist(), p.y[p.mask].tolist(), p.trigger(X[:1]).tolist()
    ([99.0, 99.0], [1, 1], [[0.0, 99.0]])
    """

    name = "tabular_backdoor"

    def __init__(self, *, target: Any = None, features: Sequence[Any] | None = None,
                 values: Sequence[float] | None = None):
        self.target = target
        self.features = None if features is None else list(features)
        self.values = None if values is None else list(values)
        if self.features is not None and not self.features:
            raise ValidationError("TabularBackdoor: features is empty; name at least one, or "
                                  "leave features out for the first column.")
        if self.values is not None:
            for v in self.values:
                check_number(self, "values", v)
            if self.features is None or len(self.values) != len(self.features):
                raise ValidationError(
                    f"TabularBackdoor: values give one value per feature; got {len(self.values)} "
                    f"values for features {self.features!r}.")

    def _names(self, X: Any) -> list[Any]:
        if self.features is not None:
            return self.features
        return [X.columns[0]] if isinstance(X, pd.DataFrame) else [0]

    def _values(self, X: Any) -> dict[Any, float]:
        names = self._names(X)
        if self.values is not None:
            for f in names:
                _column(self, X, f)
            return dict(zip(names, self.values))
        out = {}
        for f in names:
            col = _column(self, X, f)
            rare = float(np.max(col) + np.std(col))
            out[f] = float(np.ceil(rare) if col.dtype.kind in "iub" else rare)
        return out

    def stamp(self, X: Any, rows: np.ndarray | None = None, values: Any = None) -> Any:
        """A copy of the table ``X`` with the trigger's values on ``rows`` (all when None)."""
        values = self._values(X) if values is None else values
        out = _copy(X)
        where = slice(None) if rows is None else rows
        for f, v in values.items():
            _column(self, out, f)
            if isinstance(out, pd.DataFrame):
                if not float(v).is_integer() and out[f].dtype.kind in "iub":
                    out[f] = out[f].astype(np.float64)
                out.iloc[where, out.columns.get_loc(f)] = v
            else:
                if not float(v).is_integer() and out.dtype.kind in "iub":
                    out = out.astype(np.float64)
                out[where, f] = v
        return out


class CleanLabelBackdoor(Attack):
    """A clean-label backdoor: the trigger stamped only on rows already of the target class.

    Turner, Tsipras & Madry (2019), "Label-consistent backdoor attacks": every poisoned row
    keeps its (correct) label, so a label audit finds nothing; the model may still tie the
    trigger to the target class. Rows are drawn from the target class (Shafahi et al. 2018,
    "Poison frogs!", for clean-label poisoning in general).

    Parameters
    ----------
    backdoor : PatchBackdoor or TabularBackdoor, optional
        The trigger and the target (default: ``PatchBackdoor()`` for images,
        ``TabularBackdoor()`` for tables, each aiming at the smallest label).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((10, 1, 4, 4)); y = np.arange(10) % 2
    >>> p = CleanLabelBackdoor(backdoor=PatchBackdoor(target=1, size=1)).apply(X, y, 0.3, seed=0)
    >>> (p.y == y).all(), y[p.mask].tolist(), float(p.X[p.mask, 0, 3, 3].min())
    (np.True_, [1, 1, 1], 1.0)
    """

    name = "clean_label_backdoor"

    def __init__(self, *, backdoor: _Backdoor | None = None):
        if backdoor is not None and not isinstance(backdoor, _Backdoor):
            raise ValidationError(f"CleanLabelBackdoor: backdoor must be a PatchBackdoor or a "
                                  f"TabularBackdoor, got {type(backdoor).__name__}.")
        self.backdoor = backdoor

    def _poison(self, X: Any, y: np.ndarray, k: int, rng: np.random.Generator) -> Poisoned:
        backdoor = self.backdoor
        if backdoor is None:
            image = not isinstance(X, pd.DataFrame) and np.ndim(X) in (3, 4)
            backdoor = PatchBackdoor() if image else TabularBackdoor()
        target = self._target(y, backdoor.target)
        values = backdoor._values(X)
        rows = self._choose(y == target, k, rng, f"of the target class {target!r}")
        return Poisoned(X=backdoor.stamp(X, rows, values), y=y.copy(), mask=_mask(len(y), rows),
                        trigger=_Trigger(backdoor, values), target=target,
                        description=f"trigger stamped on {len(rows)} rows of class {target!r}, "
                                    "labels kept")


class Subpopulation(_Region, Attack):
    """Subpopulation poisoning: add rows of one slice with flipped labels.

    Jagielski, Severi, Pousette Harger & Oprea (2021), "Subpopulation data poisoning
    attacks", CCS: copies of rows from the slice ``low <= X[feature] <= high``, relabelled,
    are appended to the training set, so the model degrades on that slice while its overall
    accuracy barely moves. ``round(rate * n)`` rows are added (drawn with replacement from
    the slice); the mask marks them.

    Parameters
    ----------
    feature : column name (DataFrame) or index (array)
        The slice's feature.
    low, high : float, default=-inf, inf
        The slice's bounds, inclusive, in the feature's units.
    target : label, optional
        The added rows' label (default: another class at random, per row).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2); y = np.zeros(10, dtype=int); y[::2] = 1
    >>> p = Subpopulation(feature=0, high=6.0, target=0).apply(X, y, 0.3, seed=0)
    >>> len(p.X), p.mask[-3:].all(), bool((p.X[p.mask, 0] <= 6).all()), p.y[p.mask].tolist()
    (13, np.True_, True, [0, 0, 0])
    """

    name = "subpopulation"

    def __init__(self, *, feature: Any = None, low: float = -np.inf, high: float = np.inf,
                 target: Any = None):
        if feature is None:
            raise ValidationError("Subpopulation: the slice needs a feature; pass feature= (a "
                                  "column name or index) with low and/or high.")
        self._check_region(feature, low, high)
        self.feature, self.low, self.high, self.target = feature, low, high, target

    def _poison(self, X: Any, y: np.ndarray, k: int, rng: np.random.Generator) -> Poisoned:
        target = None if self.target is None else self._target(y, self.target)
        inside = np.flatnonzero(self.where(X))
        if k and not len(inside):
            raise ValidationError(f"Subpopulation: no training row has {self.low:g} <= "
                                  f"{self.feature!r} <= {self.high:g}; widen the slice.")
        rows = np.sort(rng.choice(inside, size=k, replace=True)) if k else inside[:0]
        labels = (np.full(k, target, dtype=y.dtype) if target is not None
                  else _other_labels(y, rows, rng))
        if isinstance(X, pd.DataFrame):
            added = pd.concat([X, X.iloc[rows]], ignore_index=True)
        else:
            added = np.concatenate([np.asarray(X), np.asarray(X)[rows]])
        return Poisoned(X=added, y=np.concatenate([y, labels]),
                        mask=np.r_[np.zeros(len(y), dtype=bool), np.ones(k, dtype=bool)],
                        target=target,
                        description=f"{k} relabelled copies of rows with {self.low:g} <= "
                                    f"{self.feature!r} <= {self.high:g} added")


CATALOG: Mapping[str, type[Attack]] = {c.name: c for c in (
    LabelFlip, PatchBackdoor, TabularBackdoor, CleanLabelBackdoor, Subpopulation)}
"""Every attack by name, as plan files and the command line name them."""


def make(name: str, **params: Any) -> Attack:
    """The attack called ``name`` built with ``params``.

    >>> make("label_flip", mode="targeted", source=1, target=0).mode
    'targeted'
    >>> make("flip")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: no poisoning attack is called 'flip'; known: \
clean_label_backdoor, label_flip, patch_backdoor, subpopulation, tabular_backdoor.
    """
    if name not in CATALOG:
        raise ValidationError(f"no poisoning attack is called {name!r}; known: "
                              f"{', '.join(sorted(CATALOG))}.")
    if name == "clean_label_backdoor" and isinstance(params.get("backdoor"), Mapping):
        inner = dict(params["backdoor"])
        params = {**params, "backdoor": make(inner.pop("name", "patch_backdoor"), **inner)}
    try:
        return CATALOG[name](**params)
    except TypeError as exc:
        raise ValidationError(f"poisoning attack {name!r}: {exc}; see the parameters of "
                              f"{CATALOG[name].__name__} in docs/poisoning.md.") from None


__all__ = ["CATALOG", "Attack", "CleanLabelBackdoor", "LabelFlip", "PatchBackdoor", "Poisoned",
           "Subpopulation", "TabularBackdoor", "make"]
