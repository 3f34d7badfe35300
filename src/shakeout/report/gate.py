"""Gates: policies over findings that decide pass or fail, one reason per condition.

A condition selects findings (by metric and optionally drill, group, feature, severity) and
bounds them. Where a finding has an interval the bound is judged on the interval's
pessimistic end: ``max`` on the upper bound, ``min`` on the lower bound. An interval of zero
width (a bootstrap on too few rows, or on rows where nothing varied) bounds nothing: a
condition judged on it fails and says why, instead of passing on it. So "the accuracy
drop at sigma=0.1 is at most 2 points at 95% confidence" is ``max: 0.02`` on
``accuracy_drop`` at ``severity: 0.1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, model_validator

from shakeout._schema import Schema
from shakeout.errors import ValidationError
from shakeout.report.findings import matches
from shakeout.report.result import Finding, Result


class GateCondition(Schema):
    """One rule of a gate.

    Examples
    --------
    >>> c = GateCondition(metric="accuracy_drop", group="gaussian_noise", severity=0.1, max=0.02)
    >>> c.describe()
    'accuracy_drop [group=gaussian_noise, severity=0.1] <= 0.02'
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    metric: str
    drill: str | None = None
    subject: str | None = None
    group: str | None = None
    feature: str | None = None
    severity: float | None = None
    max: float | None = None
    min: float | None = None
    on: str = "bound"
    """``"bound"`` judges the interval end (the default); ``"value"`` the point estimate."""
    required: bool = True
    """Fail when no finding matches (a typo in a gate must not pass silently)."""

    @model_validator(mode="after")
    def _one_bound(self) -> "GateCondition":
        if self.max is None and self.min is None:
            raise ValueError(f"gate on {self.metric!r} needs max or min (e.g. max: 0.05 for a "
                             "drop, min: 0.9 for an accuracy)")
        if self.on not in ("bound", "value"):
            raise ValueError(f"gate on {self.metric!r}: on must be 'bound' or 'value', got "
                             f"{self.on!r}")
        return self

    def matches(self, f: Finding) -> bool:
        """Whether the condition applies to ``f`` (the one matcher, as ``Result.select``)."""
        return matches(f, metric=self.metric, drill=self.drill, subject=self.subject,
                       group=self.group, feature=self.feature, severity=self.severity)

    def describe(self) -> str:
        where = [f"{k}={getattr(self, k):g}" if k == "severity" else f"{k}={getattr(self, k)}"
                 for k in ("drill", "subject", "group", "feature", "severity") if getattr(self, k) is not None]
        scope = f" [{', '.join(where)}]" if where else ""
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return f"{self.metric}{scope} {' and '.join(parts)}"

    def judge(self, f: Finding) -> tuple[bool, str]:
        """Whether one finding meets the condition, and why."""
        on_interval = self.on == "bound" and f.ci is not None
        lo, hi = f.ci if on_interval else (f.value, f.value)
        label = f.name
        if math.isnan(f.value):
            return False, f"{label}: value is NaN"
        if on_interval and not hi - lo > 0:
            rows = f.details.get("n_rows") if f.details else None
            on_rows = f" on {rows} rows" if rows is not None else ""
            return False, (f"{label}: the interval [{lo:.4g}, {hi:.4g}]{on_rows} has zero width, "
                           "so it bounds nothing (too few rows, or nothing varied); judge it on "
                           "more rows, or on: value")
        if self.max is not None and not hi <= self.max:
            what = "upper bound" if on_interval else "value"
            return False, f"{label}: {what} {hi:.4g} > {self.max:g}"
        if self.min is not None and not lo >= self.min:
            what = "lower bound" if on_interval else "value"
            return False, f"{label}: {what} {lo:.4g} < {self.min:g}"
        shown = f"[{lo:.4g}, {hi:.4g}]" if f.ci and self.on == "bound" else f"{f.value:.4g}"
        return True, f"{label}: {shown} within bound"


@dataclass(frozen=True)
class ConditionOutcome:
    """The verdict on one condition: its reasons, and the names of the findings it judged."""

    condition: str
    passed: bool
    reasons: tuple[str, ...]
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateOutcome:
    """The verdict of a gate: passed, and one outcome per condition with its reasons."""

    outcomes: tuple[ConditionOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @classmethod
    def from_dict(cls, data: Any) -> GateOutcome:
        """The verdict saved under ``gate`` in a results.json (the inverse of ``to_dict``).

        >>> saved = {"passed": False, "conditions": [
        ...     {"condition": "accuracy_drop <= 0.02", "passed": False,
        ...      "reasons": ["a: upper bound 0.05 > 0.02"], "findings": ["a"]}]}
        >>> GateOutcome.from_dict(saved).to_dict() == saved
        True

        A verdict saved before schema 1.1 names no findings; each reason begins with the
        name of the finding it judged, so the names are read from there.

        >>> del saved["conditions"][0]["findings"]
        >>> GateOutcome.from_dict(saved).outcomes[0].findings
        ('a',)
        """
        try:
            return cls(tuple(_condition(c) for c in data["conditions"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"the saved gate verdict is malformed ({type(exc).__name__}: {exc}); it needs "
                "'conditions', each with 'condition', 'passed' (true/false) and 'reasons'; "
                "pass --plan to judge the gates again.") from None

    def to_dict(self) -> dict:
        return {"passed": self.passed,
                "conditions": [{"condition": o.condition, "passed": o.passed,
                                "reasons": list(o.reasons), "findings": list(o.findings)}
                               for o in self.outcomes]}


def _condition(saved: Any) -> ConditionOutcome:
    """One saved condition; one saved by schema 1.0 (no ``findings``) takes the names its
    reasons begin with (``"<finding>: <why>"``)."""
    reasons = tuple(str(r) for r in saved["reasons"])
    if "findings" in saved:
        names = tuple(str(n) for n in saved["findings"])
    else:
        names = tuple(r.partition(": ")[0] for r in reasons if ": " in r)
    return ConditionOutcome(str(saved["condition"]), _flag(saved["passed"]), reasons, names)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"passed must be true or false, got {value!r}")
    return value


class Gate(Schema):
    """A list of conditions; ``check(result)`` judges them all.

    Examples
    --------
    >>> r = Result(title="t", findings=(Finding(name="drop", metric="accuracy_drop", value=0.01,
    ...                                         ci=(0.0, 0.03)),))
    >>> Gate(conditions=[GateCondition(metric="accuracy_drop", max=0.02)]).check(r).passed
    False
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    conditions: list[GateCondition] = []

    def check(self, result: Result) -> GateOutcome:
        outcomes = []
        for cond in self.conditions:
            matched = [f for f in result.findings if cond.matches(f)]
            if not matched:
                ok = not cond.required
                outcomes.append(ConditionOutcome(cond.describe(), ok,
                                                 ("no finding matches this condition",)))
                continue
            verdicts = [cond.judge(f) for f in matched]
            outcomes.append(ConditionOutcome(cond.describe(), all(v for v, _ in verdicts),
                                             tuple(r for _, r in verdicts),
                                             tuple(f.name for f in matched)))
        return GateOutcome(tuple(outcomes))
