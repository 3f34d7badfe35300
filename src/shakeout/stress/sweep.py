"""The degradation sweep: every perturbation at every severity, streamed in batches.

Memory is bounded by the batch: each perturbed batch is predicted and dropped, and only the
model's outputs (one row of probabilities per input row) are kept for one grid point at a
time.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shakeout._cores import in_background, in_parallel, leave_a_core
from shakeout._validation import check_grid
from shakeout.campaign import Campaign, Unit, grid
from shakeout.errors import ValidationError
from shakeout.models._base import Model
from shakeout.perturb import Perturbation
from shakeout.report.findings import adjust, finding_name
from shakeout.report.result import Finding
from shakeout.stats import BootstrapPlan, interval
from shakeout.stress.metrics import Metric
from shakeout.stress.paired import (Accumulator, Draws, Estimate, PairedMetric, Side,
                                    Stability, compare_sides, floor_note, prediction_score,
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
        kind = self.perturbation.kind
        if kind not in KINDS:
            raise ValidationError(
                f"Sweep: {type(self.perturbation).__name__} is of kind {kind!r}; a stress "
                f"sweep runs perturbations of kind {' or '.join(map(repr, KINDS))}. Run an "
                "attack with shakeout.attacks.run instead.")
        severities = check_grid(self.perturbation, "severities", self.severities)
        severities = severities if severities[0] == 0 else (0.0, *severities)
        object.__setattr__(self, "severities", severities)
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


PREFETCH = 2
"""Perturbed batches computed ahead of the model on the background thread."""


class Spares:
    """Perturbed batches the model is done with, handed out again for later batches.

    A fresh array costs the kernel a page fault and a zeroing pass for every page, about as
    much as drawing the noise into it. ``empty`` gives a batch back to a perturbation (see
    ``Perturbation.apply_grid``) only after ``give_back`` says the model has predicted it,
    and only arrays it handed out itself, never ``X`` or a perturbation's own array.

    >>> spares = Spares()
    >>> a = spares.empty((2, 3), np.float64)
    >>> spares.give_back(a, np.zeros(2))
    >>> spares.empty((2, 3), np.float64) is a, spares.empty((2, 3), np.float64) is a
    (True, False)
    """

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        # weak: an array dropped without coming back leaves, and its id cannot then match
        self._lent: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array to write a perturbed batch into: a spare one of that shape, or new."""
        with self._lock:
            for i, spare in enumerate(self._free):
                if spare.shape == tuple(shape) and spare.dtype == dtype:
                    array = self._free.pop(i)
                    break
            else:
                array = np.empty(shape, dtype)
            self._lent[id(array)] = array
        return array

    def give_back(self, batch: Any, outputs: Any) -> None:
        """The model has predicted ``batch``: it may be written again, unless its ``outputs``
        (still in use) are a view of it."""
        with self._lock:
            if self._lent.pop(id(batch), None) is batch and not np.may_share_memory(batch,
                                                                                    outputs):
                self._free.append(batch)


def _perturbed_batches(p: Perturbation, X: Any, slices: list[slice], severities: list[float],
                       seed: int, spares: Spares) -> Iterator[tuple[slice, float, Any]]:
    """``(rows, severity, perturbed batch)`` for every batch and severity, in order.

    Batch ``b`` draws from ``default_rng([seed, b])`` whoever computes it, so the numbers do
    not depend on timing: a background thread draws and applies the perturbation up to
    ``PREFETCH`` grid points ahead while the caller predicts (numpy releases the GIL while
    it draws random numbers and adds arrays), so memory stays a few batches.
    """
    def grid_points() -> Iterator[tuple[slice, float, Any]]:
        for b, rows in enumerate(slices):
            grid = p.apply_grid(_take(X, rows), severities, np.random.default_rng([seed, b]),
                                empty=spares.empty)
            for sev, Xp in grid:
                yield rows, sev, Xp

    points = grid_points()
    with ThreadPoolExecutor(max_workers=1) as pool:  # one worker: points run in order
        ahead: deque[Future] = deque(pool.submit(next, points, None) for _ in range(PREFETCH))
        while (point := ahead.popleft().result()) is not None:
            ahead.append(pool.submit(next, points, None))
            yield point


def _input_outputs(p: Perturbation, model: Model, X: Any, slices: list[slice],
                   severities: list[float], seed: int,
                   spares: Spares) -> Iterator[tuple[slice, float, Any]]:
    """An input perturbation's draw: every batch at all severities from one draw of the
    batch, perturbed on a background thread while the model predicts; a batch goes back to
    ``spares`` once the caller has used the model's outputs (it asks for the next)."""
    with leave_a_core():
        for rows, sev, Xp in _perturbed_batches(p, X, slices, severities, seed, spares):
            out = model.outputs(Xp)
            yield rows, sev, out
            spares.give_back(Xp, out)


def _model_outputs(p: Perturbation, model: Model, X: Any, slices: list[slice],
                   severities: list[float], seed: int,
                   _spares: Spares) -> Iterator[tuple[slice, float, Any]]:
    """A model-side perturbation's draw: one perturbed model per severity, all from the same
    random numbers, predicting every batch."""
    for sev in severities:
        perturbed = p.apply(model, sev, np.random.default_rng(seed))
        for rows in slices:
            yield rows, sev, perturbed.outputs(_take(X, rows))


@dataclass(frozen=True)
class Kind:
    """How the sweep draws a perturbation of one kind: ``outputs(p, model, X, slices,
    severities, seed, spares)`` yields ``(rows, severity, model outputs)`` for one draw
    (``spares``: a :class:`Spares` for the perturbed batches); ``shared`` draws are shared
    by every row (their spread needs repeated draws)."""

    outputs: Callable[..., Iterator[tuple[slice, float, Any]]]
    shared: bool


KINDS: dict[str, Kind] = {"input": Kind(_input_outputs, shared=False),
                          "model": Kind(_model_outputs, shared=True)}
"""The perturbation kinds a sweep runs (``Perturbation.kind``)."""


@dataclass
class _SweepRun:
    """What every unit of the sweep campaign shares: the data, the clean side, the plan.

    A unit is one draw (a trial) of one sweep at all its severities; the draws of a sweep
    add into that sweep's accumulators, and its last draw turns them into findings, so
    memory holds one sweep's columns at a time. Draw ``r`` of a sweep uses that sweep's
    ``r``-th seed at every severity (common random numbers); the seeds are drawn from the
    sweep's generator in a fixed order before the campaign, which keeps every number of
    earlier versions, so the unit's spawned stream goes unused.
    """

    model: Model
    X: Any
    y: np.ndarray
    clean: np.ndarray
    metrics: list[Metric]
    plan: BootstrapPlan
    level: float
    repeats: int
    slices: list[slice]
    seeds: dict[str, list[int]]
    boot_seeds: dict[str, int]
    pending: dict[str, dict[float, Accumulator]] = field(default_factory=dict)
    spares: Spares = field(default_factory=Spares)

    def __post_init__(self) -> None:
        # the clean side is needed by the findings only: summarised on a background
        # thread while the first draw begins
        self._clean_side = in_background(self._summarise_clean)

    def _summarise_clean(self) -> tuple[Side, list[Estimate], np.ndarray]:
        side = summarise(self.y, self.clean, self.metrics, self.plan, self.level)
        return (side, side.estimates(self.plan, self.level),
                np.sort(prediction_score(self.clean, self.model.task)))

    def draw(self, unit: Unit, _stream: np.random.Generator
             ) -> tuple[list[Finding], _Curve] | None:
        """Add one draw of ``unit.variant``; its last draw returns the sweep's findings and
        curve (the others None)."""
        s, p = unit.variant, unit.variant.perturbation
        kind = KINDS[p.kind]
        if unit.trial == 0:
            draws = Draws(count=self.repeats, shared=kind.shared)
            self.pending[s.label] = {sev: Accumulator(self.y, self.metrics, self.model.task,
                                                      draws=draws, clean=self.clean)
                                     for sev in s.severities if sev != 0}
        accs = self.pending[s.label]
        for rows, sev, out in kind.outputs(p, self.model, self.X, self.slices, list(accs),
                                           self.seeds[s.label][unit.trial], self.spares):
            accs[sev].add(rows, unit.trial, out)
        if unit.trial < self.repeats - 1:
            return None
        return self._findings(s, self.pending.pop(s.label))

    def _findings(self, s: Sweep, accs: dict[float, Accumulator]) -> tuple[list[Finding],
                                                                            _Curve]:
        """Every grid point's findings (p-values not yet adjusted) and the primary curve."""
        unit, plan, level = s.perturbation.unit, self.plan, self.level
        clean_side, clean_estimates, sorted_clean = self._clean_side.result()
        findings: list[Finding] = []
        curve = _Curve()
        compared: dict[float, tuple] = {}

        def compare(sev: float) -> None:
            compared[sev] = compare_sides(self.y, clean_side, accs.pop(sev), plan,
                                          self.model.task, level, self.boot_seeds[s.label],
                                          sorted_clean)

        # the grid points share nothing they change: their sorts and products on every core
        in_parallel([sev for sev in s.severities if sev != 0], compare)
        for sev in s.severities:
            if sev == 0:
                estimates = clean_estimates
            else:
                pms, moved = compared.pop(sev)
                estimates = [pm.b for pm in pms]
                findings += _drop_findings(s.label, sev, unit, pms, level, self.repeats,
                                           plan.n)
                findings += _stability_findings(s.label, sev, unit, moved, self.model.task,
                                                level)
            findings += _curve_findings(s.label, sev, unit, self.metrics, estimates, plan,
                                        level, self.repeats)
            curve.add(sev, estimates[0])
        return findings, curve


def run_sweeps(model: Model, X: Any, y: np.ndarray, sweeps: Sequence[Sweep], *,
               metrics: list[Metric], plan: BootstrapPlan, level: float, alpha: float,
               correction: str, batch_size: int, rng: np.random.Generator,
               clean: np.ndarray | None = None, quiet: bool = True,
               repeats: int = 1) -> list[Finding]:
    """Findings for every grid point, multiple-testing corrected, plus robustness scores.

    The sweep is a campaign (:mod:`shakeout.campaign`) of one unit per perturbation and
    draw, shown as one progress bar.
    """
    if clean is None:
        clean = predict_all(model, X, batch_size)
    seeds = {s.label: [int(v) for v in rng.integers(0, 2**63 - 1, size=repeats)]
             for s in sweeps}
    boot_seeds = {s.label: int(rng.integers(2**31)) for s in sweeps}
    for s in sweeps:
        s.perturbation.fit(_fit_sample(X, rng))
    state = _SweepRun(model, X, y, clean, metrics, plan, level, repeats,
                      _batch_slices(len(y), batch_size), seeds, boot_seeds)
    campaign = Campaign(grid(sweeps, trials=repeats), seed=rng,
                        label=lambda _: "stress sweep", quiet=quiet)
    done = [d.value for d in campaign.run(state.draw) if d.value is not None]
    findings = adjust([f for found, _ in done for f in found], correction, alpha,
                      family=lambda f: f.metric, judge=_judge)
    findings += [_robustness_score(s.label, curve, metrics[0], plan, level, s.perturbation.unit)
                 for s, (_, curve) in zip(sweeps, done) if len(curve.severities) > 1]
    return findings


def _judge(f: Finding, alpha: float) -> Finding:
    """A stress verdict on an adjusted p-value: a drop warns when it is significant and not
    negligible in size, a distribution shift when it is significant; a significant change
    for the better (a negative drop) passes as an improvement; a p-value at the bootstrap
    floor says so.

    >>> f = Finding(name="stress/noise/set_size_drop@0.3", metric="set_size_drop", value=-0.02,
    ...             p_value=0.001, effect="small", details={"correction": "holm"})
    >>> _judge(f, 0.05).status, _judge(f, 0.05).message
    ('pass', 'significant small improvement')
    """
    p_adj = f.p_value
    if f.effect is None:
        status, why = (("warn", "distribution moved") if p_adj < alpha
                       else ("pass", "no significant change"))
    elif p_adj >= alpha:
        status, why = "pass", "not significant"
    elif f.effect == "negligible":
        status, why = "pass", "statistically significant but negligible in size"
    elif f.value < 0:
        status, why = "pass", f"significant {f.effect} improvement"
    else:
        status, why = "warn", f"significant {f.effect} degradation"
    why += floor_note(f.details, p_adj, after=f.details["correction"])
    return replace(f, status=status, message=why)


def _point(label: str, sev: float, unit: str, metric: str, **fields: Any) -> Finding:
    """A finding of one grid point: ``stress/<label>/<metric>@<severity>``."""
    return Finding(name=finding_name("stress", label, metric, at=sev), metric=metric,
                   drill="stress", group=label, severity=sev, unit=unit, **fields)


def _curve_findings(label: str, sev: float, unit: str, metrics: list[Metric],
                    estimates: list[Estimate], plan: BootstrapPlan,
                    level: float, repeats: int) -> list[Finding]:
    """The metrics themselves at this severity: the points of the degradation curves."""
    return [_point(label, sev, unit, m.name, value=e.value, ci=e.ci, ci_level=level,
                   status="info", details={"higher_is_better": m.higher_is_better,
                                           "n_rows": plan.n,
                                           "draws": 1 if sev == 0 else repeats})
            for m, e in zip(metrics, estimates)]


def _drop_findings(label: str, sev: float, unit: str, pms: list[PairedMetric],
                   level: float, repeats: int, n_rows: int) -> list[Finding]:
    out = []
    for pm in pms:
        details = {"clean": pm.a.value, "perturbed": pm.b.value, "test": pm.test,
                   "draws": repeats, "n_rows": n_rows,
                   "direction": "positive means worse than clean", **pm.floor_details}
        out.append(_point(label, sev, unit, f"{pm.metric.name}_drop", value=pm.change.value,
                          ci=pm.change.ci, ci_level=level, p_value=pm.change.p_value,
                          effect=pm.effect, details=details))
    return out


def _stability_findings(label: str, sev: float, unit: str, st: Stability, task: str,
                        level: float) -> list[Finding]:
    found = []
    if st.flip_rate is not None:
        found.append(_point(label, sev, unit, "flip_rate", value=st.flip_rate.value,
                            ci=st.flip_rate.ci, ci_level=level, status="info",
                            message="share of rows whose predicted class changed"))
    what = "predicted probability of the clean class" if task == "classification" else "prediction"
    found.append(_point(label, sev, unit, "mean_abs_change", value=st.mean_abs_change.value,
                        ci=st.mean_abs_change.ci, ci_level=level, status="info",
                        message=f"mean absolute change in the {what}"))
    found.append(_point(label, sev, unit, "prediction_ks", value=st.ks_statistic,
                        p_value=st.ks_p_value,
                        details={"test": "Wilcoxon signed-rank test of the per-row change "
                                         "(paired); value: KS distance between the clean "
                                         "and perturbed prediction distributions"}))
    return found


def _robustness_score(label: str, curve: _Curve, metric: Metric, plan: BootstrapPlan,
                      level: float, unit: str) -> Finding:
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
    improved = bool(ci[0] > 1)
    message = (f"normalised area under the {metric.name} curve over severities {sev[0]:g} to "
               f"{sev[-1]:g}; 1 means no degradation")
    if value > 1:
        message += (f"; above 1 means the {metric.name} improved under the perturbation, "
                    + ("beyond noise (the interval lies above 1)" if improved
                       else "here within noise (the interval covers 1)"))
    return Finding(name=finding_name("stress", label, "robustness_score"),
                   metric="robustness_score",
                   value=value, ci=ci, ci_level=level, status="info", drill="stress",
                   group=label, unit=unit, message=message,
                   details={"metric": metric.name, "severities": sev.tolist(),
                            "improved": improved})
