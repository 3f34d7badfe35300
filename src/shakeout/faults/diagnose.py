"""The diagnosis: was it a system fault, an environmental shift, an attack, or can't we tell?

It reads the evidence the way the field recommends: the boundary of the change (a step at
one window or a gradual slide, :mod:`shakeout.faults.changepoint`), whether the step lines
up with a logged system change (deploy, dependency bump, schema change, hardware counter),
which features moved together in one step, fixed-input reproducibility (a golden replay),
and whether the anomaly sits in few sources.

The rules, first match wins:

1. **fault**: the golden replay fails (today's model or preprocessing answers fixed inputs
   differently), or a significant step lies within ``tolerance`` windows of a logged event;
2. **attack**: the change in the traffic mix of the ``source`` feature sits in at most
   ``max_sources`` sources (the rest keep their reference proportions) and the golden
   replay does not fail;
3. **environmental shift**: the significant continuous series change mostly gradually;
4. **inconclusive**: otherwise (a step that no logged event explains, or no change at all).

Series of the ``decision`` group (a level 0/1/2) are tested and reported but take no part in
the shape vote or the alignment: a level jumps even when the drift beneath it is gradual.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import as_generator, check_choice, check_open_interval, \
    check_positive_int
from shakeout.errors import ValidationError
from shakeout.faults import _evidence as ev
from shakeout.faults._evidence import DRILL, LEVEL_GROUPS, read_events
from shakeout.faults.changepoint import ChangePoint, change_point
from shakeout.report.findings import adjust, finding_name
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import METHODS as CORRECTIONS

DIAGNOSES = ("inconclusive", "environmental shift", "attack", "fault")
"""The diagnosis finding's value is the index of its label here."""
RESPONSES = {
    "faults": "roll back the deploy or dependency bump, replay the golden set, check the "
              "hardware's error counters",
    "drift": "confirm the shift on labelled data, then retrain or recalibrate on recent data",
    "attacks": "guard the model: rate-limit or block the concentrated sources, add input "
               "checks, review their inputs",
}
PILLAR = {"fault": "faults", "environmental shift": "drift", "attack": "attacks"}
COLUMNS = ("window", "group", "metric", "feature", "value")


@dataclass(frozen=True)
class Series:
    """One monitored series: its key, the windows (positions in time order) and values."""

    group: str
    metric: str
    feature: str | None
    positions: np.ndarray
    values: np.ndarray

    @property
    def label(self) -> str:
        where = f" of {self.feature!r}" if self.feature else ""
        return f"{self.metric}{where} ({self.group})"

    @property
    def subject(self) -> str:
        """What moved: the feature, else the group/metric (performance, decision)."""
        return self.feature or f"{self.group}/{self.metric}"


# --------------------------------------------------------------------------- inputs


def _history(history: Any) -> tuple[pd.DataFrame, list[Finding] | None, str]:
    """The history as a frame (window, start, group, metric, feature, value), the stored
    findings where the input holds them (for per-source counts), and what it is called."""
    from shakeout.monitor.store import HistoryStore

    if isinstance(history, HistoryStore):
        if not history.exists():
            raise ValidationError(f"diagnose: no history store at {history.url!r}; check the "
                                  "path, or run shakeout monitor first to create it.")
        return history.history(), history.findings(), f"stream {history.stream!r}"
    if isinstance(history, Result):
        history = history.findings
    if isinstance(history, pd.DataFrame):
        missing = [c for c in COLUMNS if c not in history.columns]
        if missing:
            raise ValidationError(f"diagnose: the history frame lacks {missing}; pass "
                                  "HistoryStore(url, stream=...).history() or the store itself.")
        return history, None, "history frame"
    if isinstance(history, Sequence) and all(isinstance(f, Finding) for f in history):
        rows = [(f.window, None, f.group, f.metric, f.feature, f.value)
                for f in history if f.window is not None]
        return (pd.DataFrame(rows, columns=["window", "start", *COLUMNS[1:]]),
                list(history), "findings")
    raise ValidationError("diagnose: history must be a shakeout.monitor.HistoryStore, its "
                          "history() DataFrame, a Result or a list of findings, got "
                          f"{type(history).__name__}.")


def _window_order(frame: pd.DataFrame) -> tuple[list[str], pd.Series | None]:
    """Windows in time order and their start times (None when they carry no times: row
    windows), ordered then by label as the store orders them."""
    firsts = frame.groupby("window", sort=True).first()
    source = firsts["start"] if "start" in firsts and firsts["start"].notna().all() else \
        pd.Series(firsts.index, index=firsts.index)
    times = ev.parse_times(source)
    if times.isna().any():
        return list(firsts.index), None
    times = times.sort_values(kind="stable")
    return list(times.index), times.reset_index(drop=True)


def _golden(golden: Any, model: Any, preprocess: Any) -> Result | None:
    """A golden replay's Result: given, or replayed from a golden folder through ``model``."""
    if golden is None:
        if model is not None:
            raise ValidationError("diagnose: a model without a golden set; give the golden "
                                  "folder too (--golden DIR) or leave the model out.")
        return None
    if isinstance(golden, Result):
        return golden
    if model is None:
        raise ValidationError("diagnose: a golden folder needs the model to replay it through "
                              "(--model M), or pass an already computed replay Result.")
    from shakeout.faults.golden import replay

    return replay(golden, model, preprocess=preprocess)


# --------------------------------------------------------------------------- series


def _series(frame: pd.DataFrame, order: list[str]) -> list[Series]:
    """One Series per (group, metric, feature), values in window order, missing windows and
    non-finite values left out."""
    position = {w: i for i, w in enumerate(order)}
    data = frame.assign(position=frame["window"].map(position),
                        value=pd.to_numeric(frame["value"], errors="coerce"))
    data = data[np.isfinite(data["value"].to_numpy(dtype=float))]
    out = []
    keys = ["group", "metric", "feature"]
    for (group, metric, feature), part in data.groupby(keys, dropna=False, sort=True):
        part = part.sort_values("position").drop_duplicates("position")
        out.append(Series(str(group), str(metric), None if pd.isna(feature) else str(feature),
                          part["position"].to_numpy(int), part["value"].to_numpy(float)))
    return out


def _tested(series: list[Series], *, min_windows: int, n_permutations: int,
            rng: np.random.Generator) -> list[tuple[Series, ChangePoint]]:
    long = [s for s in series if s.values.size >= min_windows]
    return [(s, change_point(s.values, n_permutations=n_permutations, seed=child))
            for s, child in zip(long, rng.spawn(len(long)), strict=True)]


def _change_finding(s: Series, cp: ChangePoint, order: list[str]) -> Finding:
    at = order[s.positions[cp.index]]
    return Finding(
        name=finding_name(DRILL, "change", s.group, s.metric, s.feature), metric="change_point",
        value=cp.change, p_value=cp.p_value, drill=DRILL, group="change", feature=s.feature,
        details={"series_group": s.group, "series_metric": s.metric, "break_window": at,
                 "break_position": int(s.positions[cp.index]), "windows": cp.n,
                 "before": cp.before, "after": cp.after, "statistic": cp.statistic,
                 "step_p_value": cp.step_p_value, "rss_step": cp.rss_step,
                 "rss_linear": cp.rss_linear, "slope_per_window": cp.slope,
                 "method": "max-CUSUM permutation test (Page 1954; Hinkley 1970)"})


def _judge_change(f: Finding, alpha: float) -> Finding:
    """Changed or not, at the adjusted p-value (the shape is judged after, on the changed)."""
    return replace(f, status="pass" if f.p_value > alpha else "warn")


def _shaped(changes: list[Finding], correction: str, alpha: float) -> list[Finding]:
    """Each series' shape and words. A step is the claim that needs evidence (its null is a
    linear trend), so the step p-values of the changed series are corrected as one family
    too: by chance alone some of many gradual series would look like steps."""
    from shakeout.stats import adjust_p_values

    changed = [i for i, f in enumerate(changes) if f.status == "warn"]
    step_p = dict(zip(changed, adjust_p_values(
        [changes[i].details["step_p_value"] for i in changed], correction) if changed else [],
        strict=True))
    out = []
    for i, f in enumerate(changes):
        d = {**f.details, "step_p_adjusted": float(step_p[i]) if i in step_p else None}
        shape = "none" if i not in step_p else "step" if step_p[i] <= alpha else "gradual"
        out.append(replace(f, message=_words(f, d, shape), details={**d, "shape": shape}))
    return out


def _words(f: Finding, d: dict[str, Any], shape: str) -> str:
    what = d["series_metric"] + (f" of {f.feature!r}" if f.feature else "")
    if shape == "none":
        return f"{what} shows no change (p={f.p_value:.3g})."
    if shape == "step":
        return (f"{what} stepped at window {d['break_window']} from {d['before']:.4g} to "
                f"{d['after']:.4g} (p={f.p_value:.3g}; a linear trend does not explain it, "
                f"p={d['step_p_adjusted']:.3g}).")
    return (f"{what} changed gradually, {d['slope_per_window']:+.4g} per window "
            f"(p={f.p_value:.3g}; a linear trend explains it, step p={d['step_p_adjusted']:.3g}).")


# --------------------------------------------------------------------------- verdict


def _strength(p: float | None) -> str:
    if p is None:
        return "exact"
    return "strong" if p < 0.001 else "moderate" if p < 0.01 else "weak" if p < 0.05 else "none"


def _item(text: str, p: float | None) -> dict[str, Any]:
    return {"evidence": text, "p_value": p, "strength": _strength(p)}


def _verdict(changes: list[Finding], alignment: list[Finding], golden: Finding | None,
             concentration: Finding | None, notes: list[str]) -> tuple[str, list[dict], str]:
    """The diagnosis label, its evidence (each with its strength) and the reasoning."""
    evidence = []
    if golden is not None:
        evidence.append(_item(golden.message, None))
    aligned = [f for f in alignment if f.value > 0]
    evidence += [_item(f.message, f.p_value) for f in aligned]
    if concentration is not None:
        evidence.append(_item(concentration.message, concentration.p_value))
    moving = [f for f in changes if f.details["shape"] != "none"
              and f.details["series_group"] not in LEVEL_GROUPS]
    steps = [f for f in moving if f.details["shape"] == "step"]
    gradual = [f for f in moving if f.details["shape"] == "gradual"]
    evidence += [_item(f.message, f.p_value) for f in sorted(moving, key=lambda f: f.p_value)[:5]]
    failed = golden is not None and golden.status == "fail"
    if failed or aligned:
        why = ("the golden replay fails, so the system itself answers fixed inputs differently"
               if failed else "")
        if aligned:
            names = ", ".join(repr(f.details["event"]) for f in aligned)
            why += ("; " if why else "") + f"the step lines up with {names}"
            if golden is not None and not failed:
                why += (" while the golden replay passes, so the fault sits upstream of the "
                        "model (the data pipeline or the serving path)")
        return "fault", evidence, why
    if concentration is not None and concentration.value > 0:
        why = (f"{concentration.message[0].upper()}{concentration.message[1:-1]}, which is what "
               "a few sources sending crafted or abusive inputs look like")
        why += ("; the golden replay passes, so the model is intact" if golden is not None else
                "; no golden replay was given, so a model fault is not ruled out")
        return "attack", evidence, why
    if moving and len(gradual) >= len(steps):
        why = (f"{len(gradual)} of {len(moving)} changed series slide gradually, as the world "
               "does, rather than jump")
        why += ("; the golden replay passes, so the model and pipeline are intact"
                if golden is not None else
                "; no golden replay was given, so a pipeline fault is not ruled out")
        return "environmental shift", evidence, why
    if steps:
        return ("inconclusive", evidence,
                f"{len(steps)} series stepped but no logged event explains it"
                + ("" if golden is not None else " and no golden replay was given")
                + "; look for an unlogged change at the step's window")
    return "inconclusive", evidence, "no monitored series changed significantly" + (
        "; " + "; ".join(notes) if notes else "")


def _diagnosis(label: str, evidence: list[dict], why: str, notes: list[str],
               changed: int) -> Finding:
    demanded = PILLAR.get(label)
    status = {"fault": "fail", "attack": "fail", "environmental shift": "warn"}.get(
        label, "warn" if changed else "pass")
    response = (f" Response ({demanded}): {RESPONSES[demanded]}." if demanded else
                " Response: gather more evidence (a golden replay, the event log, more "
                "windows) before acting.")
    return Finding(name=finding_name(DRILL, "diagnosis"), metric="diagnosis",
                   value=DIAGNOSES.index(label), drill=DRILL, group="diagnosis", status=status,
                   message=f"Diagnosis: {label}. {why[0].upper()}{why[1:]}.{response}",
                   details={"diagnosis": label, "evidence": evidence, "reasoning": why,
                            "demanded": demanded, "responses": dict(RESPONSES),
                            "not_available": notes})


def _notes(findings: list[Finding] | None, concentration: Finding | None, source: str,
           events: pd.DataFrame | None, times: pd.Series | None, golden: Result | None) -> list[str]:
    """What evidence could not be weighed, and why."""
    notes = ["the store holds per-window statistics, not per-input rows, so concentration "
             "in few inputs is not measured"]
    if concentration is None:
        notes.append(f"no per-source counts in the history (monitor a categorical feature "
                     f"named {source!r} for them)" if findings is not None else
                     "a history frame holds no per-source counts (pass the store itself)")
    if events is None:
        notes.append("no event log was given")
    elif times is None:
        notes.append("the windows carry no times (row windows), so events cannot be placed")
    if golden is None:
        notes.append("no golden replay was given")
    return notes


# --------------------------------------------------------------------------- entry point


def diagnose(history: Any, events: Any = None, golden: Any = None, *, model: Any = None,
             preprocess: Any = None, alpha: float = 0.05, correction: str = "holm", n_permutations: int = 999,
             tolerance: int = 1, source: str = "source", max_sources: int = 2,
             min_windows: int = 6, event_time: str = "time", event_label: str = "label",
             seed: Any = 0) -> Result:
    """Diagnose a monitored stream: fault, environmental shift, attack or inconclusive.

    Parameters
    ----------
    history : HistoryStore, DataFrame, Result or list of Finding
        The monitor's history: the store (``HistoryStore(url, stream=...)``), its
        ``history()`` frame, or the findings ``shakeout.monitor.run`` returned.
    events : path or DataFrame, optional
        Event log (csv or parquet): a time column ``event_time`` and a label column
        ``event_label`` (deploys, dependency bumps, schema changes, hardware counters).
    golden : Result or path, optional
        A golden replay's Result (``shakeout.faults.golden.replay``), or a golden folder
        to replay through ``preprocess`` (the raw rows -> model input callable the golden
        set was saved with, if any) and ``model``.
    alpha : float, default=0.05
        Significance level of every test, after ``correction`` across the series.
    correction : {"holm", "bonferroni", "bh", "none"}, default="holm"
        Multiple-testing correction of the change-point p-values across series.
    n_permutations : int, default=999
        Permutations per change-point test.
    tolerance : int, default=1
        A step aligns with an event when its first changed window is at most this many
        windows from the window holding the event.
    source : str, default="source"
        The categorical feature whose categories are the traffic's sources.
    max_sources : int, default=2
        At most this many sources count as "few" for an attack.
    min_windows : int, default=6
        Shorter series are not tested (a permutation test on fewer windows can hardly
        reject; see :mod:`shakeout.faults.changepoint`).
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> days = [f"2024-01-{d:02d}" for d in range(1, 13)]
    >>> psi = np.r_[np.full(6, 0.02), np.full(6, 0.6)] + rng.normal(0, 0.01, 12)
    >>> frame = pd.DataFrame({"window": days, "start": days, "group": "psi", "metric": "psi",
    ...                       "feature": "age", "value": psi})
    >>> log = pd.DataFrame({"time": ["2024-01-07T09:30"], "label": ["deploy v2"]})
    >>> result = diagnose(frame, events=log)
    >>> verdict = result.select(group="diagnosis")[0]
    >>> verdict.details["diagnosis"], verdict.status
    ('fault', 'fail')
    >>> verdict.details["demanded"]
    'faults'
    """
    start = time.perf_counter()
    alpha = check_open_interval("diagnose", "alpha", alpha, 0, 1)
    check_choice("diagnose", "correction", correction, CORRECTIONS)
    for name, value, low in (("n_permutations", n_permutations, 1), ("min_windows", min_windows,
                             4), ("max_sources", max_sources, 1), ("tolerance", tolerance, 0)):
        check_positive_int("diagnose", name, value, low)
    rng = as_generator(seed, owner="diagnose")
    log = None if events is None else read_events(events, time_column=event_time,
                                                  label_column=event_label)
    frame, findings, called = _history(history)
    if frame.empty:
        raise ValidationError(f"diagnose: the history ({called}) holds no window; run "
                              "shakeout monitor first.")
    replayed = _golden(golden, model, preprocess)
    order, times = _window_order(frame)
    tested = _tested(_series(frame, order), min_windows=min_windows,
                     n_permutations=n_permutations, rng=rng)
    changes = _shaped(adjust([_change_finding(s, cp, order) for s, cp in tested], correction,
                             alpha, judge=_judge_change), correction, alpha)
    stepped = ev.steps(changes)
    aligned = ev.alignment(log, times, order, stepped, tolerance)
    first = min((f.details["break_position"] for f in changes if f.status == "warn"),
                default=len(order) - 1)
    mix = ev.concentration(findings, source, set(order[first:]), alpha, max_sources)
    replay_f = None if replayed is None else ev.golden_finding(replayed)
    notes = _notes(findings, mix, source, log, times, replayed)
    label, evidence, why = _verdict(changes, aligned, replay_f, mix, notes)
    head = _diagnosis(label, evidence, why, notes, sum(f.status == "warn" for f in changes))
    out = [head, *(x for x in (replay_f, mix) if x is not None), *aligned,
           *ev.co_movement(stepped), *changes]
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, data=f"monitor history ({called})",
        timings={"total": time.perf_counter() - start},
        parameters={"alpha": alpha, "correction": correction, "n_permutations": n_permutations,
                    "tolerance": tolerance, "source": source, "max_sources": max_sources,
                    "min_windows": min_windows, "windows": len(order),
                    "series_tested": len(tested), "events": 0 if log is None else len(log)})
    return Result(title=f"Diagnosis: {called}", findings=tuple(out), manifest=manifest)


__all__ = ["DIAGNOSES", "RESPONSES", "diagnose", "read_events"]
