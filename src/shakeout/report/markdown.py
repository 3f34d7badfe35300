"""A Markdown summary short enough for a pull-request comment."""

from __future__ import annotations

from shakeout.report.gate import GateOutcome
from shakeout.report.html import fmt, sections, verdict
from shakeout.report.result import Result

MAX_ROWS = 15


def render_markdown(result: Result, gate: GateOutcome | None = None) -> str:
    """Verdict (the gate's, else the worst finding's), gate conditions, what needs attention
    and the headline numbers.

    >>> from shakeout.report.result import Finding
    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="warn"),))
    >>> print(render_markdown(r).splitlines()[0])
    ## shakeout: t — WARN
    """
    status = verdict(result, gate)
    lines = [f"## shakeout: {result.title} — {status.upper()}", ""]
    if gate is not None:
        lines += [f"**Gate {'passed' if gate.passed else 'failed'}**", ""]
        lines += [f"- {'✅' if o.passed else '❌'} `{o.condition}`"
                  + ("" if o.passed else f" — {'; '.join(o.reasons[:3])}") for o in gate.outcomes]
        lines.append("")
    for section in sections(result):
        headline = section.headline
        if not (headline or section.attention):
            continue
        lines += [f"### {section.title}", "", "| finding | value | interval | p | status |",
                  "|---|---|---|---|---|"]
        rows = headline + [f for f in section.attention if f not in headline]
        shown = rows[:MAX_ROWS]
        for f in shown:
            ci = f"[{fmt(f.ci[0])}, {fmt(f.ci[1])}]" if f.ci else ""
            lines.append(f"| {f.name} | {fmt(f.value)} | {ci} | {fmt(f.p_value)} | {f.status} |")
        more = len(rows) - len(shown)
        if more > 0:
            lines.append(f"\n…and {more} more in report.html.")
        lines.append("")
    m = result.manifest
    lines.append(f"<sub>{len(result.findings)} findings · model `{m.model}` "
                 f"({m.model_fingerprint}) · data `{m.data}` ({m.data_fingerprint}) · "
                 f"seed {m.seed}</sub>")
    return "\n".join(lines) + "\n"
