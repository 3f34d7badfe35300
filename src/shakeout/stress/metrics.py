"""Metrics evaluated on a batch of bootstrap resamples at once.

``y`` holds class indices (classification) or targets (regression); ``outputs`` holds
probabilities ``(n, k)`` or predictions ``(n,)``. Resamples are integer arrays ``idx`` of
shape ``(resamples, rows)``; the point estimate is the same reduction over all rows.
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
    """A named metric in two steps: per-row quantities once, then a reduction per resample.

    ``rows(y, out)`` computes what each row contributes (correctness, loss, confidence...);
    ``reduce(rows, idx)`` turns the rows picked by ``idx`` of shape ``(resamples, m)`` into
    one value per resample. So the per-row work is done once however many resamples.
    """

    name: str
    task: str
    higher_is_better: bool
    rows: Callable[[np.ndarray, np.ndarray], tuple]
    reduce: Callable[[tuple, np.ndarray], np.ndarray]
    description: str
    bounded: bool = True
    """On a [0, 1] scale: effect sizes are absolute changes; otherwise relative to clean."""

    def value(self, y: np.ndarray, out: np.ndarray) -> float:
        return self.value_of(self.rows(y, out))

    def value_of(self, rows: tuple) -> float:
        n = len(rows[0])
        return float(self.reduce(rows, np.arange(n)[None, :])[0])

    def degradation(self, clean: np.ndarray | float, other: np.ndarray | float) -> np.ndarray:
        """How much worse ``other`` is than ``clean`` (positive means worse)."""
        return np.subtract(clean, other) if self.higher_is_better else np.subtract(other, clean)


def _mean(rows: tuple, idx: np.ndarray) -> np.ndarray:
    return rows[0][idx].mean(axis=1)


def _correct(y, out):
    return ((out.argmax(axis=1) == y).astype(np.float64),)


def _nll(y, out):
    return (-np.log(np.clip(out[np.arange(len(y)), y], EPS, 1.0)),)


def _ece_rows(y, out):
    conf = out.max(axis=1)
    bins = np.minimum((conf * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    return (bins, (out.argmax(axis=1) == y) - conf)


def _ece(rows, idx):
    bins, gap = rows
    r = idx.shape[0]
    codes = bins[idx] + ECE_BINS * np.arange(r)[:, None]
    sums = np.bincount(codes.ravel(), weights=gap[idx].ravel(), minlength=r * ECE_BINS)
    return np.abs(sums.reshape(r, ECE_BINS)).sum(axis=1) / idx.shape[1]


def _pair_rows(y, out):
    k = out.shape[1]
    present = np.bincount(y, minlength=k) > 0
    return (y * k + out.argmax(axis=1), k, present)


def _macro_f1(rows, idx):
    codes, k, present = rows
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


def _auc_rows(y, out):
    if out.shape[1] == 2:
        return ((out[:, 1], y == 1),)
    return tuple((out[:, c], y == c) for c in range(out.shape[1]) if np.any(y == c))


def _roc_auc(rows, idx):
    return np.nanmean([_auc_one(score, pos, idx) for score, pos in rows], axis=0)


def _abs_err(y, out):
    return (np.abs(out - y),)


def _sq_err(y, out):
    return ((out - y) ** 2,)


def _root_mean(rows, idx):
    return np.sqrt(rows[0][idx].mean(axis=1))


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "classification", True, _correct, _mean, "fraction of correct predictions"),
    Metric("macro_f1", "classification", True, _pair_rows, _macro_f1,
           "F1 averaged over the classes present in y"),
    Metric("roc_auc", "classification", True, _auc_rows, _roc_auc,
           "area under the ROC curve (one-vs-rest macro average for multiclass)"),
    Metric("log_loss", "classification", False, _nll, _mean,
           "mean negative log-likelihood (nats)", bounded=False),
    Metric("ece", "classification", False, _ece_rows, _ece,
           f"expected calibration error, {ECE_BINS} equal-width confidence bins"),
    Metric("mae", "regression", False, _abs_err, _mean, "mean absolute error (target units)",
           bounded=False),
    Metric("rmse", "regression", False, _sq_err, _root_mean,
           "root mean squared error (target units)", bounded=False),
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
