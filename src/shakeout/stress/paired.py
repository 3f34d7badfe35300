"""Paired comparison of two sets of outputs on the same rows: clean vs perturbed, old vs new.

Both sides are resampled with the same row indices, so intervals are on the *change* and
account for the pairing. Accuracy changes are tested with the exact McNemar test; every
other metric with the centred paired bootstrap.
"""

from __future__ import annotations

import warnings
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


def _score(out: np.ndarray, task: str) -> np.ndarray:
    """One number per row for distribution tests: P(class 1), top-class confidence, or value."""
    if task == "regression":
        return out
    return out[:, 1] if out.shape[1] == 2 else out.max(axis=1)


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
    (0.108, True, True)
    """
    reps_a: list[list[np.ndarray]] = [[] for _ in metrics]
    reps_b: list[list[np.ndarray]] = [[] for _ in metrics]
    for idx in plan.indices():
        for i, m in enumerate(metrics):
            reps_a[i].append(m.resampled(y, out_a, idx))
            reps_b[i].append(m.resampled(y, out_b, idx))
    results = []
    for i, m in enumerate(metrics):
        ra, rb = np.concatenate(reps_a[i]), np.concatenate(reps_b[i])
        va, vb = m.value(y, out_a), m.value(y, out_b)
        change = float(m.degradation(va, vb))
        reps = m.degradation(ra, rb)
        if m.name == "accuracy":
            right_a = out_a.argmax(axis=1) == y
            right_b = out_b.argmax(axis=1) == y
            p = mcnemar_exact(int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b)))
        else:
            p = p_value(change, reps, scale=plan.scale)

        def estimate(value: float, replicates: np.ndarray, p: float | None = None) -> Estimate:
            return Estimate(value, interval(value, replicates, level=level, scale=plan.scale), p,
                            replicates)

        results.append(PairedMetric(m, estimate(va, ra), estimate(vb, rb),
                                    estimate(change, reps, p)))
    return results


@dataclass(frozen=True)
class Stability:
    """How much predictions moved, whatever the labels say."""

    flip_rate: Estimate | None
    mean_abs_change: Estimate
    ks_statistic: float
    ks_p_value: float


def stability(out_a: np.ndarray, out_b: np.ndarray, task: str, plan: BootstrapPlan,
              level: float = 0.95) -> Stability:
    """Flip rate (classification), mean absolute change and a two-sample KS test.

    The change is in the probability of the class side a predicted (classification) or in
    the predicted value (regression). The KS test compares the two prediction
    distributions as samples; it ignores the pairing, so it answers "did the output
    distribution move", not "did individual predictions move" (the flip rate does that).

    >>> a = np.tile([[0.9, 0.1]], (1000, 1))
    >>> s = stability(a, a.copy(), "classification", BootstrapPlan(n=1000))
    >>> s.flip_rate.value, s.mean_abs_change.value
    (0.0, 0.0)
    """
    if task == "classification":
        rows = np.arange(len(out_a))
        top = out_a.argmax(axis=1)
        moved = np.abs(out_a[rows, top] - out_b[rows, top])
        flipped = (top != out_b.argmax(axis=1)).astype(np.float64)
    else:
        moved = np.abs(out_a - out_b)
        flipped = None
    flip = None
    if flipped is not None:
        reps = plan.replicates(lambda idx: flipped[idx].mean(axis=1))
        value = float(flipped.mean())
        flip = Estimate(value, interval(value, reps, level=level, scale=plan.scale), None, reps)
    reps = plan.replicates(lambda idx: moved[idx].mean(axis=1))
    value = float(moved.mean())
    change = Estimate(value, interval(value, reps, level=level, scale=plan.scale), None, reps)
    with warnings.catch_warnings():  # scipy falls back to the asymptotic p-value on ties
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(_score(out_a, task), _score(out_b, task))
    return Stability(flip, change, float(ks.statistic), float(ks.pvalue))
