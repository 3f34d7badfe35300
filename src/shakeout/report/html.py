"""Self-contained HTML: a verdict, an executive summary, a table of contents, then per section
the headline, the drill's own tables, the few findings that need attention (grouped and
ranked), charts and the full list folded.

See ``docs/report.md`` for the page's structure.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from shakeout.report import charts, readable
from shakeout.report.readable import fmt
from shakeout.report.result import Finding, Result
from shakeout.report.sections import NOT_CHARTED, Section, sections, verdict, worst

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.drills import Column, ReportSpec
    from shakeout.report.gate import GateOutcome

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


def cell(column: Column, f: Finding) -> Markup:
    """One cell of a drill's own table: a number formatted, a text escaped, None empty.

    >>> from shakeout.drills import Column
    >>> f = Finding(name="a", metric="onset", value=2.0, details={"first_value": 0.123456})
    >>> cell(Column("value then", lambda f: f.details["first_value"], number=True), f)
    Markup('<td class="num">0.1235</td>')
    """
    value = column.cell(f)
    if column.number:
        return Markup(f'<td class="num">{escape(fmt(value))}</td>')
    return Markup(f"<td>{escape('' if value is None else value)}</td>")


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


def _curve_blocks(curves: dict[tuple, list[Finding]], spec: ReportSpec) -> Block | None:
    """One chart per perturbation for its first metric in sight; the other metrics folded.
    Each is drawn as the spec's chart of its group says."""
    first: dict[str | None, str] = {}
    shown, more = [], []
    for (group, metric), pts in curves.items():
        if len({p.severity for p in pts}) < 2:
            continue
        title = f"{readable.metric_name(metric)} · {(group or metric).replace('_', ' ')}"
        lead = first.setdefault(group, metric) == metric
        how = spec.chart(group)
        (shown if lead else more).append(charts.curve(pts, title, reference=how.reference,
                                                      weight=how.weight))
    return Block(spec.curves, shown, more) if shown else None


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
        name, where = readable.metric_name(metric), (group or metric).replace("_", " ")
        title = name if where in (name, metric.replace("_", " ")) else f"{where}: {name}"
        if charts.is_empty(pts):
            notes.append(f"{title} is not charted: all {len(pts)} values are 0 or missing.")
        else:
            shown.append(charts.bars(pts, title))
    if not (shown or notes):
        return None
    return Block("By feature", shown, note=" ".join(notes), wide=True)


def blocks(section: Section) -> list[Block]:
    """The section's charts: curves along the severity grid, per-feature bars, timelines;
    summaries shown in a table of their own are not charted."""
    curves: dict[tuple, list[Finding]] = defaultdict(list)
    ranked: dict[tuple, list[Finding]] = defaultdict(list)
    timelines: dict[tuple, list[Finding]] = defaultdict(list)
    for f in section.charted:
        if f.window is not None:
            timelines[(f.group, f.metric, f.feature)].append(f)
        elif f.severity is not None and not f.metric.endswith(NOT_CHARTED) and f.feature is None:
            curves[(f.group, f.metric)].append(f)
        elif f.feature is not None and f.severity is None:
            ranked[(f.group, f.metric)].append(f)
    found = [_curve_blocks(curves, section.spec), _ranked_block(ranked), _timeline_block(timelines)]
    return [b for b in found if b is not None]


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
    if m.torch_threads is not None:
        manifest_rows.append(("torch threads", m.torch_threads))
    return env.get_template("report.html.j2").render(
        result=result, status=verdict(result, gate),
        verdict_line=readable.verdict_line(result, gate),
        worst=worst([f for s in found for f in s.attention]), gate=gate, sections=found, manifest=m,
        manifest_rows=manifest_rows, row=row, cell=cell, blocks=blocks, fmt=fmt,
        readable=readable,
        attention_rows=ATTENTION_ROWS, floor_note=readable.FLOOR_NOTE)
