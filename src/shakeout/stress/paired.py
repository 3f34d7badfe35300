"""Paired comparison of two sets of outputs on the same rows: clean vs perturbed, old vs new.

Both sides are resampled with the same row weights, so intervals are on the *change* and
account for the pairing. One side may hold several perturbation draws of every row; its
metrics are those of the pooled rows x draws, and its intervals account for both sources of
randomness:

- **input perturbations** draw each row's noise independently, so a row with all its draws
  is an independent unit and the row bootstrap of the pooled metric is the right one
  (the cluster bootstrap; Davison & Hinkley 1997, section 3.8);
- **model-side perturbations** (weight noise, active dropout) share one draw among all rows,
  so the draws are resampled too: the two-way bootstrap over rows x draws (Owen 2007, "The
  pigeonhole bootstrap", Ann. Appl. Stat. 1(2)), computed as a row part plus a draw part,
  the draw part widened to a Student-t interval for few draws (``draw_inflation``).

Every metric's replicates come from one sparse product (resample counts times the stacked
per-row columns of all metrics). A metric with ``proportion=True`` (accuracy, conformal
coverage, a user's own) and the flip rate are proportions: each gets the Wilson score
interval (Wilson 1927) of its own per-row 0/1 column on the effective number of trials
(Korn & Graubard 1998), and its drop gets Newcombe's (1998) method 10 for a paired
difference; the drop's p-value is the exact sign-flip test of the per-row change, which
with one draw is exact McNemar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from shakeout.drift.ks import ks_distance
from shakeout.stats import (BootstrapPlan, draw_counts, draw_inflation, effect_label,
                            effective_size, interval, p_floor, p_value,
                            paired_difference_interval, sign_flip_test, wilson)
from shakeout.stress.metrics import (Metric, auc_of, check_proportion, positions, row_mean,
                                     top_class, weighted_auc)

EFFECT_THRESHOLDS = (0.01, 0.03, 0.10)
"""Change below which an effect is negligible, small, medium: in points for metrics on a
[0, 1] scale (0.01 = one accuracy point), relative to the baseline for unbounded ones."""

STORE = np.float32
"""Per-row columns kept for the bootstrap product: float32 halves memory; point estimates
are summed in float64 on the side."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, p-value and bootstrap replicates.

    ``replicates`` are already on the scale of the full data (m-out-of-n rescaled, draw
    part included): their percentile interval is the interval.
    """

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
    test: str = "paired bootstrap"

    @property
    def effect(self) -> str:
        size = self.change.value
        if not self.metric.bounded:
            size /= max(abs(self.a.value), 1e-12)
        return effect_label(size, EFFECT_THRESHOLDS)

    @property
    def floor_details(self) -> dict[str, Any]:
        """``{"p_at_floor": True, "p_floor": 1/(B+1)}`` when a paired-bootstrap p-value is the
        smallest its ``B`` resamples can give (it then only says "at most this"); else empty.
        """
        floor = p_floor(self.change.replicates)
        if self.test.startswith("paired bootstrap") and self.change.p_value <= floor:
            return {"p_at_floor": True, "p_floor": floor}
        return {}


def floor_note(details: dict[str, Any], p: float, *, after: str | None = None) -> str:
    """The sentence a message gains when its p-value sits at the bootstrap floor (see
    ``PairedMetric.floor_details``), or ""; ``after`` names the multiple-testing correction
    that turned the floor into ``p``.

    >>> print(floor_note({"p_at_floor": True, "p_floor": 1 / 201}, 0.02, after="holm"))
    ; p at the bootstrap floor 1/(B+1) = 0.005 (0.02 after holm): raise n_bootstrap for a smaller p
    >>> print(floor_note({"p_at_floor": True, "p_floor": 1 / 201}, 1 / 201))
    ; p at the bootstrap floor 1/(B+1) = 0.005: raise n_bootstrap for a smaller p
    >>> floor_note({}, 0.3)
    ''
    """
    if not details.get("p_at_floor"):
        return ""
    adjusted = f" ({p:.2g} after {after})" if after is not None else ""
    return (f"; p at the bootstrap floor 1/(B+1) = {details['p_floor']:.2g}{adjusted}: "
            "raise n_bootstrap for a smaller p")


@dataclass(frozen=True)
class Stability:
    """How much predictions moved, whatever the labels say."""

    flip_rate: Estimate | None
    mean_abs_change: Estimate
    ks_statistic: float
    ks_p_value: float


def prediction_score(out: np.ndarray, task: str) -> np.ndarray:
    """One number per row: P(class 1), top-class confidence, or the predicted value."""
    if task == "regression":
        return out
    return out[:, 1] if out.shape[1] == 2 else out.max(axis=1)


@dataclass
class Draws:
    """How one side's draws are resampled: ``shared`` draws (model-side) are resampled too."""

    count: int = 1
    shared: bool = False


class Accumulator:
    """Per-row columns of one side, added batch by batch and draw by draw.

    ``clean`` (the other side's outputs) adds the stability columns: flip and change.
    Columns are summed over draws per row (``q x n`` values, never the inputs); each draw's
    column sums over all rows are kept apart, for the draw half of a two-way bootstrap.
    ``S`` holds one column per line (``q x n``): a batch adds to each column's contiguous
    slice, and a per-row column (an ECE bin, a class) adds each row's value at its line.
    """

    def __init__(self, y: np.ndarray, metrics: list[Metric], task: str, *, draws: Draws,
                 clean: np.ndarray | None = None):
        self.y, self.metrics, self.task, self.draws, self.clean = y, metrics, task, draws, clean
        self.n = len(y)
        self.additive = [m for m in metrics if not m.ranked]
        self.ranked = [m for m in metrics if m.ranked]
        self._slices: dict[str, slice] | None = None
        self.S: np.ndarray | None = None
        self.point: np.ndarray | None = None
        self.scores: dict[str, np.ndarray] = {}
        self.ks_scores = (np.empty((draws.count, self.n), dtype=STORE) if clean is not None
                          else None)
        self.clean_top = (top_class(clean) if clean is not None and task == "classification"
                          else None)
        self.clean_top_p = (clean[np.arange(self.n), self.clean_top]
                            if self.clean_top is not None else None)
        self.clean_score = prediction_score(clean, task) if clean is not None else None
        self.shift = np.zeros(self.n) if clean is not None else None
        """Per row, the change of the score summed over draws (float64: a float32 copy of an
        unchanged score would look like a tiny systematic change to the signed-rank test)."""

    def _layout(self, block_widths: list[tuple[str, int]]) -> None:
        start, slices = 0, {}
        for name, width in block_widths:
            slices[name] = slice(start, start + width)
            start += width
        self._slices = slices
        self.S = np.zeros((start, self.n), dtype=STORE)
        self.point = np.zeros((self.draws.count, start))

    def _parts(self, rows: slice, out: np.ndarray, pred: np.ndarray | None) -> list:
        """``(name, width, [(column, values), ...])`` of every additive block for a batch."""
        y = self.y[rows]
        parts = []
        for m in self.additive:
            if m.scatter is not None:
                parts.append((m.name, *m.scatter(y, out, pred)))
            else:
                cols = m.columns(y, out, pred)
                if m.proportion:
                    check_proportion(m, cols)
                parts.append((m.name, cols.shape[1], [(j, cols[:, j])
                                                      for j in range(cols.shape[1])]))
        if self.clean is None:
            return parts
        if self.task == "classification":
            top = self.clean_top[rows]
            parts.append(("flip", 1, [(0, top != pred)]))
            parts.append(("moved", 1, [(0, np.abs(self.clean_top_p[rows]
                                                  - out[positions(len(y)), top]))]))
        else:
            parts.append(("moved", 1, [(0, np.abs(self.clean[rows] - out))]))
        return parts

    def add(self, rows: slice, draw: int, out: np.ndarray) -> None:
        """Outputs of rows ``rows`` under draw ``draw``."""
        pred = top_class(out) if self.task == "classification" else None
        parts = self._parts(rows, out, pred)
        if self.clean is not None:
            score = prediction_score(out, self.task)
            self.ks_scores[draw, rows] = score
            self.shift[rows] += score - self.clean_score[rows]
        for m in self.ranked:
            cols = m.columns(self.y[rows], out)
            store = self.scores.setdefault(m.name, np.empty((self.draws.count, self.n,
                                                             cols.shape[1])))
            store[draw, rows] = cols
        if self._slices is None:
            self._layout([(name, width) for name, width, _ in parts])
        flat = self.S.reshape(-1)
        at = np.arange(rows.start, rows.start + (rows.stop - rows.start))
        point = self.point[draw]
        for name, width, scattered in parts:
            base = self._slices[name].start
            for col, values in scattered:
                if isinstance(col, int):
                    self.S[base + col, rows] += values
                    point[base + col] += np.sum(values, dtype=np.float64)
                else:  # one cell per row; add.at in S's own dtype is numpy's fast path
                    np.add.at(flat, (base + col) * self.n + at, values.astype(STORE))
                    point[base:base + width] += np.bincount(col, values, minlength=width)

    def column(self, name: str) -> np.ndarray:
        """Per-row sum over draws of a one-column quantity (correct, flip)."""
        return self.S[self._slices[name].start].astype(np.float64)


def _finish(metric: Metric, sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.asarray(metric.finish(sums, total), dtype=np.float64)


class _Replicator:
    """Bootstrap replicates of everything an accumulator holds, from one sparse product."""

    def __init__(self, plan: BootstrapPlan, level: float, seed: int):
        self.plan, self.level, self.seed = plan, level, seed

    def _rescale(self, value: float, rows: np.ndarray) -> np.ndarray:
        if self.plan.scale == 1.0:
            return rows
        return value + self.plan.scale * (rows - np.nanmean(rows))

    def run(self, acc: Accumulator) -> dict[str, tuple[float, np.ndarray]]:
        plan, draws = self.plan, acc.draws
        R, m = draws.count, plan.m
        counts = plan.counts()
        # Rows resampled, every draw kept: linear in the columns summed over draws.
        row_sums = np.asarray(counts @ acc.S.T, dtype=np.float64)
        total_rows = np.full(plan.n_boot, float(m * R))
        point_total = np.array([float(acc.n * R)])
        shared = draws.shared and R > 1
        if shared:
            dc = draw_counts(plan.n_boot, R, self.seed).astype(np.float64)
            draw_sums = dc @ acc.point  # (B, q): every row, draws resampled
            inflate = draw_inflation(R, self.level)
        finishers = [(m_.name, (lambda s, t, m_=m_: _finish(m_, s, t))) for m_ in acc.additive]
        finishers += [(name, row_mean) for name in ("flip", "moved") if name in acc._slices]
        out = {}
        for name, finish in finishers:
            sl = acc._slices[name]
            value = float(finish(acc.point.sum(axis=0)[None, sl], point_total)[0])
            reps = self._rescale(value, finish(row_sums[:, sl], total_rows))
            if shared:
                reps = reps + inflate * (finish(draw_sums[:, sl], np.full(plan.n_boot,
                                                                         float(acc.n * R)))
                                         - value)
            out[name] = (value, reps)
        for metric in acc.ranked:
            out[metric.name] = self._ranked(acc, metric)
        return out

    def _ranked(self, acc: Accumulator, metric: Metric) -> tuple[float, np.ndarray]:
        scores = acc.scores[metric.name]  # (R, n, c)
        R, n, c = scores.shape
        pooled = scores.reshape(R * n, c)
        yy = np.tile(acc.y, R)
        value = float(auc_of(pooled, yy, np.ones((1, R * n)))[0])
        reps = []
        for idx in self.plan.indices():
            s = scores[:, idx, :].transpose(1, 0, 2, 3).reshape(len(idx), R * idx.shape[1], c)
            reps.append(_auc_rows(s, np.tile(acc.y[idx], (1, R))))
        reps = self._rescale(value, np.concatenate(reps))
        if acc.draws.shared and R > 1:
            # The draw half to first order: each draw's AUC on every row, resampled over
            # draws (the pooled AUC with draw weights would need n x draws per replicate).
            dc = draw_counts(self.plan.n_boot, R, self.seed).astype(np.float64)
            per_draw = np.array([auc_of(scores[r], acc.y, np.ones((1, n)))[0]
                                 for r in range(R)])
            draw_reps = dc @ per_draw / R
            reps = reps + draw_inflation(R, self.level) * (draw_reps - per_draw.mean())
        return value, reps


def _auc_rows(s: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row of resampled scores ``s`` ``(r, N, c)`` and labels ``ys`` ``(r, N)``."""
    ones = np.ones(ys.shape)
    if s.shape[2] == 1:
        return weighted_auc(s[..., 0], ys == 1, ones)
    per = np.stack([weighted_auc(s[..., k], ys == k, ones) for k in range(s.shape[2])])
    with np.errstate(invalid="ignore"):
        return np.nanmean(per, axis=0)


@dataclass
class Side:
    """One set of outputs summarised: values and replicates of every metric, and each
    proportion metric's per-row value averaged over draws (``per_row``, by metric name)."""

    out: np.ndarray
    metrics: list[Metric]
    values: list[float]
    replicates: list[np.ndarray]
    per_row: dict[str, np.ndarray] = field(default_factory=dict)
    draws: Draws = field(default_factory=Draws)
    level: float = 0.95

    def estimates(self, plan: BootstrapPlan, level: float = 0.95) -> list[Estimate]:
        """Each metric's value with its interval, on this side alone."""
        return [Estimate(v, _metric_ci(m, v, r, self.per_row.get(m.name), self.draws, level),
                         None, r)
                for m, v, r in zip(self.metrics, self.values, self.replicates)]


def _proportion_n(p: float, per_row: np.ndarray, reps: np.ndarray, draws: Draws,
                  level: float = 0.95) -> float:
    """Effective trials for a proportion averaged over rows (and draws)."""
    n = len(per_row)
    if draws.shared and draws.count > 1:
        var = float(np.nanvar(reps, ddof=1)) if len(reps) > 1 else 0.0
        if var > 0 and 0 < p < 1:
            return float(min(max(p * (1 - p) / var, 1.0), n * draws.count))
        return float(n)
    var = float(np.var(per_row, ddof=1)) / n if n > 1 else 0.0
    n_eff = effective_size(p, var, n, n * draws.count)
    if draws.count > 1 and n > 1 and n_eff > n:
        # Korn & Graubard's degrees-of-freedom correction: the variance is estimated from
        # n rows, so the effective size shrinks by (z / t_{n-1})^2, never below n.
        q = (1 + level) / 2
        n_eff = max(n, n_eff * (stats.norm.ppf(q) / stats.t.ppf(q, n - 1)) ** 2)
    return n_eff


def _metric_ci(metric: Metric, value: float, reps: np.ndarray, per_row: np.ndarray | None,
               draws: Draws, level: float) -> tuple[float, float]:
    """Wilson on the effective trials of the metric's own per-row values for a proportion,
    else the bootstrap percentile interval."""
    if metric.proportion and per_row is not None:
        return wilson(value, _proportion_n(value, per_row, reps, draws, level), level)
    return interval(value, reps, level=level)


def _accumulate(y: np.ndarray, outs: list[np.ndarray], metrics: list[Metric], task: str,
                draws: Draws, clean: np.ndarray | None = None) -> Accumulator:
    acc = Accumulator(y, metrics, task, draws=draws, clean=clean)
    for r, out in enumerate(outs):
        acc.add(slice(0, len(y)), r, out)
    return acc


def side_from(acc: Accumulator, out: np.ndarray | None, plan: BootstrapPlan, level: float,
              seed: int) -> tuple[Side, dict[str, tuple[float, np.ndarray]]]:
    """Values and replicates of an accumulated side."""
    results = _Replicator(plan, level, seed).run(acc)
    per_row = {m.name: acc.column(m.name) / acc.draws.count for m in acc.additive
               if m.proportion}
    side = Side(out if out is not None else np.empty(0), acc.metrics,
                [results[m.name][0] for m in acc.metrics],
                [results[m.name][1] for m in acc.metrics], per_row, acc.draws, level)
    return side, results


def summarise(y: np.ndarray, out: np.ndarray, metrics: list[Metric], plan: BootstrapPlan,
              level: float = 0.95) -> Side:
    """Values, replicates and per-row proportions of every metric for one side."""
    acc = _accumulate(y, [out], metrics, metrics[0].task, Draws())
    return side_from(acc, out, plan, level, plan.seed)[0]


SIGNED_RANK_EXACT_MAX = 50
"""Up to this many non-zero changes the signed-rank p-value is exact, beyond it normal (as
scipy does)."""


def signed_rank_p(change: np.ndarray) -> float:
    """Wilcoxon (1945) signed-rank p-value of per-row paired changes (zeros dropped).

    The paired test of "the outputs moved systematically": under the null each row's change
    is as likely up as down. The null law is that of the signs flipped over the (mid)ranks of
    the absolute changes, computed exactly (ties included) by :func:`sign_flip_test` on the
    doubled ranks, with its normal approximation on very many rows.

    >>> d = np.array([0.3, 0.1, -0.2, 0.5, 0.4, 0.25, 0.0])
    >>> round(signed_rank_p(d), 4)  # scipy.stats.wilcoxon gives the same
    0.0938
    """
    change = np.asarray(change, dtype=np.float64)
    change = change[change != 0]
    if change.size == 0:
        return 1.0
    if change.size > SIGNED_RANK_EXACT_MAX:
        t, var = _signed_rank_sums(change)
        return float(min(1.0, 2 * stats.norm.sf((abs(t) - 0.5) / math.sqrt(var))))
    ranks = stats.rankdata(np.abs(change))
    return sign_flip_test(np.sign(change) * ranks, draws=2)


def _signed_rank_sums(change: np.ndarray) -> tuple[float, float]:
    """The signed-rank statistic ``sum(sign * midrank)`` and its tie-corrected null variance
    ``sum(midrank^2)``, from two sorts instead of a stable argsort (rankdata), exactly: the
    midranks are half-integers and the positive changes find theirs by a search.

    >>> d = np.array([0.3, 0.1, -0.2, 0.5, -0.1, 0.25])
    >>> r = stats.rankdata(np.abs(d))
    >>> _signed_rank_sums(d) == (float(np.sum(np.sign(d) * r)), float(np.sum(r ** 2)))
    True
    """
    size = np.sort(np.abs(change))
    new = np.empty(size.size, dtype=bool)
    new[0] = True
    np.not_equal(size[1:], size[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ties = np.diff(starts, append=size.size)
    midrank = starts + (ties + 1) / 2
    positive = np.sort(change[change > 0])
    rank_sum = float(np.sum(midrank[np.searchsorted(size[starts], positive)]))
    total = size.size * (size.size + 1) / 2
    return 2 * rank_sum - total, float(np.sum(ties * midrank ** 2))


def compare_sides(y: np.ndarray, a: Side, acc_b: Accumulator, plan: BootstrapPlan, task: str,
                  level: float = 0.95, seed: int = 0,
                  sorted_a_scores: np.ndarray | None = None
                  ) -> tuple[list[PairedMetric], Stability]:
    """Every metric of the accumulated side ``b`` against the summarised side ``a``."""
    side_b, results = side_from(acc_b, None, plan, level, seed)
    draws = acc_b.draws
    paired = []
    for i, m in enumerate(a.metrics):
        va, vb = a.values[i], side_b.values[i]
        change = float(m.degradation(va, vb))
        change_reps = m.degradation(a.replicates[i], side_b.replicates[i])
        rows_a, rows_b = a.per_row.get(m.name), side_b.per_row.get(m.name)
        ci_a = _metric_ci(m, va, a.replicates[i], rows_a, a.draws, level)
        ci_b = _metric_ci(m, vb, side_b.replicates[i], rows_b, draws, level)
        test = "paired bootstrap" + (" (rows x draws)" if draws.shared and draws.count > 1
                                     else "")
        if m.proportion and rows_a is not None and rows_b is not None:
            phi = _correlation(rows_a, rows_b, a.replicates[i], side_b.replicates[i], draws)
            ci = paired_difference_interval(va, ci_a, vb, ci_b, phi)
            if not m.higher_is_better:  # the drop of a lower-is-better one is b - a
                ci = (-ci[1], -ci[0])
            if draws.shared and draws.count > 1:
                p = p_value(change, change_reps)
            else:
                p = sign_flip_test(rows_a - rows_b, draws.count)
                test = "exact McNemar" if draws.count == 1 else "exact sign-flip"
        else:
            ci = interval(change, change_reps, level=level)
            p = p_value(change, change_reps)
        paired.append(PairedMetric(m, Estimate(va, ci_a, None, a.replicates[i]),
                                   Estimate(vb, ci_b, None, side_b.replicates[i]),
                                   Estimate(change, ci, p, change_reps), test))
    flip = None
    if "flip" in results:
        v, reps = results["flip"]
        per_row = acc_b.column("flip") / draws.count
        flip = Estimate(v, wilson(v, _proportion_n(v, per_row, reps, draws, level), level), None,
                        reps)
    v, reps = results["moved"]
    moved = Estimate(v, interval(v, reps, level=level), None, reps)
    clean_scores = prediction_score(a.out, task)
    if sorted_a_scores is None:
        sorted_a_scores = np.sort(clean_scores)
    # The distance is symmetric: searching the clean scores among the draws' (n among
    # n x draws) takes fewer steps than the other way round.
    ks = ks_distance(np.sort(acc_b.ks_scores, axis=None), sorted_a_scores)
    shift = acc_b.shift / draws.count
    return paired, Stability(flip, moved, ks, signed_rank_p(shift))


def _correlation(ca: np.ndarray, cb: np.ndarray, reps_a: np.ndarray, reps_b: np.ndarray,
                 draws: Draws) -> float:
    """Correlation of the two proportions' estimates: of the rows' values, and with shared
    draws diluted by the draws' own variance."""
    n = len(ca)
    sa, sb = np.std(ca), np.std(cb)
    if n < 2 or sa == 0 or sb == 0:
        return 0.0
    r = float(np.mean((ca - ca.mean()) * (cb - cb.mean())) / (sa * sb))
    if draws.shared and draws.count > 1:
        var_b_rows = float(np.var(cb, ddof=1)) / n
        var_b = float(np.nanvar(reps_b, ddof=1))
        if var_b > var_b_rows > 0:
            r *= math.sqrt(var_b_rows / var_b)
    return r


def compare_outputs(y: np.ndarray, a: Side, out_b: np.ndarray | list[np.ndarray],
                    metrics: list[Metric], plan: BootstrapPlan, task: str,
                    level: float = 0.95, *, draws: Draws | None = None,
                    seed: int = 0) -> tuple[list[PairedMetric], Stability]:
    """Every metric on side ``b`` (one output array, or one per draw) against side ``a``.

    Stability: the flip rate (classification), the mean absolute change in the probability
    of the class side a predicted (or in the predicted value), and the prediction shift:
    the KS distance between the two output distributions with the p-value of the paired
    Wilcoxon signed-rank test of the per-row change (the rows are the same on both sides,
    so a two-sample test would ignore the pairing and almost never reject).
    """
    outs = [out_b] if isinstance(out_b, np.ndarray) else list(out_b)
    draws = draws or Draws(count=len(outs))
    acc = _accumulate(y, outs, metrics, task, draws, clean=a.out)
    return compare_sides(y, a, acc, plan, task, level, seed)


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
    return compare_outputs(y, summarise(y, out_a, metrics, plan, level), out_b, metrics, plan,
                           task, level)[0]
