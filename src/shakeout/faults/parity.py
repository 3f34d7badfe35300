"""Pipeline parity: the same raw rows through the offline and the online preprocessing, and
for each feature that comes out different, how.

Training-serving skew is rarely noise: a feature arrives scaled (a unit), shifted (an
offset), in another column (a reordered schema), stuck at one value (a stale cache), filled
with a default where the lookup failed, or cut to fewer digits (a narrower type). Each
leaves an exact signature on paired rows, so each is named with its parameter instead of
"feature 3 differs". The checks are exact up to the tolerance (``rtol``, ``atol``), in this
order: swapped or moved columns, frozen value, default-filled, scale factor, offset,
truncation; a difference that fits none is reported as such, with its size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import check_number
from shakeout.errors import ValidationError
from shakeout.perturb.preprocessing import truncated
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Manifest, Result

DRILL = "parity"
PRECISIONS = (("float16", 0), ("bfloat16", 0), ("float32", 0), ("integer", 0),
              *(("decimals", d) for d in range(1, 10)))
"""Truncations tried, narrowest first: float types, integers, then 1 to 9 decimals."""


def _table(values: Any, role: str) -> tuple[np.ndarray, list[str] | None]:
    """A 2-D float array of a preprocessing's output and its column names (if a frame)."""
    names = [str(c) for c in values.columns] if isinstance(values, pd.DataFrame) else None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"parity: the {role} preprocessing must return numbers (the "
                              "model's input); it returned values that are not.") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    return arr.reshape(len(arr), -1), names


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _constant(values: np.ndarray, rtol: float, atol: float) -> bool:
    return bool(np.all(_close(values, values[0], rtol, atol)))


def _moved(j: int, off: np.ndarray, on: np.ndarray, differing: list[int], rtol: float,
           atol: float) -> dict | None:
    """Online feature ``j`` carries offline feature ``k``'s values: swapped when ``k``
    carries ``j``'s."""
    for k in differing:
        if k != j and np.all(_close(on[:, j], off[:, k], rtol, atol)):
            swapped = bool(np.all(_close(on[:, k], off[:, j], rtol, atol)))
            return {"kind": "swapped" if swapped else "moved", "partner": k}
    return None


def _filled(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> dict | None:
    """Online ``b`` equals offline ``a`` except on some rows, where it holds one value."""
    if _constant(b, rtol, atol) and not _constant(a, rtol, atol):
        return {"kind": "frozen", "value": float(b[0])}
    wrong = ~_close(a, b, rtol, atol)
    if wrong.all() or not _constant(b[wrong], rtol, atol):
        return None
    return {"kind": "default_filled", "value": float(b[wrong][0]),
            "rows_filled": int(wrong.sum())}


def _affine(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> dict | None:
    """``b = factor * a`` or ``b = a + offset`` on the rows where both are finite."""
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any() or not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return None
    a, b = a[both], b[both]
    nonzero = a != 0
    if nonzero.any():
        factor = float(np.median(b[nonzero] / a[nonzero]))
        if np.all(_close(b, factor * a, rtol, atol)):
            return {"kind": "scale", "factor": factor}
    offset = float(np.median(b - a))
    if np.all(_close(b, a + offset, rtol, atol)):
        return {"kind": "offset", "offset": offset}
    return None


def _cut(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> dict | None:
    """``b`` is ``a`` cut to a narrower precision (toward zero or to the nearest)."""
    for to, decimals in PRECISIONS:
        candidates = [truncated(a, to, decimals)]
        if to in ("integer", "decimals"):
            candidates.append(np.round(a, decimals))
        for how, cut in zip(("toward zero", "to nearest"), candidates):
            if np.all(_close(b, cut, rtol, atol)):
                precision = f"{decimals} decimals" if to == "decimals" else to
                rounding = how if to in ("integer", "decimals") else "to nearest"
                return {"kind": "truncation", "precision": precision, "rounding": rounding}
    return None


def _describe(how: dict, names: list[str]) -> str:
    kind = how["kind"]
    if kind in ("swapped", "moved"):
        partner = names[how["partner"]]
        return (f"swapped with {partner!r} (each carries the other's offline values)"
                if kind == "swapped" else f"carries the offline values of {partner!r}")
    if kind == "frozen":
        return f"frozen online at {how['value']:g} while it varies offline"
    if kind == "default_filled":
        return (f"default-filled online with {how['value']:g} on {how['rows_filled']} rows "
                "where offline has other values; equal elsewhere")
    if kind == "scale":
        return f"scaled online by a factor of {how['factor']:g}"
    if kind == "offset":
        return f"shifted online by an offset of {how['offset']:g}"
    if kind == "truncation":
        return f"truncated online to {how['precision']} ({how['rounding']})"
    return (f"differs online on {how['rows_differing']} rows with no simple pattern (largest "
            f"difference {how['max_abs_difference']:g})")


def _explain(j: int, off: np.ndarray, on: np.ndarray, differing: list[int], rtol: float,
             atol: float) -> dict:
    a, b = off[:, j], on[:, j]
    for check in (lambda: _moved(j, off, on, differing, rtol, atol),
                  lambda: _filled(a, b, rtol, atol), lambda: _affine(a, b, rtol, atol),
                  lambda: _cut(a, b, rtol, atol)):
        how = check()
        if how is not None:
            return how
    return {"kind": "other"}


def _finding(j: int, how: dict, off: np.ndarray, on: np.ndarray, names: list[str],
             rtol: float, atol: float) -> Finding:
    wrong = ~_close(off[:, j], on[:, j], rtol, atol)
    gap = np.abs(off[:, j] - on[:, j])
    how = {**how, "rows_differing": int(wrong.sum()),
           "max_abs_difference": float(np.nanmax(gap)) if np.isfinite(gap).any() else math.inf}
    text = _describe(how, names)
    if "partner" in how:
        how["partner"] = names[how["partner"]]
    return Finding(name=finding_name(DRILL, names[j]), metric="rows_differing",
                   value=how["rows_differing"] / len(off), status="fail", drill=DRILL,
                   group=how["kind"], feature=names[j], message=f"{names[j]}: {text}.",
                   details=how)


def parity(raw: Any, offline: Callable[[Any], Any], online: Callable[[Any], Any], *,
           rtol: float = 1e-9, atol: float = 0.0) -> Result:
    """Which features the online preprocessing produces differently from the offline one,
    and how.

    Parameters
    ----------
    raw : array or DataFrame
        Raw rows, given to both callables.
    offline, online : callable
        ``raw -> model input`` (an array or a DataFrame of numbers), one row per raw row and
        the same number of features; features are compared by position, named after the
        offline output's columns (``x0, x1, ...`` for arrays).
    rtol, atol : float
        Values within ``atol + rtol * |offline|`` of each other are equal (NaN equals NaN).

    Returns
    -------
    Result
        Drill ``"parity"``: per differing feature a failing finding whose group is how it
        differs (``swapped``, ``moved``, ``frozen``, ``default_filled``, ``scale``,
        ``offset``, ``truncation``, ``other``), its value the share of rows that differ and
        its details the parameter (factor, offset, partner, value, precision); then
        ``parity/features_differing``, passing only when none differs, and a warning when
        the column names differ.

    Examples
    --------
    >>> import numpy as np
    >>> raw = np.random.default_rng(0).normal(size=(100, 3))
    >>> result = parity(raw, lambda X: X, lambda X: X * [1.0, 100.0, 1.0])
    >>> [(f.feature, f.group, f.details["factor"]) for f in result.select(group="scale")]
    [('x1', 'scale', 100.0)]
    >>> result.select(metric="features_differing")[0].value
    1.0
    """
    rtol = check_number("parity", "rtol", rtol, 0.0)
    atol = check_number("parity", "atol", atol, 0.0)
    off, off_names = _table(offline(raw), "offline")
    on, on_names = _table(online(raw), "online")
    if off.shape != on.shape:
        raise ValidationError(
            f"parity: the offline preprocessing gives {off.shape[1]} features for "
            f"{off.shape[0]} rows, the online one {on.shape[1]} for {on.shape[0]}; parity "
            "compares feature by feature, so both must keep every row and give the same "
            "features (a missing or extra feature is the difference to fix first).")
    names = off_names or [f"x{j}" for j in range(off.shape[1])]
    same = _close(off, on, rtol, atol).all(axis=0)
    differing = [int(j) for j in np.flatnonzero(~same)]
    findings = [_finding(j, _explain(j, off, on, differing, rtol, atol), off, on, names,
                         rtol, atol) for j in differing]
    if off_names is not None and on_names is not None and off_names != on_names:
        findings.append(Finding(
            name=finding_name(DRILL, "columns"), metric="column_names_differ", value=1.0,
            status="warn", drill=DRILL, group="schema",
            message="The online output's column names differ from the offline ones "
                    f"(offline {off_names[:10]}, online {on_names[:10]}); features were "
                    "compared by position, as the model reads them.",
            details={"offline": off_names, "online": on_names}))
    findings.append(Finding(
        name=finding_name(DRILL, "features_differing"), metric="features_differing",
        value=len(differing), status="fail" if differing else "pass", drill=DRILL,
        message=(f"{len(differing)} of {len(names)} features differ between the offline and "
                 f"online preprocessing: {[names[j] for j in differing][:10]}."
                 if differing else f"All {len(names)} features agree on {len(off)} rows."),
        details={"features": [names[j] for j in differing], "rtol": rtol, "atol": atol,
                 "rows": len(off)}))
    manifest = Manifest.collect(n_rows=len(off), parameters={"rtol": rtol, "atol": atol})
    return Result(title="Pipeline parity", findings=tuple(findings), manifest=manifest)
