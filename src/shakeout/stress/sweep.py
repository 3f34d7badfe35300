"""The degradation sweep: every perturbation at every severity, streamed in batches.

Memory is bounded by the batch: each perturbed batch is predicted and dropped, and only the
model's outputs (one row of probabilities per input row) are kept for one grid point at a
time.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shakeout._progress import progress
from shakeout._validation import check_grid
from shakeout.models._base import Model
from shakeout.perturb import Perturbation
from shakeout.report.result import Finding
from shakeout.stats import BootstrapPlan, adjust_p_values, interval, p_floor
from shakeout.stress.metrics import Metric
from shakeout.stress.paired import (Accumulator, Draws, Estimate, PairedMetric,
                                    Stability, compare_sides, prediction_score,
                                    summarise)

FIT_ROWS = 100_000
"""Perturbations learn their reference state (spread, range, categories) from at most this
many rows, drawn at random."""


@dataclass(frozen=True)
class Sweep:
    """One perturbation over a severity grid; ``label`` names it in findings and charts.

    The clean point, severity 0, is always part of the grid (it is added when missing).
    """

    perturbation: Perturbation
    severities: tuple[float, ...]
    label: str = ""

    def __post_init__(self) -> None:
        grid = check_grid(self.perturbation, "severities", self.severities)
        grid = grid if grid[0] == 0 else (0.0, *grid)
        object.__setattr__(self, "severities", grid)
        if not self.label:
            object.__setattr__(self, "label", self.perturbation.name)


@dataclass
class _Curve:
    """The primary metric along one sweep, with its bootstrap replicates (same resamples)."""

    severities: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    replicates: list[np.ndarray] = field(default_factory=list)

    def add(self, severity: float, estimate: Estimate) -> None:
        self.severities.append(severity)
        self.values.append(estimate.value)
        self.replicates.append(estimate.replicates)


def batches(X: Any, batch_size: int) -> Iterator[Any]:
    """Consecutive row slices of an array or DataFrame."""
    take = (lambda s: X.iloc[s]) if isinstance(X, pd.DataFrame) else (lambda s: X[s])
    for start in range(0, len(X), batch_size):
        yield take(slice(start, start + batch_size))


def predict_all(model: Model, X: Any, batch_size: int) -> np.ndarray:
    """The model's outputs for every row, computed batch by batch."""
    return np.concatenate([model.outputs(b) for b in batches(X, batch_size)])


def _fit_sample(X: Any, rng: np.random.Generator) -> Any:
    if len(X) <= FIT_ROWS:
        return X
    rows = np.sort(rng.choice(len(X), FIT_ROWS, replace=False))
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def _batch_slices(n: int, batch_size: int) -> list[slice]:
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def _take(X: Any, rows: slice) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def _accumulate_sweep(model: Model, X: Any, y: np.ndarray, sweep: Sweep, clean: np.ndarray,
                      metrics: list[Metric], batch_size: int, repeats: int,
                      draw_seeds: list[int]) -> dict[float, Accumulator]:
    """Per-row columns of every severity of one sweep, over ``repeats`` draws.

    Draw ``r`` uses the same random numbers at every severity (common random numbers). An
    input perturbation is applied batch by batch, all severities from one draw of the batch;
    a model-side one builds one perturbed model per draw and severity.
    """
    p = sweep.perturbation
    shared = p.target == "model"
    severities = [sev for sev in sweep.severities if sev != 0]
    draws = Draws(count=repeats, shared=shared)
    accs = {sev: Accumulator(y, metrics, model.task, draws=draws, clean=clean)
            for sev in severities}
    slices = _batch_slices(len(y), batch_size)
    for r, seed in enumerate(draw_seeds):
        if shared:
            for sev in severities:
                perturbed = p.apply(model, sev, np.random.default_rng(seed))
                for rows in slices:
                    accs[sev].add(rows, r, perturbed.outputs(_take(X, rows)))
            continue
        with _leave_a_core():
            for rows, sev, Xp in _perturbed_batches(p, X, slices, severities, seed):
                accs[sev].add(rows, r, model.outputs(Xp))
    return accs


def _leave_a_core() -> AbstractContextManager:
    """Limit BLAS threads to one fewer than the cores (never raising a lower setting) while
    the noise thread works.

    Otherwise the model's BLAS threads, which spin between calls, compete with the noise
    thread for the cores: on two cores a linear model's sweep ran 1.3x slower. BLAS
    results do not depend on the thread count here (tested bit for bit).
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    current = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not current:
        return nullcontext()
    return threadpool_limits(max(1, min((cores or 1) - 1, *current)), user_api="blas")


PREFETCH = 2
"""Perturbed batches computed ahead of the model on the background thread."""


def _perturbed_batches(p: Perturbation, X: Any, slices: list[slice], severities: list[float],
                       seed: int) -> Iterator[tuple[slice, float, Any]]:
    """``(rows, severity, perturbed batch)`` for every batch and severity, in order.

    Batch ``b`` draws from ``default_rng([seed, b])`` whoever computes it, so the numbers do
    not depend on timing: a background thread draws and applies the perturbation up to
    ``PREFETCH`` grid points ahead while the caller predicts (numpy releases the GIL while
    it draws random numbers and adds arrays), so memory stays a few batches.
    """
    def grid_points() -> Iterator[tuple[slice, float, Any]]:
        for b, rows in enumerate(slices):
            grid = p.apply_grid(_take(X, rows), severities, np.random.default_rng([seed, b]))
            for sev, Xp in grid:
                yield rows, sev, Xp

    points = grid_points()
    with ThreadPoolExecutor(max_workers=1) as pool:  # one worker: points run in order
        ahead: deque[Future] = deque(pool.submit(next, points, None) for _ in range(PREFETCH))
        while (point := ahead.popleft().result()) is not None:
            ahead.append(pool.submit(next, points, None))
            yield point


def run_sweeps(model: Model, X: Any, y: np.ndarray, sweeps: Sequence[Sweep], *,
               metrics: list[Metric], plan: BootstrapPlan, level: float, alpha: float,
               correction: str, batch_size: int, rng: np.random.Generator,
               clean: np.ndarray | None = None, quiet: bool = True,
               repeats: int = 1) -> list[Finding]:
    """Findings for every grid point, multiple-testing corrected, plus robustness scores."""
    task = model.task
    if clean is None:
        clean = predict_all(model, X, batch_size)
    primary = metrics[0]
    findings: list[Finding] = []
    seeds = {s.label: [int(v) for v in rng.integers(0, 2**63 - 1, size=repeats)]
             for s in sweeps}
    boot_seeds = {s.label: int(rng.integers(2**31)) for s in sweeps}
    for s in sweeps:
        s.perturbation.fit(_fit_sample(X, rng))
    curves = {s.label: _Curve() for s in sweeps}
    clean_side = summarise(y, clean, metrics, plan, level)
    clean_estimates = clean_side.estimates(plan, level)
    sorted_clean = np.sort(prediction_score(clean, task))
    for s in progress(sweeps, total=len(sweeps), description="stress sweep", quiet=quiet):
        unit = s.perturbation.unit
        accs = _accumulate_sweep(model, X, y, s, clean, metrics, batch_size, repeats,
                                 seeds[s.label])
        for sev in s.severities:
            if sev == 0:
                estimates = clean_estimates
            else:
                pms, moved = compare_sides(y, clean_side, accs.pop(sev), plan, task, level,
                                           boot_seeds[s.label], sorted_clean)
                estimates = [pm.b for pm in pms]
                findings += _drop_findings(s.label, sev, unit, pms, level, repeats, plan.n)
                findings += _stability_findings(s.label, sev, unit, moved, task, level)
            findings += _curve_findings(s.label, sev, unit, metrics, estimates, plan, level,
                                        repeats)
            curves[s.label].add(sev, estimates[0])
    findings = _correct(findings, correction, alpha)
    findings += [_robustness_score(label, c, primary, plan, level, sweeps)
                 for label, c in curves.items() if len(c.severities) > 1]
    return findings


def _status(p_adj: float, effect: str, alpha: float) -> tuple[str, str]:
    if p_adj >= alpha:
        return "pass", "not significant"
    if effect == "negligible":
        return "pass", "statistically significant but negligible in size"
    return "warn", f"significant {effect} degradation"


def _where(label: str, sev: float, metric: str) -> str:
    return f"stress/{label}/{metric}@{sev:g}"


def _curve_findings(label: str, sev: float, unit: str, metrics: list[Metric],
                    estimates: list[Estimate], plan: BootstrapPlan,
                    level: float, repeats: int) -> list[Finding]:
    """The metrics themselves at this severity: the points of the degradation curves."""
    return [Finding(name=_where(label, sev, m.name), metric=m.name, value=e.value, ci=e.ci,
                    ci_level=level, status="info", drill="stress", group=label, severity=sev,
                    unit=unit, details={"higher_is_better": m.higher_is_better,
                                        "n_rows": plan.n, "draws": 1 if sev == 0 else repeats})
            for m, e in zip(metrics, estimates)]


def _drop_findings(label: str, sev: float, unit: str, pms: list[PairedMetric],
                   level: float, repeats: int, n_rows: int) -> list[Finding]:
    out = []
    for pm in pms:
        name = pm.metric.name
        details = {"clean": pm.a.value, "perturbed": pm.b.value, "test": pm.test,
                   "draws": repeats, "n_rows": n_rows,
                   "direction": "positive means worse than clean"}
        floor = p_floor(pm.change.replicates)
        if pm.test.startswith("paired bootstrap") and pm.change.p_value <= floor:
            details.update(p_at_floor=True, p_floor=floor)
        out.append(Finding(
            name=_where(label, sev, f"{name}_drop"), metric=f"{name}_drop",
            value=pm.change.value, ci=pm.change.ci, ci_level=level, p_value=pm.change.p_value,
            drill="stress", group=label, severity=sev, unit=unit, effect=pm.effect,
            details=details))
    return out


def _stability_findings(label: str, sev: float, unit: str, st: Stability, task: str,
                        level: float) -> list[Finding]:
    found = []
    if st.flip_rate is not None:
        found.append(Finding(name=_where(label, sev, "flip_rate"), metric="flip_rate",
                             value=st.flip_rate.value, ci=st.flip_rate.ci, ci_level=level,
                             status="info", drill="stress", group=label, severity=sev, unit=unit,
                             message="share of rows whose predicted class changed"))
    what = "predicted probability of the clean class" if task == "classification" else "prediction"
    found.append(Finding(name=_where(label, sev, "mean_abs_change"), metric="mean_abs_change",
                         value=st.mean_abs_change.value, ci=st.mean_abs_change.ci,
                         ci_level=level, status="info", drill="stress", group=label,
                         severity=sev, unit=unit, message=f"mean absolute change in the {what}"))
    found.append(Finding(name=_where(label, sev, "prediction_ks"), metric="prediction_ks",
                         value=st.ks_statistic, p_value=st.ks_p_value, drill="stress",
                         group=label, severity=sev, unit=unit,
                         details={"test": "Wilcoxon signed-rank test of the per-row change "
                                          "(paired); value: KS distance between the clean "
                                          "and perturbed prediction distributions"}))
    return found


def _correct(findings: list[Finding], correction: str, alpha: float) -> list[Finding]:
    """Adjust the p-values of each metric across the whole grid, then set verdicts."""
    tested = {}
    for i, f in enumerate(findings):
        if f.p_value is not None:
            tested.setdefault(f.metric, []).append(i)
    findings = list(findings)
    for metric, rows in tested.items():
        raw = np.array([findings[i].p_value for i in rows])
        adjusted = adjust_p_values(raw, correction)
        for i, p_raw, p_adj in zip(rows, raw, adjusted):
            f = findings[i]
            if f.effect is not None:
                status, why = _status(p_adj, f.effect, alpha)
            else:
                status, why = ("warn" if p_adj < alpha else "pass"), (
                    "distribution moved" if p_adj < alpha else "no significant change")
            if f.details.get("p_at_floor"):
                why += (f"; p at the bootstrap floor 1/(B+1) = {f.details['p_floor']:.2g} "
                        f"({p_adj:.2g} after {correction}): raise n_bootstrap for a smaller p")
            details = dict(f.details, p_raw=float(p_raw), correction=correction)
            findings[i] = replace(f, p_value=float(p_adj), status=status, message=why,
                                  details=details)
    return findings


def _robustness_score(label: str, curve: _Curve, metric: Metric, plan: BootstrapPlan,
                      level: float, sweeps: Sequence[Sweep]) -> Finding:
    """Normalised area under the relative-performance curve, 1 meaning no degradation.

    Relative performance at severity s is metric(s) / metric(0) for a metric where higher is
    better and metric(0) / metric(s) otherwise; its trapezoid average over the grid is the
    score. The interval comes from the same bootstrap resamples at every severity.
    """
    sev = np.asarray(curve.severities)
    order = np.argsort(sev)
    sev = sev[order]
    values = np.asarray(curve.values)[order]
    reps = np.stack(curve.replicates)[order]

    def score(v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = v / v[0] if metric.higher_is_better else v[0] / v
        rel = np.where(np.isfinite(rel), rel, 0.0)
        area = np.diff(sev) @ ((rel[1:] + rel[:-1]) / 2)  # the trapezoid rule, any numpy
        return area / (sev[-1] - sev[0])

    value = float(score(values[:, None])[0])
    replicates = score(reps)
    ci = interval(value, replicates, level=level)
    unit = next(s.perturbation.unit for s in sweeps if s.label == label)
    improved = bool(ci[0] > 1)
    message = (f"normalised area under the {metric.name} curve over severities {sev[0]:g} to "
               f"{sev[-1]:g}; 1 means no degradation")
    if value > 1:
        message += (f"; above 1 means the {metric.name} improved under the perturbation, "
                    + ("beyond noise (the interval lies above 1)" if improved
                       else "here within noise (the interval covers 1)"))
    return Finding(name=f"stress/{label}/robustness_score", metric="robustness_score",
                   value=value, ci=ci, ci_level=level, status="info", drill="stress",
                   group=label, unit=unit, message=message,
                   details={"metric": metric.name, "severities": sev.tolist(),
                            "improved": improved})
