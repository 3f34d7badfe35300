"""Per-feature sensitivity: perturb one feature at a time and see what moves and how it fails."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import check_number
from shakeout.data.dataset import is_numeric_column
from shakeout.models._base import Model
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding
from shakeout.stats import BootstrapPlan, interval, p_value, sign_flip_test
from shakeout.stress.sweep import predict_all

MAX_ROWS = 2000

DEFAULT_SHIFT = 0.1
"""Per-feature shift up and down, as a fraction of the feature's range (+-10%)."""


def _columns(X: Any) -> list[tuple[str, Any, bool]]:
    """(name, key, numeric) for each feature of a table or 2-D array."""
    if isinstance(X, pd.DataFrame):
        return [(str(c), c, is_numeric_column(X[c])) for c in X.columns]
    return [(f"x{j}", j, True) for j in range(X.shape[1])]


def _subsample(X: Any, y: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """At most MAX_ROWS rows, as a fresh float array or a re-indexed DataFrame."""
    rows = np.sort(rng.choice(len(X), MAX_ROWS, replace=False)) if len(X) > MAX_ROWS else None
    if isinstance(X, pd.DataFrame):
        X = X if rows is None else X.iloc[rows]
        return X.reset_index(drop=True), (y if rows is None else y[rows])
    X = np.array(X if rows is None else X[rows], dtype=np.float64)
    return X, (y if rows is None else y[rows])


def _variant(X: Any, key: Any, numeric: bool, how: str, sigma: float, shift: float,
             rng: np.random.Generator) -> Any:
    """A copy of X with one feature perturbed: ``noise``, ``up`` or ``down``."""
    frame = isinstance(X, pd.DataFrame)
    out = X.copy()
    col = X[key] if frame else X[:, key]
    if not numeric:  # categorical: swap half the values to other observed categories
        values = col.to_numpy(dtype=object)
        cats = pd.unique(values)
        if len(cats) < 2:
            return out
        codes = pd.Index(cats).get_indexer(values)
        moved = (codes + rng.integers(1, len(cats), len(values))) % len(cats)
        out[key] = np.where(rng.random(len(values)) < 0.5, cats[moved], values)
        return out
    values = np.asarray(col, dtype=np.float64)
    if how == "noise":
        new = values + sigma * values.std() * rng.standard_normal(len(values))
    else:
        new = values + (1 if how == "up" else -1) * shift * (values.max() - values.min())
    if frame:
        out[key] = new
    else:
        out[:, key] = new
    return out


def feature_sensitivity(model: Model, X: Any, y: np.ndarray, *, sigma: float = 0.5,
                        shift: float = DEFAULT_SHIFT, top_k: int = 5, level: float = 0.95,
                        rng: np.random.Generator) -> list[Finding]:
    """Rank features by how much perturbing each one alone moves the predictions.

    For each feature (on up to ``MAX_ROWS`` rows): Gaussian noise of ``sigma`` standard
    deviations (categorical features: half the values swapped), and a shift of ``shift`` of
    its range up and down. The value is the mean absolute change of the prediction under the
    noise, with a bootstrap interval. Details say how it fails: flip rate and accuracy drop
    under the noise; for the shift up and down, the mean absolute change of the prediction
    (``change_shift_up``, ``change_shift_down`` and their mean ``change_shift``), the flip
    rate and the accuracy (regression: the mean absolute error); which direction fails more
    (see :func:`worst_direction`) and the most common class change.

    Parameters
    ----------
    sigma : float, default=0.5
        Noise, in standard deviations of the feature.
    shift : float, default=DEFAULT_SHIFT (0.1)
        Size of the shift up and down, as a fraction of the feature's range (0.1: +-10%).
    level : float, default=0.95
        Interval level; ``1 - level`` is the significance level of the direction test.

    Examples
    --------
    A regressor that underestimates by 1: a shift up moves its prediction as much as a shift
    down, but only down adds error.

    >>> from shakeout.models import wrap
    >>> X = np.column_stack([np.linspace(0, 1, 100), np.zeros(100)])
    >>> model = wrap(lambda X: 10 * np.asarray(X)[:, 0], task="regression")
    >>> top = feature_sensitivity(model, X, 10 * X[:, 0] + 1, rng=np.random.default_rng(0))[0]
    >>> top.feature, round(top.details["change_shift"], 3), top.details["worst_direction"]
    ('x0', 1.0, 'down')
    """
    check_number("feature_sensitivity", "shift", shift, 0.0, 1.0, low_open=True)
    X, y = _subsample(X, y, rng)
    clean = predict_all(model, X, model.batch_size)
    cls = model.task == "classification"
    top = clean.argmax(axis=1) if cls else None
    plan = BootstrapPlan(n=len(X), n_boot=500, seed=int(rng.integers(2**31)))
    found = []
    for name, key, numeric in _columns(X):
        outs = {how: predict_all(model, _variant(X, key, numeric, how, sigma, shift, rng),
                                 model.batch_size)
                for how in (("noise", "up", "down") if numeric else ("noise",))}
        moved = {how: _moved(out, clean, top) for how, out in outs.items()}
        value = float(moved["noise"].mean())
        reps = plan.replicates(lambda idx: moved["noise"][idx].mean(axis=1))
        details: dict[str, Any] = {"perturbation": f"gaussian noise, {sigma:g} sd" if numeric
                                   else "half the values swapped to other categories"}
        if cls:
            details.update(_class_changes(model, outs, top, y, clean.shape[1]))
        if numeric:
            details.update(_shift_details(outs, moved, top, y, shift, plan, level))
        found.append((value, name, interval(value, reps, level=level), details))
    found.sort(key=lambda item: -item[0])
    unit = "mean |change| in P(clean class)" if cls else "mean |change| in prediction"
    return [Finding(
        name=finding_name("stress", "feature_sensitivity", str(name)),
        metric="feature_sensitivity", value=value,
        ci=ci, ci_level=level, status="info", drill="stress", group="feature_sensitivity",
        feature=name, unit=unit, message=_message(rank, len(found), top_k, details),
        details={**details, "rank": rank, "top_k": rank <= top_k, "n_rows": len(X)})
        for rank, (value, name, ci, details) in enumerate(found, start=1)]


def _moved(out: np.ndarray, clean: np.ndarray, top: np.ndarray | None) -> np.ndarray:
    """Per-row absolute change of P(clean class) (classification) or of the prediction."""
    if top is None:
        return np.abs(out - clean)
    rows = np.arange(len(clean))
    return np.abs(out[rows, top] - clean[rows, top])


def _class_changes(model: Model, outs: dict[str, np.ndarray], top: np.ndarray, y: np.ndarray,
                   k: int) -> dict[str, Any]:
    """Flip rate, accuracy drop and most common class change under the noise."""
    noisy = outs["noise"].argmax(axis=1)
    details: dict[str, Any] = {"flip_rate": float((noisy != top).mean()),
                               "accuracy_drop": float((top == y).mean() - (noisy == y).mean())}
    changed = Counter(zip(top[noisy != top].tolist(), noisy[noisy != top].tolist()))
    if changed:
        (a, b), count = changed.most_common(1)[0]
        labels = model.classes_ if model.classes_ is not None else np.arange(k)
        details["most_common_flip"] = f"{labels[a]} -> {labels[b]} ({count} rows)"
    return details


def _shift_details(outs: dict[str, np.ndarray], moved: dict[str, np.ndarray],
                   top: np.ndarray | None, y: np.ndarray, shift: float, plan: BootstrapPlan,
                   level: float) -> dict[str, Any]:
    """What the shift up and down does: movement, failures, and which direction fails more."""
    details: dict[str, Any] = {"shift": shift, "change_shift": float(
        (moved["up"].mean() + moved["down"].mean()) / 2)}
    losses = {}
    for how in ("up", "down"):
        details[f"change_shift_{how}"] = float(moved[how].mean())
        if top is None:
            losses[how] = np.abs(outs[how] - y)
            details[f"abs_error_shift_{how}"] = float(losses[how].mean())
        else:
            pred = outs[how].argmax(axis=1)
            losses[how] = (pred != y).astype(np.float64)
            details[f"flip_rate_shift_{how}"] = float((pred != top).mean())
            details[f"accuracy_shift_{how}"] = float(1 - losses[how].mean())
    direction, p = worst_direction(losses["up"], losses["down"], plan=plan,
                                   alpha=1 - level, binary=top is not None)
    details["worst_direction"], details["direction_p_value"] = direction, p
    return details


def worst_direction(loss_up: np.ndarray, loss_down: np.ndarray, *, plan: BootstrapPlan,
                    alpha: float = 0.05, binary: bool = True) -> tuple[str, float]:
    """Which shift fails more, by the rows' losses after it: ``"up"``, ``"down"`` or ``"alike"``.

    Failures, not movement, decide: the per-row loss is 1 for a wrong prediction and 0 for a
    right one (``binary``; the paired test is then the exact McNemar test, through
    :func:`~shakeout.stats.sign_flip_test`), or the absolute error of a regression (paired
    bootstrap p-value of the mean difference over ``plan``'s resamples). The direction with the
    larger mean loss wins when the two-sided p-value is below ``alpha``; otherwise, ties
    included, the answer is ``"alike"``: the difference is within noise.

    >>> plan = BootstrapPlan(n=100, n_boot=200, seed=0)
    >>> up, down = np.zeros(100), np.r_[np.ones(20), np.zeros(80)]
    >>> worst_direction(up, down, plan=plan)[0], worst_direction(up, up, plan=plan)[0]
    ('down', 'alike')
    """
    diff = np.asarray(loss_down, dtype=np.float64) - np.asarray(loss_up, dtype=np.float64)
    mean = float(diff.mean())
    if binary:
        p = sign_flip_test(diff)
    else:
        p = p_value(mean, plan.replicates(lambda idx: diff[idx].mean(axis=1)), scale=plan.scale)
    if p >= alpha or mean == 0:
        return "alike", float(p)
    return ("down" if mean > 0 else "up"), float(p)


def _message(rank: int, total: int, top_k: int, details: dict[str, Any]) -> str:
    """``rank r of n``; for the top k, how the feature fails."""
    message = f"rank {rank} of {total}"
    if rank > top_k:
        return message
    parts = [f"flips {details['flip_rate']:.1%} of predictions"] if "flip_rate" in details else []
    if "worst_direction" in details:
        direction = details["worst_direction"]
        parts.append("fails alike whichever way it moves" if direction == "alike"
                     else f"fails mostly when it goes {direction}")
        parts.append(f"a shift of +-{details['shift']:.0%} of its range moves the prediction "
                     f"by {details['change_shift']:.3g} on average")
    return message + (": " + ", ".join(parts) if parts else "")


def permutation_importance(model: Model, X: Any, y: np.ndarray, metric: Any, *,
                           repeats: int = 5, level: float = 0.95,
                           rng: np.random.Generator) -> list[Finding]:
    """Drop of the primary metric when a feature's column is shuffled (Breiman 2001).

    The baseline against which perturbation sensitivity is read: importance says what the
    model uses, sensitivity what breaks it. Interval: t-interval over ``repeats`` shuffles.
    """
    from scipy import stats

    X, y = _subsample(X, y, rng)
    base = metric.value(y, predict_all(model, X, model.batch_size))
    t = stats.t.ppf(0.5 + level / 2, repeats - 1)
    found = []
    for name, key, _ in _columns(X):
        drops = []
        for _ in range(repeats):
            Xp = X.copy()
            order = rng.permutation(len(X))
            if isinstance(X, pd.DataFrame):
                Xp[key] = X[key].to_numpy()[order]
            else:
                Xp[:, key] = X[order, key]
            drops.append(float(metric.degradation(base, metric.value(
                y, predict_all(model, Xp, model.batch_size)))))
        mean, sd = float(np.mean(drops)), float(np.std(drops, ddof=1))
        half = t * sd / np.sqrt(repeats)
        found.append(Finding(
            name=finding_name("stress", "permutation_importance", str(name)),
            metric="permutation_importance",
            value=mean, ci=(mean - half, mean + half), ci_level=level, status="info",
            drill="stress", group="permutation_importance", feature=name,
            unit=f"{metric.name} drop when shuffled",
            details={"repeats": repeats, "baseline": base}))
    return found
