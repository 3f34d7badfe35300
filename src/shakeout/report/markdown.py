"""A Markdown summary short enough for a pull-request comment."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from shakeout.report import readable
from shakeout.report.sections import NOT_CHARTED, Section, sections, verdict
from shakeout.report.readable import fmt, interval
from shakeout.report.result import Finding, Result

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.report.gate import GateOutcome

MAX_ROWS = 15
HEADINGS = {"none": "no gate", "pass": "gate passed", "fail": "gate failed"}


def _row(f: Finding, label: str) -> str:
    return f"| {label} | {fmt(f.value)} | {interval(f)} | {readable.p_text(f)} | {f.status} |"


def level_table(findings: list[Finding]) -> list[str]:
    """Each metric's value and interval per perturbation and severity, as Markdown rows.

    >>> fs = [Finding(name=f"a@{s}", metric="accuracy", value=1 - s, ci=(0.9 - s, 1.0 - s),
    ...               group="noise", severity=s, unit="sigma") for s in (0.0, 0.5)]
    >>> print("\\n".join(level_table(fs)))
    | perturbation | severity | accuracy |
    |---|---|---|
    | noise | sigma 0 | 1 [0.9, 1] |
    | noise | sigma 0.5 | 0.5 [0.4, 0.5] |
    """
    cells: dict[tuple, dict[str, str]] = defaultdict(dict)
    for f in findings:
        if f.severity is not None and f.feature is None and not f.metric.endswith(NOT_CHARTED):
            cells[(f.group, f.severity, f.unit)][f.metric] = f"{fmt(f.value)} {interval(f)}".strip()
    if len({sev for _, sev, _ in cells}) < 2:
        return []
    metrics = list(dict.fromkeys(m for row in cells.values() for m in row))
    lines = ["| perturbation | severity | " + " | ".join(map(readable.metric_name, metrics)) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for (group, sev, unit), row in cells.items():
        values = " | ".join(row.get(m, "") for m in metrics)
        lines.append(f"| {group} | {readable.severity_text(sev, unit)} | {values} |")
    return lines


def _section(section: Section) -> list[str]:
    concerns = section.concerns
    if not (section.headline or concerns):
        return []
    lines = [f"### {section.title}", "", "| finding | value | interval | p | status |",
             "|---|---|---|---|---|"]
    rows = [(f, readable.describe(f)) for f in section.headline]
    rows += [(c.worst, readable.describe(c.worst) + (f" ({c.others})" if c.others else ""))
             for c in concerns]
    shown = rows[:MAX_ROWS]
    lines += [_row(f, label) for f, label in shown]
    if len(rows) > len(shown):
        lines.append(f"\n…and {len(rows) - len(shown)} more in report.html.")
    if section.p_at_floor:
        lines += ["", f"<sub>{readable.FLOOR_NOTE}</sub>"]
    return lines + [""]


def render_markdown(result: Result, gate: GateOutcome | None = None) -> str:
    """Verdict (the gate's, or "no gate"), one sentence per model and drill, gate conditions,
    what needs attention, the headline numbers and each metric per perturbation and level.

    >>> from shakeout.report.result import Finding
    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="warn"),))
    >>> print(render_markdown(r).splitlines()[0])
    ## shakeout: t — no gate
    """
    found = sections(result)
    lines = [f"## shakeout: {result.title} — {HEADINGS[verdict(result, gate)]}", "",
             readable.verdict_line(result, gate), ""]
    lines += [f"- **{s.title}** ({s.status}): {s.summary}." for s in found] + [""]
    if gate is not None:
        lines += [f"**Gate {'passed' if gate.passed else 'failed'}**", ""]
        lines += [f"- {'✅' if o.passed else '❌'} `{o.condition}`"
                  + ("" if o.passed else f" — {'; '.join(o.reasons[:3])}") for o in gate.outcomes]
        lines.append("")
    for section in found:
        lines += _section(section)
        levels = level_table(section.findings)
        if levels:
            lines += ["<details><summary>Metrics per perturbation and level</summary>", "",
                      *levels, "", "</details>", ""]
    m = result.manifest
    lines.append(f"<sub>{len(result.findings)} findings · model `{m.model}` "
                 f"({m.model_fingerprint}) · data `{m.data}` ({m.data_fingerprint}) · "
                 f"seed {m.seed}</sub>")
    return "\n".join(lines) + "\n"
