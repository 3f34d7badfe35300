"""Paired comparison of two sets of outputs on the same rows: clean vs perturbed, old vs new.

Both sides are resampled with the same row indices, so intervals are on the *change* and
account for the pairing. Accuracy changes are tested with the exact McNemar test; every
other metric with the centred paired bootstrap. All statistics of one comparison share a
single pass over the resamples, and one side (the clean outputs of a sweep) is summarised
once and reused against every perturbed side.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from shakeout.stats import BootstrapPlan, effect_label, interval, mcnemar_exact, p_value
from shakeout.stress.metrics import Metric

EFFECT_THRESHOLDS = (0.01, 0.03, 0.10)
"""Change below which an effect is negligible, small, medium: in points for metrics on a
[0, 1] scale (0.01 = one accuracy point), relative to the baseline for unbounded ones."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, p-value and bootstrap replicates."""

    value: float
    ci: tuple[float, float]
    p_value: float | None
    replicates: np.ndarray


@dataclass(frozen=True)
class PairedMetric:
    """One metric on both sides and its degradation (positive: side b is worse)."""

    metric: Metric
    a: Estimate
    b: Estimate
    change: Estimate

    @property
    def effect(self) -> str:
        size = self.change.value
        if not self.metric.bounded:
            size /= max(abs(self.a.value), 1e-12)
        return effect_label(size, EFFECT_THRESHOLDS)


@dataclass(frozen=True)
class Stability:
    """How much predictions moved, whatever the labels say."""

    flip_rate: Estimate | None
    mean_abs_change: Estimate
    ks_statistic: float
    ks_p_value: float


@dataclass(frozen=True)
class Side:
    """One set of outputs summarised for the metrics: per-row quantities, values, replicates."""

    out: np.ndarray
    rows: list[tuple]
    values: list[float]
    replicates: list[np.ndarray]

    def estimates(self, plan: BootstrapPlan, level: float = 0.95) -> list[Estimate]:
        """Each metric's value with its interval, on this side alone."""
        return [Estimate(v, interval(v, r, level=level, scale=plan.scale), None, r)
                for v, r in zip(self.values, self.replicates)]


def _one_pass(plan: BootstrapPlan, reducers: list[Callable[[np.ndarray], np.ndarray]]) -> list[np.ndarray]:
    """Every reducer over the same resamples, drawing the indices once."""
    parts: list[list[np.ndarray]] = [[] for _ in reducers]
    for idx in plan.indices():
        for part, reduce in zip(parts, reducers):
            part.append(np.asarray(reduce(idx), dtype=np.float64))
    return [np.concatenate(p) for p in parts]


def _reducer(metric: Metric, rows: tuple) -> Callable[[np.ndarray], np.ndarray]:
    return lambda idx: metric.reduce(rows, idx)


def _mean_of(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda idx: values[idx].mean(axis=1)


def summarise(y: np.ndarray, out: np.ndarray, metrics: list[Metric], plan: BootstrapPlan) -> Side:
    """Per-row quantities, point values and replicates of every metric for one side."""
    rows = [m.rows(y, out) for m in metrics]
    values = [m.value_of(r) for m, r in zip(metrics, rows)]
    return Side(out, rows, values, _one_pass(plan, [_reducer(m, r) for m, r in zip(metrics, rows)]))


def _score(out: np.ndarray, task: str) -> np.ndarray:
    """One number per row for distribution tests: P(class 1), top-class confidence, or value."""
    if task == "regression":
        return out
    return out[:, 1] if out.shape[1] == 2 else out.max(axis=1)


def compare_outputs(y: np.ndarray, a: Side, out_b: np.ndarray, metrics: list[Metric],
                    plan: BootstrapPlan, task: str,
                    level: float = 0.95) -> tuple[list[PairedMetric], Stability]:
    """Every metric on side ``b`` against the summarised side ``a``, plus stability.

    Stability: the flip rate (classification), the mean absolute change in the probability
    of the class side a predicted (or in the predicted value), and a two-sample KS test of
    the two prediction distributions. The KS test ignores the pairing, so it answers "did
    the output distribution move", not "did predictions move" (the flip rate does that).
    """
    out_a = a.out
    rows_b = [m.rows(y, out_b) for m in metrics]
    if task == "classification":
        n = np.arange(len(out_a))
        top = out_a.argmax(axis=1)
        moved = np.abs(out_a[n, top] - out_b[n, top])
        flipped = (top != out_b.argmax(axis=1)).astype(np.float64)
        extra = [_mean_of(flipped), _mean_of(moved)]
    else:
        moved = np.abs(out_a - out_b)
        flipped = None
        extra = [_mean_of(moved)]
    reps = _one_pass(plan, [_reducer(m, r) for m, r in zip(metrics, rows_b)] + extra)

    def estimate(value: float, replicates: np.ndarray, p: float | None = None) -> Estimate:
        return Estimate(value, interval(value, replicates, level=level, scale=plan.scale), p,
                        replicates)

    paired = []
    for i, m in enumerate(metrics):
        va, vb = a.values[i], m.value_of(rows_b[i])
        change = float(m.degradation(va, vb))
        change_reps = m.degradation(a.replicates[i], reps[i])
        if m.name == "accuracy":
            right_a, right_b = a.rows[i][0] > 0, rows_b[i][0] > 0
            p = mcnemar_exact(int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b)))
        else:
            p = p_value(change, change_reps, scale=plan.scale)
        paired.append(PairedMetric(m, estimate(va, a.replicates[i]), estimate(vb, reps[i]),
                                   estimate(change, change_reps, p)))
    flip = estimate(float(flipped.mean()), reps[len(metrics)]) if flipped is not None else None
    change = estimate(float(moved.mean()), reps[-1])
    with warnings.catch_warnings():  # scipy falls back to the asymptotic p-value on ties
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(_score(out_a, task), _score(out_b, task))
    return paired, Stability(flip, change, float(ks.statistic), float(ks.pvalue))


def paired_metrics(y: np.ndarray, out_a: np.ndarray, out_b: np.ndarray,
                   metrics: list[Metric], plan: BootstrapPlan,
                   level: float = 0.95) -> list[PairedMetric]:
    """Each metric on both sides, with an interval and p-value on the change.

    Examples
    --------
    >>> from shakeout.stress.metrics import METRICS
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> good = np.column_stack([1 - y, y]) * 0.8 + 0.1
    >>> worse = np.where(rng.random((2000, 1)) < 0.1, good[:, ::-1], good)
    >>> pm = paired_metrics(y, good, worse, [METRICS["accuracy"]], BootstrapPlan(n=2000))[0]
    >>> round(pm.change.value, 3), pm.change.ci[0] > 0, pm.change.p_value < 1e-10
    (0.115, True, True)
    """
    task = metrics[0].task
    return compare_outputs(y, summarise(y, out_a, metrics, plan), out_b, metrics, plan, task,
                           level)[0]
