"""Metrics evaluated on a batch of bootstrap resamples at once.

Every metric maps ``(y, outputs, idx)`` to one value per resample, where ``idx`` is an
integer array ``(resamples, rows)``; the point estimate is the same function on all rows.
``y`` holds class indices (classification) or targets (regression); ``outputs`` holds
probabilities ``(n, k)`` or predictions ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from shakeout.errors import ValidationError

ECE_BINS = 15
EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A named metric: its task, its direction and its resample-vectorised function."""

    name: str
    task: str
    higher_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    description: str
    bounded: bool = True
    """On a [0, 1] scale: effect sizes are absolute changes; otherwise relative to clean."""

    def resampled(self, y: np.ndarray, out: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self.fn(y, out, idx)

    def value(self, y: np.ndarray, out: np.ndarray) -> float:
        return float(self.fn(y, out, np.arange(len(y))[None, :])[0])

    def degradation(self, clean: np.ndarray | float, other: np.ndarray | float) -> np.ndarray:
        """How much worse ``other`` is than ``clean`` (positive means worse)."""
        return np.subtract(clean, other) if self.higher_is_better else np.subtract(other, clean)


def _accuracy(y, out, idx):
    return (out.argmax(axis=1) == y)[idx].mean(axis=1)


def _log_loss(y, out, idx):
    p = np.clip(out[np.arange(len(y)), y], EPS, 1.0)
    return (-np.log(p))[idx].mean(axis=1)


def _ece(y, out, idx):
    conf = out.max(axis=1)
    gap = (out.argmax(axis=1) == y) - conf
    bins = np.minimum((conf * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    r = idx.shape[0]
    codes = bins[idx] + ECE_BINS * np.arange(r)[:, None]
    sums = np.bincount(codes.ravel(), weights=gap[idx].ravel(), minlength=r * ECE_BINS)
    return np.abs(sums.reshape(r, ECE_BINS)).sum(axis=1) / idx.shape[1]


def _macro_f1(y, out, idx):
    k = out.shape[1]
    present = np.bincount(y, minlength=k) > 0
    codes = y * k + out.argmax(axis=1)
    r = idx.shape[0]
    counts = np.bincount((codes[idx] + k * k * np.arange(r)[:, None]).ravel(),
                         minlength=r * k * k).reshape(r, k, k)
    tp = np.diagonal(counts, axis1=1, axis2=2)
    denom = counts.sum(axis=1) + counts.sum(axis=2)  # 2 tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=denom > 0)
    return f1[:, present].mean(axis=1)


def _auc_one(score: np.ndarray, positive: np.ndarray, idx: np.ndarray) -> np.ndarray:
    s, p = score[idx], positive[idx]
    ranks = stats.rankdata(s, axis=1)
    n1 = p.sum(axis=1)
    n0 = idx.shape[1] - n1
    u = (ranks * p).sum(axis=1) - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def _roc_auc(y, out, idx):
    k = out.shape[1]
    if k == 2:
        return _auc_one(out[:, 1], y == 1, idx)
    classes = [c for c in range(k) if np.any(y == c)]
    return np.nanmean([_auc_one(out[:, c], y == c, idx) for c in classes], axis=0)


def _mae(y, out, idx):
    return np.abs(out - y)[idx].mean(axis=1)


def _rmse(y, out, idx):
    return np.sqrt(((out - y) ** 2)[idx].mean(axis=1))


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "classification", True, _accuracy, "fraction of correct predictions"),
    Metric("macro_f1", "classification", True, _macro_f1,
           "F1 averaged over the classes present in y"),
    Metric("roc_auc", "classification", True, _roc_auc,
           "area under the ROC curve (one-vs-rest macro average for multiclass)"),
    Metric("log_loss", "classification", False, _log_loss, "mean negative log-likelihood (nats)",
           bounded=False),
    Metric("ece", "classification", False, _ece,
           f"expected calibration error, {ECE_BINS} equal-width confidence bins"),
    Metric("mae", "regression", False, _mae, "mean absolute error (target units)", bounded=False),
    Metric("rmse", "regression", False, _rmse, "root mean squared error (target units)",
           bounded=False),
)}
DEFAULT_METRICS = {"classification": ("accuracy", "macro_f1", "log_loss", "ece"),
                   "regression": ("mae", "rmse")}


def get_metrics(names: list[str] | tuple[str, ...] | None, task: str) -> list[Metric]:
    """Resolve metric names for a task (None gives the defaults).

    >>> [m.name for m in get_metrics(None, "regression")]
    ['mae', 'rmse']
    """
    names = DEFAULT_METRICS[task] if names is None else names
    chosen = []
    for name in names:
        if name not in METRICS:
            raise ValidationError(f"unknown metric {name!r}; known: {', '.join(METRICS)}.")
        metric = METRICS[name]
        if metric.task != task:
            raise ValidationError(
                f"metric {name!r} is for {metric.task}, but the model is a {task} model."
            )
        chosen.append(metric)
    if not chosen:
        raise ValidationError("metrics must name at least one metric.")
    return chosen
