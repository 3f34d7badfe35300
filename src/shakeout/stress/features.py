"""Per-feature sensitivity: perturb one feature at a time and see what moves and how it fails."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from shakeout.data.dataset import is_numeric_column
from shakeout.models._base import Model
from shakeout.report.result import Finding
from shakeout.stats import BootstrapPlan, interval
from shakeout.stress.sweep import predict_all

MAX_ROWS = 2000


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
                        shift: float = 0.1, top_k: int = 5, level: float = 0.95,
                        rng: np.random.Generator) -> list[Finding]:
    """Rank features by how much perturbing each one alone moves the predictions.

    For each feature (on up to ``MAX_ROWS`` rows): Gaussian noise of ``sigma`` standard
    deviations (categorical features: half the values swapped), and a shift of ``shift`` of
    its range up and down. The value is the mean absolute change of the prediction, with a
    bootstrap interval; details say how it fails: flip rate, the accuracy drop, which
    direction hurts more and the most common class change.
    """
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
        noisy = outs["noise"]
        moved = (np.abs(noisy[np.arange(len(X)), top] - clean[np.arange(len(X)), top]) if cls
                 else np.abs(noisy - clean))
        value = float(moved.mean())
        reps = plan.replicates(lambda idx: moved[idx].mean(axis=1))
        details: dict[str, Any] = {"perturbation": f"gaussian noise, {sigma:g} sd" if numeric
                                   else "half the values swapped to other categories"}
        if cls:
            flips = {how: float((o.argmax(axis=1) != top).mean()) for how, o in outs.items()}
            details["flip_rate"] = flips["noise"]
            details["accuracy_drop"] = float((top == y).mean() - (noisy.argmax(axis=1) == y).mean())
            changed = Counter(zip(top[noisy.argmax(axis=1) != top].tolist(),
                                  noisy.argmax(axis=1)[noisy.argmax(axis=1) != top].tolist()))
            if changed:
                (a, b), count = changed.most_common(1)[0]
                labels = model.classes_ if model.classes_ is not None else np.arange(clean.shape[1])
                details["most_common_flip"] = f"{labels[a]} -> {labels[b]} ({count} rows)"
            if numeric:
                details["flip_rate_shift_up"] = flips["up"]
                details["flip_rate_shift_down"] = flips["down"]
        if numeric:
            up = float(np.abs(outs["up"] - clean).mean())
            down = float(np.abs(outs["down"] - clean).mean())
            details["worst_direction"] = "up" if up >= down else "down"
        found.append((value, name, interval(value, reps, level=level), details))
    found.sort(key=lambda item: -item[0])
    unit = "mean |change| in P(clean class)" if cls else "mean |change| in prediction"
    results = []
    for rank, (value, name, ci, details) in enumerate(found, start=1):
        message = f"rank {rank} of {len(found)}"
        if rank <= top_k and cls:
            message += (f": flips {details['flip_rate']:.1%} of predictions"
                        + (f", fails mostly when it goes {details['worst_direction']}"
                           if "worst_direction" in details else ""))
        results.append(Finding(
            name=f"stress/feature_sensitivity/{name}", metric="feature_sensitivity", value=value,
            ci=ci, ci_level=level, status="info", drill="stress", group="feature_sensitivity",
            feature=name, unit=unit, message=message,
            details={**details, "rank": rank, "top_k": rank <= top_k, "n_rows": len(X)}))
    return results


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
            name=f"stress/permutation_importance/{name}", metric="permutation_importance",
            value=mean, ci=(mean - half, mean + half), ci_level=level, status="info",
            drill="stress", group="permutation_importance", feature=name,
            unit=f"{metric.name} drop when shuffled",
            details={"repeats": repeats, "baseline": base}))
    return found
