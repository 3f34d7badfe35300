"""Metrics as sums of per-row quantities, so every bootstrap replicate comes from one product.

``y`` holds class indices (classification) or targets (regression); ``out`` holds
probabilities ``(n, k)`` or predictions ``(n,)``. Every metric but ROC-AUC is a function of
*weighted sums* of per-row quantities: ``columns(y, out)`` gives an ``(n, q)`` array and
``finish(sums, total)`` turns the column sums (one row per replicate) and the total weight
into values. A bootstrap replicate is then a weight per row (how often it was drawn), and
all replicates of every metric are one sparse product ``counts @ columns``. With repeated
perturbation draws the columns of the draws are added up: the metric is that of the pooled
sample of all rows x draws. The point estimate is ``finish`` with every weight 1, so it is
exactly the statistic of the full sample (as scikit-learn computes it).

ROC-AUC is a rank statistic: :func:`weighted_auc` computes it for any row weights.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shakeout.errors import ValidationError

ECE_BINS = 15
EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A named metric: per-row columns once, then a value from weighted column sums.

    ``columns(y, out, pred=None)`` is an ``(n, q)`` float array of what each row contributes
    (correct, loss, calibration gap per confidence bin...; ``pred``, the argmax of ``out``,
    may be passed when already computed); ``finish(sums, total)`` maps ``(r, q)``
    column sums and the ``(r,)`` total weights to ``r`` values. ROC-AUC is not a sum: its
    ``columns`` are the scores and :func:`weighted_auc` does the rest (``ranked=True``).
    """

    name: str
    task: str
    higher_is_better: bool
    columns: Callable[..., np.ndarray]
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray]
    description: str
    bounded: bool = True
    """On a [0, 1] scale: effect sizes are absolute changes; otherwise relative to clean."""
    proportion: bool = False
    """The share of rows where something holds (accuracy, conformal coverage): one per-row
    column of 0s and 1s, ``finish=row_mean``. Its interval is then the Wilson score interval
    of that column over rows x draws, its drop's the paired Newcombe interval with the exact
    sign-flip (McNemar) test, instead of the bootstrap's."""
    ranked: bool = False
    scatter: Callable[..., tuple[int, list]] | None = None
    """Optional sparse form of ``columns``: ``(q, [(column, values), ...])`` where a column is
    an int (every row) or an int array (one column per row); cheaper than ``(n, q)`` zeros."""

    def value(self, y: np.ndarray, out: np.ndarray | Sequence[np.ndarray]) -> float:
        """The metric of the full sample; a list of outputs (one per draw) is pooled."""
        outs = [out] if isinstance(out, np.ndarray) else list(out)
        if self.ranked:
            scores = np.concatenate([self.columns(y, o) for o in outs])
            yy = np.tile(y, len(outs))
            return float(auc_of(scores, yy, np.ones((1, len(yy))))[0])
        sums = sum(self.columns(y, o).sum(axis=0) for o in outs)
        return float(self.finish(np.asarray(sums, dtype=np.float64)[None, :],
                                 np.array([len(y) * len(outs)], dtype=np.float64))[0])

    def degradation(self, clean: np.ndarray | float, other: np.ndarray | float) -> np.ndarray:
        """How much worse ``other`` is than ``clean`` (positive means worse)."""
        return np.subtract(clean, other) if self.higher_is_better else np.subtract(other, clean)


def row_mean(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``finish`` of a metric that is the mean of its one per-row column (accuracy, a loss).

    >>> row_mean(np.array([[3.0], [4.0]]), np.array([4.0, 8.0])).tolist()
    [0.75, 0.5]
    """
    return sums[:, 0] / total


TOP_CLASS_LOOP_MAX = 4
"""Up to this many classes :func:`top_class` compares columns instead of calling argmax."""


def top_class(out: np.ndarray) -> np.ndarray:
    """Each row's predicted class: ``out.argmax(axis=1)``, ties and NaN alike, but faster.

    Over a short axis argmax is slow (a loop per row); a few whole-column comparisons are
    several times faster.

    >>> top_class(np.array([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.1, np.nan, 0.9]]))
    array([1, 0, 1])
    """
    k = out.shape[1]
    if k > TOP_CLASS_LOOP_MAX or np.isnan(out).any():
        return out.argmax(axis=1)
    top = np.zeros(len(out), dtype=np.intp)
    best = out[:, 0].copy()
    for c in range(1, k):  # top only grows, so "becomes c where better" is a maximum
        column = out[:, c]
        np.maximum(top, (column > best) * np.intp(c), out=top)
        np.maximum(best, column, out=best)
    return top


def check_proportion(metric: Metric, cols: np.ndarray) -> None:
    """Refuse per-row values of a ``proportion=True`` metric that are not 0 or 1.

    >>> check_proportion(METRICS["accuracy"], np.array([[1.0], [0.0]]))
    >>> from dataclasses import replace
    >>> check_proportion(replace(METRICS["log_loss"], proportion=True), np.array([[0.2]]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: metric 'log_loss' sets proportion=True, ... got 0.2. ...
    """
    values = cols[:, 0]
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise ValidationError(
            f"metric {metric.name!r} sets proportion=True, so each row's value (the first of "
            f"its columns) must be 0 or 1; got {values[bad][0]:.6g}. Return 1.0 where the row "
            "counts (correct, covered) and 0.0 elsewhere, or build the Metric with "
            "proportion=False for a bootstrap interval of any per-row mean.")


@functools.lru_cache(maxsize=4)
def positions(n: int) -> np.ndarray:
    """``np.arange(n)``, read-only and made once per batch size: the row index of the
    per-row gathers ``out[positions(n), label]``, which every batch of a sweep repeats.

    >>> positions(3).tolist(), positions(3) is positions(3)
    ([0, 1, 2], True)
    """
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


def _argmax(out, pred):
    return top_class(out) if pred is None else pred


def _correct(y, out, pred=None):
    return (_argmax(out, pred) == y).astype(np.float64)[:, None]


def _nll(y, out, pred=None):
    return -np.log(np.clip(out[positions(len(y)), y], EPS, 1.0))[:, None]


def _dense(width: int, parts: list, n: int) -> np.ndarray:
    cols = np.zeros((n, width))
    rows = np.arange(n)
    for col, values in parts:
        if isinstance(col, int):
            cols[:, col] += values
        else:
            cols[rows, col] += values
    return cols


def _ece_scatter(y, out, pred=None):
    pred = _argmax(out, pred)
    conf = out[positions(len(y)), pred]
    bins = np.minimum((conf * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    return ECE_BINS, [(bins, (pred == y) - conf)]


def _ece_columns(y, out, pred=None):
    return _dense(*_ece_scatter(y, out, pred), len(y))


def _ece(sums, total):
    return np.abs(sums).sum(axis=1) / total


def _f1_scatter(y, out, pred=None):
    """Per class: predicted as it, predicted as it and right, truly it (3 k columns)."""
    k = out.shape[1]
    pred = _argmax(out, pred)
    ones = np.ones(len(y))
    return 3 * k, [(pred, ones), (k + pred, (pred == y).astype(np.float64)), (2 * k + y, ones)]


def _f1_columns(y, out, pred=None):
    return _dense(*_f1_scatter(y, out, pred), len(y))


def _macro_f1(sums, total):
    """F1 averaged over the classes that occur among the labels or the predictions, like
    scikit-learn's ``f1_score(average="macro")``."""
    k = sums.shape[1] // 3
    predicted, tp, true = sums[:, :k], sums[:, k:2 * k], sums[:, 2 * k:]
    denom = predicted + true
    present = denom > 1e-9
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=present)
    with np.errstate(invalid="ignore"):
        return f1.sum(axis=1) / present.sum(axis=1)


def _scores(y, out, pred=None):
    """Scores for ROC-AUC: P(class 1) for two classes, else every class's probability."""
    return out[:, 1:2] if out.shape[1] == 2 else out


def weighted_auc(score: np.ndarray, positive: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC of each row of ``score`` with per-element weights, ties counted half.

    ``score``, ``positive`` (bool) and ``weight`` have shape ``(r, N)``; returns ``r`` AUCs
    (NaN where a row has no positive or no negative weight). With unit weights this is
    scikit-learn's ``roc_auc_score``.

    >>> s = np.array([[0.1, 0.4, 0.35, 0.8]])
    >>> float(weighted_auc(s, np.array([[0, 0, 1, 1]], bool), np.ones((1, 4)))[0])
    0.75
    """
    r, n = score.shape
    order = np.argsort(score, axis=1, kind="stable")
    s = np.take_along_axis(score, order, axis=1)
    p = np.take_along_axis(positive, order, axis=1)
    w = np.take_along_axis(weight, order, axis=1)
    wn, wp = np.where(p, 0.0, w), np.where(p, w, 0.0)
    new = np.ones(s.shape, bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    gid = np.cumsum(new.ravel()) - 1
    neg = np.bincount(gid, wn.ravel())
    pos = np.bincount(gid, wp.ravel())
    below = np.cumsum(neg) - neg
    groups = new.sum(axis=1)
    row = np.repeat(np.arange(r), groups)
    first = np.concatenate([[0], np.cumsum(groups)[:-1]])
    below = below - below[first][row]
    u = np.bincount(row, pos * (below + 0.5 * neg), minlength=r)
    n1, n0 = wp.sum(axis=1), wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def auc_of(scores: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """ROC-AUC (one-vs-rest macro over the classes in ``y`` for more than two) per row of
    ``weight`` ``(r, N)``, for ``scores`` ``(N, c)`` and labels ``y`` ``(N,)``."""
    if scores.shape[1] == 1:
        return weighted_auc(np.broadcast_to(scores[:, 0], weight.shape), np.broadcast_to(
            y == 1, weight.shape), weight)
    per_class = [weighted_auc(np.broadcast_to(scores[:, c], weight.shape),
                              np.broadcast_to(y == c, weight.shape), weight)
                 for c in range(scores.shape[1]) if np.any(y == c)]
    with np.errstate(invalid="ignore"):
        stacked = np.stack(per_class)
        ok = np.isfinite(stacked)
        return np.where(ok.any(axis=0), np.where(ok, stacked, 0).sum(axis=0) / ok.sum(axis=0),
                        np.nan)


def _abs_err(y, out, pred=None):
    return np.abs(out - y)[:, None]


def _sq_err(y, out, pred=None):
    return ((out - y) ** 2)[:, None]


def _root_mean(sums, total):
    return np.sqrt(sums[:, 0] / total)


def _unused(sums, total):  # pragma: no cover - ROC-AUC does not finish from sums
    raise NotImplementedError


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "classification", True, _correct, row_mean,
           "fraction of correct predictions", proportion=True),
    Metric("macro_f1", "classification", True, _f1_columns, _macro_f1,
           "F1 averaged over the classes present in y or the predictions",
           scatter=_f1_scatter),
    Metric("roc_auc", "classification", True, _scores, _unused,
           "area under the ROC curve (one-vs-rest macro average for multiclass)", ranked=True),
    Metric("log_loss", "classification", False, _nll, row_mean,
           "mean negative log-likelihood (nats)", bounded=False),
    Metric("ece", "classification", False, _ece_columns, _ece,
           f"expected calibration error, {ECE_BINS} equal-width confidence bins",
           scatter=_ece_scatter),
    Metric("mae", "regression", False, _abs_err, row_mean, "mean absolute error (target units)",
           bounded=False),
    Metric("rmse", "regression", False, _sq_err, _root_mean,
           "root mean squared error (target units)", bounded=False),
)}
DEFAULT_METRICS = {"classification": ("accuracy", "macro_f1", "log_loss", "ece"),
                   "regression": ("mae", "rmse")}


RESERVED = frozenset({"flip", "moved", "flip_rate", "mean_abs_change", "prediction_ks",
                      "robustness_score"})
"""Names the stress sweep gives its own columns (``paired.Accumulator``) and findings
(``sweep``): a metric of that name would overwrite them."""


def get_metrics(metrics: Sequence[str | Metric] | None, task: str) -> list[Metric]:
    """Resolve metrics for a task: names of :data:`METRICS`, :class:`Metric` objects (a
    conformal predictor's ``stress_metrics()``, say), or None for the task's defaults.

    Every metric must be for ``task``, names must be unique and leave the sweep's own
    (:data:`RESERVED`, ``<metric>_drop``) alone, and a ``proportion=True`` metric must be
    the mean of its one per-row 0/1 column (``finish=row_mean``, not ranked, no
    ``scatter``; :func:`check_proportion` checks the values as they come).

    >>> [m.name for m in get_metrics(None, "regression")]
    ['mae', 'rmse']
    >>> [m.name for m in get_metrics(["accuracy", METRICS["ece"]], "classification")]
    ['accuracy', 'ece']
    """
    if isinstance(metrics, (str, Metric)):
        raise ValidationError(f"metrics must be a list, got {_label(metrics)} alone; pass "
                              f"[{_label(metrics)}].")
    chosen = [_resolve(item, task) for item in (DEFAULT_METRICS[task] if metrics is None
                                                 else metrics)]
    if not chosen:
        raise ValidationError("metrics must name at least one metric.")
    _check_names(chosen)
    return chosen


def _label(item: object) -> str:
    return f"Metric {item.name!r}" if isinstance(item, Metric) else repr(item)


def _resolve(item: str | Metric, task: str) -> Metric:
    if isinstance(item, str):
        if item not in METRICS:
            raise ValidationError(f"unknown metric {item!r}; known: {', '.join(METRICS)}, "
                                  "or a shakeout.stress.metrics.Metric object.")
        metric = METRICS[item]
    elif isinstance(item, Metric):
        metric = item
    else:
        raise ValidationError(
            f"metrics must hold metric names or Metric objects, got {type(item).__name__} "
            f"{item!r}; known names: {', '.join(METRICS)}.")
    if metric.task != task:
        raise ValidationError(
            f"metric {metric.name!r} is for {metric.task}, but the model is a {task} model."
        )
    if metric.proportion and (metric.finish is not row_mean or metric.ranked
                              or metric.scatter is not None):
        raise ValidationError(
            f"metric {metric.name!r} sets proportion=True, which needs the mean of one per-row "
            "0/1 column: build it with columns returning (n, 1) zeros and ones, "
            "finish=shakeout.stress.metrics.row_mean, ranked=False and no scatter, or with "
            "proportion=False for a bootstrap interval.")
    return metric


def _check_names(chosen: list[Metric]) -> None:
    names = [m.name for m in chosen]
    taken = RESERVED | {f"{name}_drop" for name in names}
    for name in names:
        if names.count(name) > 1:
            raise ValidationError(
                f"metrics name {name!r} {names.count(name)} times; pass each once (rename a "
                "Metric object with dataclasses.replace(metric, name=...)).")
        if name in taken:
            raise ValidationError(
                f"metric name {name!r} is taken by the stress sweep's own findings "
                f"({', '.join(sorted(taken))}); rename it with "
                "dataclasses.replace(metric, name=...).")
