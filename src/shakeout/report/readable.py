"""Words a person reads: finding descriptions, ranking, grouping and one-line verdicts.

Every renderer (HTML, Markdown, JUnit) says the same things the same way through these
functions; they read a Finding's fields and its drill's registered report spec, never a
drill's name.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shakeout.drills import report_spec
from shakeout.report.result import Finding, Result

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.report.gate import GateOutcome

METRIC_NAMES = {"log_loss": "log-loss", "ece": "calibration error (ECE)", "macro_f1": "macro-F1",
                "prediction_ks": "prediction shift (KS)", "psi": "PSI", "ks": "KS", "kl": "KL",
                "mmd": "MMD", "chi2": "chi-square"}
"""Display names of metrics whose identifier does not read as words."""
DROP_VERBS = {"accuracy": "falls", "macro_f1": "falls", "robust_accuracy": "falls",
              "log_loss": "rises", "ece": "rises", "brier": "rises"}
"""How a ``<metric>_drop`` (positive means worse) reads: the direction the metric moves."""
FLOOR_NOTE = ("p-values marked * sit at the bootstrap floor 1/(B+1) (times the multiple-testing "
              "correction): the resamples cannot show a smaller one. Raise n_bootstrap "
              "(--n-bootstrap) for smaller ones.")
"""The note under a table whose findings say ``details["p_at_floor"]``."""
STATUS_RANK = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
EFFECT_RANK = {"large": 0, "medium": 1, "small": 2, None: 3, "negligible": 4}


def fmt(v: object) -> str:
    """Numbers to four significant digits; None to an empty cell.

    >>> fmt(0.123456), fmt(None), fmt(float("inf")), fmt(3)
    ('0.1235', '', 'inf', '3')
    """
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def interval(f: Finding) -> str:
    """``"[lo, hi]"`` or an empty string when the finding has no interval."""
    return f"[{fmt(f.ci[0])}, {fmt(f.ci[1])}]" if f.ci else ""


def p_text(f: Finding) -> str:
    """The p-value, marked ``*`` when it sits at the bootstrap floor (see ``FLOOR_NOTE``).

    >>> p_text(Finding(name="a", metric="m", value=1.0, p_value=0.005994,
    ...                details={"p_at_floor": True}))
    '0.005994*'
    """
    return fmt(f.p_value) + ("*" if f.details.get("p_at_floor") else "")


def metric_name(metric: str) -> str:
    """A metric identifier as words.

    >>> metric_name("log_loss"), metric_name("robust_accuracy")
    ('log-loss', 'robust accuracy')
    """
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


def severity_text(severity: float, unit: str | None) -> str:
    """A grid point with its unit: ``level 3``, ``sigma 0.5``, ``drop probability = 0.3``.

    >>> severity_text(3.0, "level (1-5)"), severity_text(0.5, "sigma (x feature std)")
    ('level 3', 'sigma 0.5')
    >>> severity_text(0.03, "linf in input space")
    'linf in input space = 0.03'
    """
    name = (unit or "severity").split(" (")[0]
    return f"{name} {severity:g}" if " " not in name else f"{name} = {severity:g}"


def _what(f: Finding) -> str:
    if f.metric.endswith("_drop"):
        base = f.metric[: -len("_drop")]
        return f"{metric_name(base)} {DROP_VERBS.get(base, 'worsens')}"
    return metric_name(f.metric)


def _where(f: Finding) -> str:
    text = f" on {f.feature}" if f.feature else ""
    group = f.group if f.group not in (None, f.metric, f.feature) else None
    if group:
        words = group.replace("_", " ")
        text += f" under {words}" if f.severity is not None else f" ({words})"
    if f.severity is not None:
        text += f", {severity_text(f.severity, f.unit)}"
    if f.window is not None:
        text += f", window {f.window}"
    return text


def describe(f: Finding) -> str:
    """What a finding is about, in words, from its metric, feature, group, severity and window.

    >>> describe(Finding(name="digits CNN/stress/brightness/log_loss_drop@3", value=0.4,
    ...                  metric="log_loss_drop", group="brightness", severity=3,
    ...                  unit="level (1-5)"))
    'log-loss rises under brightness, level 3'
    >>> describe(Finding(name="w/drift/psi/x2@2026-02-23", metric="psi", value=0.25, group="psi",
    ...                  feature="x2", window="2026-02-23"))
    'PSI on x2, window 2026-02-23'
    >>> describe(Finding(name="s/robustness_score", metric="robustness_score", value=0.9,
    ...                  group="gaussian_noise"))
    'robustness score (gaussian noise)'

    A drill whose report spec has its own ``describe`` words its findings itself.
    """
    own = report_spec(f.drill).describe
    return (own(f) if own is not None else None) or _what(f) + _where(f)


def _sibling(f: Finding, metric: str, findings: Sequence[Finding]) -> Finding | None:
    return next((g for g in findings if g.metric == metric and g.subject == f.subject
                 and g.drill == f.drill and g.group == f.group and g.feature == f.feature
                 and g.severity == f.severity and g.window == f.window), None)


def figure(f: Finding, findings: Sequence[Finding] = ()) -> str:
    """A finding with its number: a drop reads "falls from clean to perturbed [interval]".

    The perturbed value's own interval comes from the finding of the same metric at the same
    point (``accuracy@0.5`` beside ``accuracy_drop@0.5``) when ``findings`` holds it.

    >>> drop = Finding(name="n/accuracy_drop@0.5", metric="accuracy_drop", value=0.35,
    ...                ci=(0.31, 0.39), group="gaussian_noise", severity=0.5,
    ...                unit="sigma (x feature std)", details={"clean": 0.97, "perturbed": 0.62})
    >>> level = Finding(name="n/accuracy@0.5", metric="accuracy", value=0.62, ci=(0.58, 0.66),
    ...                 group="gaussian_noise", severity=0.5)
    >>> figure(drop, [level])
    'accuracy falls from 0.97 to 0.62 [0.58, 0.66] under gaussian noise, sigma 0.5'
    >>> figure(drop)
    'accuracy falls from 0.97 to 0.62 (by 0.35 [0.31, 0.39]) under gaussian noise, sigma 0.5'
    >>> figure(Finding(name="r", metric="risk", value=float("nan"), ci=(0.0, 1.0),
    ...                message="No row answered. Lower the threshold."))
    'risk: not measured (No row answered)'
    """
    clean, perturbed = f.details.get("clean"), f.details.get("perturbed")
    if f.metric.endswith("_drop") and clean is not None and perturbed is not None:
        level = _sibling(f, f.metric[: -len("_drop")], findings)
        if level is not None and level.ci:
            amount = f" from {fmt(float(clean))} to {fmt(level.value)} {interval(level)}"
        else:
            amount = (f" from {fmt(float(clean))} to {fmt(float(perturbed))} "
                      f"(by {fmt(f.value)}{' ' + interval(f) if f.ci else ''})")
        return _what(f) + amount + _where(f)
    if math.isnan(f.value):
        return f"{describe(f)}: not measured" + (f" ({f.message.split('. ')[0].rstrip('.')})"
                                                 if f.message else "")
    return f"{describe(f)}: {fmt(f.value)}{' ' + interval(f) if f.ci else ''}"


def rank_key(f: Finding) -> tuple:
    """Worst first: status, then effect size, then p-value (smallest), then severity (largest)."""
    p = f.p_value if f.p_value is not None and not math.isnan(f.p_value) else 1.0
    return (STATUS_RANK[f.status], EFFECT_RANK.get(f.effect, 3), p, -(f.severity or 0.0))


@dataclass(frozen=True)
class Concern:
    """One row of "needs attention": findings about one thing, led by the worst of them."""

    worst: Finding
    members: tuple[Finding, ...]

    @property
    def others(self) -> str:
        """What else the row stands for: the other metrics and the range of severities.

        >>> a = Finding(name="a", metric="accuracy_drop", value=0.3, status="fail", severity=5,
        ...             unit="level (1-5)")
        >>> b = Finding(name="b", metric="ece_drop", value=0.1, status="warn", severity=2,
        ...             unit="level (1-5)")
        >>> Concern(a, (a, b)).others
        '2 findings: accuracy, calibration error (ECE); level 2 to 5'
        """
        if len(self.members) == 1:
            return ""
        metrics = dict.fromkeys(metric_name(f.metric.removesuffix("_drop")) for f in self.members)
        text = f"{len(self.members)} findings: {', '.join(metrics)}"
        levels = sorted({f.severity for f in self.members if f.severity is not None})
        if len(levels) > 1:
            low = severity_text(levels[0], self.worst.unit)
            text += f"; {low} to {levels[-1]:g}"
        return text


def concerns(findings: Sequence[Finding]) -> list[Concern]:
    """Group findings by what they are about (a feature, else a perturbation or test) and rank
    the groups by their worst member.

    >>> fs = [Finding(name=f"{m}@{s}", metric=m, value=0.1 * s, group="blur", severity=s,
    ...               status="fail" if s > 2 else "warn")
    ...       for m in ("accuracy_drop", "ece_drop") for s in (1, 3)]
    >>> [(c.worst.name, len(c.members)) for c in concerns(fs)]
    [('accuracy_drop@3', 4)]
    """
    groups: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        key = (f.subject, f.drill, f.feature, f.group if f.feature is None else None, f.window)
        groups[key].append(f)
    out = [Concern(min(found, key=rank_key), tuple(found)) for found in groups.values()]
    return sorted(out, key=lambda c: rank_key(c.worst))


def summary(f: Finding) -> bool:
    """Whether ``f`` summarises others in a table of its own (its drill's report spec says
    which groups do, e.g. a monitor's onsets).

    >>> summary(Finding(name="a", metric="onset", value=2.0, drill="drift", group="onset"))
    True
    """
    return f.group in report_spec(f.drill).table_groups


def current(findings: Sequence[Finding]) -> list[Finding]:
    """What holds now: findings without a window, and those of the latest window of their
    drill and subject (a history's earlier windows are the past); summaries excluded.

    >>> fs = [Finding(name=w, metric="psi", value=0.1, drill="drift", window=w)
    ...       for w in ("w1", "w2")]
    >>> [f.name for f in current(fs)]
    ['w2']
    """
    latest: dict[tuple, str] = {}
    for f in findings:
        if f.window is not None:
            key = (f.drill, f.subject)
            latest[key] = max(latest.get(key, f.window), f.window)
    return [f for f in findings if not summary(f)
            and (f.window is None or f.window == latest[(f.drill, f.subject)])]


def judged(gate: GateOutcome) -> set[str]:
    """Names of the findings a gate judged."""
    return {name for o in gate.outcomes for name in o.findings}


def verdict_line(result: Result, gate: GateOutcome | None) -> str:
    """The headline in words: the gate's verdict, or "no gate"; never an all-clear nobody asked for.

    Findings that fail are counted as they stand now (:func:`current`).

    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="fail"),))
    >>> verdict_line(r, None)
    'No gate: nothing was judged against a threshold; 1 finding is marked fail by its drill.'
    >>> from shakeout.report.gate import GateOutcome
    >>> verdict_line(r, GateOutcome(()))
    'Gate passed (0 conditions); 1 finding fails outside the gate.'
    """
    fails = [f for f in current(result.findings) if f.status == "fail"]
    if gate is None:
        head = "No gate: nothing was judged against a threshold"
        marked = "1 finding is" if len(fails) == 1 else f"{len(fails)} findings are"
        return head + (f"; {marked} marked fail by its drill." if fails else ".")
    n = len(gate.outcomes)
    if gate.passed:
        head = f"Gate passed ({n} condition{'s' * (n != 1)})"
    else:
        head = f"Gate failed ({sum(not o.passed for o in gate.outcomes)} of {n} conditions)"
    outside = [f for f in fails if f.name not in judged(gate)]
    return head + (f"; {_count(len(outside))} outside the gate." if outside else ".")


def _count(n: int) -> str:
    return f"{n} finding fails" if n == 1 else f"{n} findings fail"
