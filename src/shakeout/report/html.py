"""Self-contained HTML: a verdict, an executive summary, a table of contents, then per section
the few findings that need attention (grouped and ranked), charts and the full list folded.

See ``docs/report.md`` for the page's structure.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from shakeout.report import charts, readable
from shakeout.report.readable import ONSET_GROUP, fmt
from shakeout.report.result import Finding, Result

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.report.gate import GateOutcome

TITLES = {"stress": "Stress test", "drift": "Drift", "attack": "Adversarial attacks",
          "compare": "Model comparison", "monitor": "Monitoring"}
NOT_CHARTED = ("_drop", "prediction_ks")
HEADLINE_METRICS = ("robustness_score", "robust_accuracy", "agreement", "decision")
"""Metrics summarised at the top of a section: one per group where they have no severity;
along the budget grid for a combined group (the worst case over an attack ensemble)."""
COMBINED_GROUP = "ensemble"
ATTENTION_ROWS = 8
"""Rows of "needs attention" in sight; the other rows are one click away."""


@dataclass
class Block:
    """Charts under one heading: those in sight, those folded, or a note saying why none."""

    title: str
    charts: list[str] = field(default_factory=list)
    more: list[str] = field(default_factory=list)
    note: str = ""
    wide: bool = False


@dataclass
class Section:
    title: str
    findings: list[Finding]
    attention: list[Finding]
    blocks: list[Block]
    onsets: list[Finding] = field(default_factory=list)
    latest_window: str | None = None
    anchor: str = ""

    @property
    def headline(self) -> list[Finding]:
        return [f for f in self.findings if f.metric in HEADLINE_METRICS
                and (f.severity is None or f.group == COMBINED_GROUP)]

    @property
    def concerns(self) -> list[readable.Concern]:
        """The attention findings grouped by what they are about, worst group first."""
        return readable.concerns(self.attention)

    @property
    def status(self) -> str:
        """The section's worst status."""
        return min((f.status for f in self.findings), key=readable.STATUS_RANK.get,
                   default="info")

    @property
    def summary(self) -> str:
        """The decision and the worst figure with its interval.

        The decision is the first sentence of a headline finding of the latest window that
        has no interval (a monitor's decision); the figure is the worst finding that needs
        attention, else the lowest headline figure that has an interval.
        """
        decided = next((f.message.split(". ")[0] for f in self.headline if self.latest_window
                        and f.window == self.latest_window and f.ci is None and f.message), "")
        lead = worst(self.attention)
        if lead is None:
            banded = [f for f in self.headline if f.ci and math.isfinite(f.value)
                      and f.window in (None, self.latest_window)]
            lead = min(banded, key=lambda f: f.value, default=None)
        text = "no finding out of bounds" if lead is None else readable.figure(lead, self.findings)
        return f"{decided.rstrip('.')}; worst: {text}" if decided else text

    @property
    def p_at_floor(self) -> bool:
        """Whether a p-value in this section sits at the bootstrap floor."""
        return any(f.details.get("p_at_floor") for f in self.findings)

    @property
    def notes(self) -> list[str]:
        """What the headline metrics mean, for those the section shows."""
        shown = dict.fromkeys(f.metric for f in self.headline)
        return [readable.METRIC_NOTES[m] for m in shown if m in readable.METRIC_NOTES]


def verdict(result: Result, gate: GateOutcome | None) -> str:
    """The headline status: the gate's verdict when there is a gate, else ``"none"``.

    Without a gate nothing was asked to pass, so nothing reads as passed; the worst finding
    is shown beside it.

    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="fail"),))
    >>> verdict(r, None)
    'none'
    """
    if gate is None:
        return "none"
    return "pass" if gate.passed else "fail"


def worst(findings: list[Finding]) -> Finding | None:
    """The worst finding marked warn or fail (None when none is): the one a reader sees first."""
    judged = [f for f in findings if f.status in ("warn", "fail") and f.group != ONSET_GROUP]
    return min(judged, key=readable.rank_key) if judged else None


def row(f: Finding, note: str = "") -> Markup:
    """A table row: the finding in words (its machine name as the tooltip), numbers, verdict."""
    name = Markup(f'<span title="{escape(f.name)}">{escape(readable.describe(f))}</span>')
    if note:
        name += Markup(f'<div class="muted small">{escape(note)}</div>')
    cells = [name, fmt(f.value), readable.interval(f), readable.p_text(f), escape(f.effect or ""),
             Markup(f'<span class="badge {f.status}">{f.status}</span>'), escape(f.message)]
    tds = "".join(f'<td class="num">{c}</td>' if i in (1, 2, 3) else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    return Markup(f"<tr>{tds}</tr>")


def _curve_blocks(curves: dict[tuple, list[Finding]]) -> Block | None:
    """One chart per perturbation for its first metric in sight; the other metrics folded."""
    first: dict[str | None, str] = {}
    shown, more = [], []
    for (group, metric), pts in curves.items():
        if len({p.severity for p in pts}) < 2:
            continue
        title = f"{readable.metric_name(metric)} · {(group or metric).replace('_', ' ')}"
        lead = first.setdefault(group, metric) == metric
        (shown if lead else more).append(charts.curve(pts, title))
    return Block("Metrics against severity", shown, more) if shown else None


def _timeline_block(timelines: dict[tuple, list[Finding]]) -> Block | None:
    """One chart per statistic and feature: those that ever left the green zone in sight,
    the others folded."""
    shown, more = [], []
    for (group, metric, feature), pts in timelines.items():
        title = readable.metric_name(metric) + (f" · {feature}" if feature else "") + (
            f" ({group.replace('_', ' ')})" if group not in (None, metric) else "")
        alarmed = any(p.status in ("warn", "fail") for p in pts)
        (shown if alarmed else more).append(charts.timeline(pts, title))
    if not shown:
        shown, more = more[:1], more[1:]
    return Block("Over time", shown, more) if shown else None


def _ranked_block(ranked: dict[tuple, list[Finding]]) -> Block | None:
    """Per-feature values as ranked bars; a set of zeros is named in a note, not charted."""
    shown, notes = [], []
    for (group, metric), pts in ranked.items():
        if len(pts) < 2:
            continue
        title = f"{(group or metric).replace('_', ' ')}: {readable.metric_name(metric)}"
        if charts.is_empty(pts):
            notes.append(f"{title} is not charted: all {len(pts)} values are 0 or missing.")
        else:
            shown.append(charts.bars(pts, title))
    if not (shown or notes):
        return None
    return Block("By feature", shown, note=" ".join(notes), wide=True)


def _blocks(findings: list[Finding]) -> list[Block]:
    curves: dict[tuple, list[Finding]] = defaultdict(list)
    ranked: dict[tuple, list[Finding]] = defaultdict(list)
    timelines: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.group == ONSET_GROUP:  # a table of its own
            continue
        if f.window is not None:
            timelines[(f.group, f.metric, f.feature)].append(f)
        elif f.severity is not None and not f.metric.endswith(NOT_CHARTED) and f.feature is None:
            curves[(f.group, f.metric)].append(f)
        elif f.feature is not None and f.severity is None:
            ranked[(f.group, f.metric)].append(f)
    blocks = [_curve_blocks(curves), _ranked_block(ranked), _timeline_block(timelines)]
    return [b for b in blocks if b is not None]


def _slug(text: str, i: int) -> str:
    """An anchor id for a section.

    >>> _slug("Stress test — digits CNN", 2)
    's2-stress-test-digits-cnn'
    """
    return f"s{i}-" + "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def sections(result: Result) -> list[Section]:
    """One section per drill and subject, in the order they appear."""
    by_drill: dict[tuple[str, str | None], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_drill[(f.drill or "other", f.subject)].append(f)
    out = []
    for i, ((drill, subject), found) in enumerate(by_drill.items(), start=1):
        # a history: attention goes to the latest window; onsets say where each alarm began
        latest = max((f.window for f in found if f.window is not None), default=None)
        onsets = [f for f in found if f.group == ONSET_GROUP]
        attention = [f for f in readable.current(found) if f.status in ("warn", "fail")]
        title = TITLES.get(drill, drill.title()) + (f" — {subject}" if subject else "")
        out.append(Section(title, found, attention, _blocks(found), onsets, latest,
                           anchor=_slug(title, i)))
    return out


def render_html(result: Result, gate: GateOutcome | None = None) -> str:
    """The whole report as one HTML string (no external resources, no script).

    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="fail"),))
    >>> "No gate" in render_html(r) and "badge pass" not in render_html(r)
    True
    """
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("shakeout.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    m = result.manifest
    found = sections(result)
    manifest_rows = [("model", m.model), ("model fingerprint", m.model_fingerprint),
                     ("data", m.data), ("data fingerprint", m.data_fingerprint),
                     ("rows", m.n_rows), ("seed", m.seed),
                     ("timings (s)", json.dumps(dict(m.timings))),
                     ("parameters", json.dumps(dict(m.parameters), default=str)[:2000]),
                     ("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items() if v))]
    return env.get_template("report.html.j2").render(
        result=result, status=verdict(result, gate),
        verdict_line=readable.verdict_line(result, gate),
        worst=worst([f for s in found for f in s.attention]), gate=gate, sections=found, manifest=m,
        manifest_rows=manifest_rows, row=row, fmt=fmt, readable=readable,
        attention_rows=ATTENTION_ROWS, floor_note=readable.FLOOR_NOTE)
