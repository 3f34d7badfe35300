"""Self-contained HTML: charts as inline SVG, tables, gate verdicts, the manifest."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from shakeout.report import charts
from shakeout.report.gate import GateOutcome
from shakeout.report.result import Finding, Result

TITLES = {"stress": "Stress test", "drift": "Drift", "attack": "Adversarial attacks",
          "compare": "Model comparison", "monitor": "Monitoring"}
NOT_CHARTED = ("_drop", "prediction_ks")
HEADLINE_METRICS = ("robustness_score", "robust_accuracy", "agreement", "decision")
"""Metrics summarised at the top of a section: one per group where they have no severity;
along the budget grid for a combined group (the worst case over an attack ensemble)."""
COMBINED_GROUP = "ensemble"


@dataclass
class Block:
    title: str
    charts: list[str] = field(default_factory=list)


@dataclass
class Section:
    title: str
    findings: list[Finding]
    attention: list[Finding]
    blocks: list[Block]
    onsets: list[Finding] = field(default_factory=list)
    latest_window: str | None = None

    @property
    def headline(self) -> list[Finding]:
        return [f for f in self.findings if f.metric in HEADLINE_METRICS
                and (f.severity is None or f.group == COMBINED_GROUP)]


def verdict(result: Result, gate: GateOutcome | None) -> str:
    """The headline status: the gate's verdict when there is a gate, else the worst finding.

    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="fail"),))
    >>> verdict(r, None)
    'fail'
    """
    if gate is None:
        return result.status
    return "pass" if gate.passed else "fail"


def fmt(v: Any) -> str:
    """Numbers to four significant digits; None to an empty cell."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def row(f: Finding) -> Markup:
    ci = f"[{fmt(f.ci[0])}, {fmt(f.ci[1])}]" if f.ci else ""
    cells = [escape(f.name), fmt(f.value), ci, fmt(f.p_value), escape(f.effect or ""),
             Markup(f'<span class="badge {f.status}">{f.status}</span>'), escape(f.message)]
    tds = "".join(f'<td class="num">{c}</td>' if i in (1, 2, 3) else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    return Markup(f"<tr>{tds}</tr>")


def _blocks(findings: list[Finding]) -> list[Block]:
    curves: dict[tuple, list[Finding]] = defaultdict(list)
    ranked: dict[tuple, list[Finding]] = defaultdict(list)
    timelines: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.group == "onset":  # a table of its own
            continue
        if f.window is not None:
            timelines[(f.group, f.metric, f.feature)].append(f)
        elif f.severity is not None and not f.metric.endswith(NOT_CHARTED) and f.feature is None:
            curves[(f.group, f.metric)].append(f)
        elif f.feature is not None and f.severity is None:
            ranked[(f.group, f.metric)].append(f)
    blocks: dict[str, Block] = {}
    for (group, metric), pts in curves.items():
        if len({p.severity for p in pts}) > 1:
            blocks.setdefault(group or metric, Block(f"{group or metric}: metric against severity"))
            blocks[group or metric].charts.append(charts.curve(pts, metric))
    for (group, metric), pts in ranked.items():
        if len(pts) > 1:
            key = f"{group}/{metric}"
            blocks[key] = Block(f"{group}: {metric} by feature", [charts.bars(pts, metric)])
    for (group, metric, feature), pts in timelines.items():
        key = f"{group}/{metric} over time"
        blocks.setdefault(key, Block(f"{group}: {metric} over time"))
        blocks[key].charts.append(charts.timeline(pts, f"{feature or metric}"))
    return list(blocks.values())


def sections(result: Result) -> list[Section]:
    """One section per drill and subject, in the order they appear."""
    by_drill: dict[tuple[str, str | None], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_drill[(f.drill or "other", f.subject)].append(f)
    out = []
    for (drill, subject), found in by_drill.items():
        # a history: attention goes to the latest window; onsets say where each alarm began
        latest = max((f.window for f in found if f.window is not None), default=None)
        onsets = [f for f in found if f.group == "onset"]
        attention = sorted((f for f in found if f.status in ("warn", "fail")
                            and f.window in (None, latest) and f.group != "onset"),
                           key=lambda f: (f.status != "fail", f.name))
        title = TITLES.get(drill, drill.title()) + (f" — {subject}" if subject else "")
        out.append(Section(title, found, attention, _blocks(found), onsets, latest))
    return out


def render_html(result: Result, gate: GateOutcome | None = None) -> str:
    """The whole report as one HTML string (no external resources)."""
    env = Environment(loader=PackageLoader("shakeout.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    m = result.manifest
    manifest_rows = [("model", m.model), ("model fingerprint", m.model_fingerprint),
                     ("data", m.data), ("data fingerprint", m.data_fingerprint),
                     ("rows", m.n_rows), ("seed", m.seed),
                     ("timings (s)", json.dumps(dict(m.timings))),
                     ("parameters", json.dumps(dict(m.parameters), default=str)[:2000]),
                     ("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items() if v))]
    return env.get_template("report.html.j2").render(
        result=result, status=verdict(result, gate), worst=result.status,
        gate=gate, sections=sections(result), manifest=m, manifest_rows=manifest_rows, row=row,
        fmt=fmt)
