"""The report's sections: one per drill and subject, shaped by the drill's registered
:class:`~shakeout.drills.ReportSpec`; every renderer (HTML, Markdown) reads them.

See ``docs/report.md`` for the page's structure.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shakeout.drills import ReportSpec, Table, report_spec
from shakeout.report import readable
from shakeout.report.result import Finding, Result

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.report.gate import GateOutcome

NOT_CHARTED = ("_drop", "prediction_ks")
"""Metric name endings shown in tables, not as curves along the severity grid."""


@dataclass
class Section:
    """One drill's findings about one subject, and what the report says about them first."""

    title: str
    spec: ReportSpec
    findings: list[Finding]
    attention: list[Finding]
    latest_window: str | None = None
    anchor: str = ""

    @property
    def headline(self) -> list[Finding]:
        """The findings of the spec's headline metrics."""
        return [f for f in self.findings if self.spec.is_headline(f)]

    @property
    def tables(self) -> list[tuple[Table, list[Finding]]]:
        """Each table of the spec with its findings, those that have any."""
        out = [(t, [f for f in self.findings if f.group == t.group]) for t in self.spec.tables]
        return [(t, rows) for t, rows in out if rows]

    @property
    def charted(self) -> list[Finding]:
        """The findings that are not summaries shown in a table of their own."""
        return [f for f in self.findings if f.group not in self.spec.table_groups]

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
        attention, else the worst headline figure of each metric the spec's ``summary``
        names, else the lowest headline figure that has an interval.
        """
        decided = next((f.message.split(". ")[0] for f in self.headline if self.latest_window
                        and f.window == self.latest_window and f.ci is None and f.message), "")
        lead = worst(self.attention)
        leads = [lead] if lead is not None else self._summary_figures()
        text = "; ".join(readable.figure(f, self.findings) for f in leads)
        text = text or "no finding out of bounds"
        return f"{decided.rstrip('.')}; worst: {text}" if decided else text

    def _summary_figures(self) -> list[Finding]:
        """The headline figures that speak for the section when nothing needs attention."""
        banded = [f for f in self.headline if f.ci and math.isfinite(f.value)
                  and f.window in (None, self.latest_window)]
        if not self.spec.summary:
            return [min(banded, key=lambda f: f.value)] if banded else []
        out = []
        for metric, worse in self.spec.summary:
            found = [f for f in banded if f.metric == metric]
            if found:
                out.append((max if worse == "high" else min)(found, key=lambda f: f.value))
        return out

    @property
    def p_at_floor(self) -> bool:
        """Whether a p-value in this section sits at the bootstrap floor."""
        return any(f.details.get("p_at_floor") for f in self.findings)

    @property
    def notes(self) -> list[str]:
        """What the headline metrics mean, for those the section shows."""
        shown = dict.fromkeys(f.metric for f in self.headline)
        notes = dict(self.spec.notes)
        return [notes[m] for m in shown if m in notes]


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
    """The worst finding marked warn or fail (None when none is): the one a reader sees first;
    summaries shown in a table of their own do not count."""
    judged = [f for f in findings if f.status in ("warn", "fail") and not readable.summary(f)]
    return min(judged, key=readable.rank_key) if judged else None


def _slug(text: str, i: int) -> str:
    """An anchor id for a section.

    >>> _slug("Stress test — digits CNN", 2)
    's2-stress-test-digits-cnn'
    """
    return f"s{i}-" + "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def sections(result: Result) -> list[Section]:
    """One section per drill and subject, in the order they appear.

    >>> fs = (Finding(name="a", metric="robust_accuracy", value=0.8, drill="attack",
    ...               group="ensemble", severity=0.1, subject="cnn"),)
    >>> [(s.title, len(s.headline)) for s in sections(Result(title="t", findings=fs))]
    [('Adversarial attacks — cnn', 1)]
    """
    by_drill: dict[tuple[str, str | None], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_drill[(f.drill or "other", f.subject)].append(f)
    out = []
    for i, ((drill, subject), found) in enumerate(by_drill.items(), start=1):
        # a history: attention goes to the latest window
        latest = max((f.window for f in found if f.window is not None), default=None)
        attention = [f for f in readable.current(found) if f.status in ("warn", "fail")]
        spec = report_spec(drill)
        title = spec.title + (f" — {subject}" if subject else "")
        out.append(Section(title, spec, found, attention, latest, anchor=_slug(title, i)))
    return out
