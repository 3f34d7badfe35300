"""The findings toolkit: how every drill names, builds, adjusts, tags and selects findings.

One name builder (:func:`finding_name`), the interval findings a drill reports most
(:func:`proportion`, :func:`median_finding`), one multiple-testing adjust-and-rejudge
(:func:`adjust`), window tagging (:func:`in_window`), the finding of a check that could not
run (:func:`error_finding`) and one matcher (:func:`matches`) that ``Result.select`` and
gates both use.

The statistics are imported where they are used: reading a Result or judging a gate loads
no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from shakeout.report.result import Finding


def finding_name(drill: str, *parts: str | None, at: float | str | None = None) -> str:
    """``drill/part/part...@at``: the one scheme finding names follow.

    Parts that are None (or empty) are left out; ``at`` (a severity, a budget, a window)
    follows an ``@``, a number written with ``:g``.

    >>> finding_name("stress", "gaussian_noise", "accuracy_drop", at=0.1)
    'stress/gaussian_noise/accuracy_drop@0.1'
    >>> finding_name("drift", "psi", None), finding_name("drift", "psi", "age", at="2024-W03")
    ('drift/psi', 'drift/psi/age@2024-W03')
    """
    name = "/".join(p for p in (drill, *parts) if p)
    if at is None:
        return name
    return f"{name}@{at}" if isinstance(at, str) else f"{name}@{at:g}"


def proportion(name: str, metric: str, k: int, n: int, level: float, **fields: Any) -> Finding:
    """A share ``k / n`` with its exact Clopper-Pearson interval at ``level``.

    The value is NaN when ``n`` is 0 (the interval then covers everything, ``(0, 1)``);
    ``fields`` are any other Finding fields (drill, group, severity, details, message...).

    >>> f = proportion("attack/clean/accuracy", "accuracy", 45, 50, 0.95, drill="attack")
    >>> f.value, tuple(round(v, 4) for v in f.ci), f.ci_level
    (0.9, (0.7819, 0.9667), 0.95)
    """
    from shakeout.stats import clopper_pearson

    return Finding(name=name, metric=metric, value=k / n if n else math.nan,
                   ci=clopper_pearson(k, n, level), ci_level=level, **fields)


def median_finding(name: str, metric: str, values: np.ndarray, level: float, *,
                   message: str = "", **fields: Any) -> Finding:
    """The median of ``values`` with its distribution-free interval at ``level``.

    With too few values for an interval at ``level`` the finding has none, and its message
    says so; with no values its value is NaN.

    >>> f = median_finding("m", "min_perturbation", np.arange(1.0, 101.0), 0.95)
    >>> f.value, f.ci
    (50.5, (40.0, 61.0))
    >>> few = median_finding("m", "min_perturbation", np.ones(3), 0.95, message="Three.")
    >>> few.ci is None, few.message[:56]
    (True, 'Three. No 95% interval: a median needs at least 6 values')
    """
    from shakeout.stats import median_interval

    values = np.asarray(values, dtype=np.float64)
    note = _no_interval(len(values), level)
    return Finding(name=name, metric=metric,
                   value=float(np.median(values)) if len(values) else math.nan,
                   ci=median_interval(values, level), ci_level=level,
                   message=" ".join(s for s in (message, note) if s), **fields)


def _no_interval(n: int, level: float) -> str:
    """What to say when a median of ``n`` values has no interval at ``level`` ("" when it has
    one, or when there are no values at all)."""
    from shakeout.stats.quantile import median_coverage, median_interval_min_rows

    need = median_interval_min_rows(level)
    if n == 0 or n >= need:
        return ""
    return (f"No {level:.0%} interval: a median needs at least {need} values for one (the "
            f"range of {n} covers it with probability {median_coverage(n, 1):.0%}).")


def adjust(findings: Sequence[Finding], method: str, alpha: float, *,
           family: Callable[[Finding], Hashable] = lambda f: None,
           judge: Callable[[Finding, float], Finding]) -> list[Finding]:
    """Correct p-values for multiple testing within each family, then re-judge each finding.

    Findings with a p-value are grouped by ``family(f)`` (one family by default); within a
    family the p-values are adjusted by ``method`` (``holm``, ``bonferroni``, ``bh``,
    ``none``; see :func:`shakeout.stats.adjust_p_values`). Each such finding gets the
    adjusted ``p_value`` and ``details`` gains ``p_raw``, ``correction`` and ``n_tests`` (the
    size of its family); ``judge(finding, alpha)`` then returns the final finding (the
    drill's own rule for status and message). Findings without a p-value pass through
    unchanged, in place.

    >>> fs = [Finding(name=f"x{i}", metric="ks", value=0.3, p_value=p)
    ...       for i, p in enumerate((0.01, 0.03, None))]
    >>> judge = lambda f, alpha: replace(f, status="fail" if f.p_value < alpha else "pass")
    >>> out = adjust(fs, "bonferroni", 0.05, judge=judge)
    >>> [(f.p_value, f.status) for f in out]
    [(0.02, 'fail'), (0.06, 'pass'), (None, 'info')]
    >>> out[1].details
    {'p_raw': 0.03, 'correction': 'bonferroni', 'n_tests': 2}
    """
    from shakeout.stats import adjust_p_values

    families: dict[Hashable, list[int]] = {}
    for i, f in enumerate(findings):
        if f.p_value is not None:
            families.setdefault(family(f), []).append(i)
    out = list(findings)
    for rows in families.values():
        raw = [findings[i].p_value for i in rows]
        for i, p in zip(rows, adjust_p_values(raw, method), strict=True):
            f = findings[i]
            details = {**f.details, "p_raw": f.p_value, "correction": method,
                       "n_tests": len(rows)}
            out[i] = judge(replace(f, p_value=float(p), details=details), alpha)
    return out


def in_window(findings: Iterable[Finding], window: str) -> list[Finding]:
    """Each finding tagged with ``window``, its name ending in ``@window``.

    >>> [f.name for f in in_window([Finding(name="drift/psi/age", metric="psi", value=0.1)],
    ...                            "2024-W03")]
    ['drift/psi/age@2024-W03']
    """
    window = str(window)
    return [replace(f, window=window, name=f"{f.name}@{window}") for f in findings]


def error_finding(drill: str, group: str, feature: str | None, message: str, *,
                  metric: str | None = None) -> Finding:
    """A check that could not run: a warning that says why, with a NaN value.

    ``metric`` defaults to ``group``; the message is kept in ``details["error"]`` too.

    >>> f = error_finding("drift", "ks", "age", "age has no numeric values")
    >>> f.name, f.status, f.details
    ('drift/ks/age', 'warn', {'error': 'age has no numeric values'})
    """
    return Finding(name=finding_name(drill, group, feature), metric=metric or group,
                   value=math.nan, status="warn", drill=drill, group=group, feature=feature,
                   message=message, details={"error": message})


def matches(f: Finding, *, drill: str | None = None, subject: str | None = None,
            group: str | None = None, metric: str | None = None, feature: str | None = None,
            severity: float | None = None, window: str | None = None) -> bool:
    """Whether ``f`` meets every given criterion (None means any); a severity matches up to
    rounding (``math.isclose``), so ``0.1`` finds the grid point ``0.1000000001``.

    >>> f = Finding(name="a", metric="accuracy_drop", value=0.01, group="noise", severity=0.3)
    >>> matches(f, metric="accuracy_drop", severity=0.1 + 0.2), matches(f, group="blur")
    (True, False)
    """
    texts = ((drill, f.drill), (subject, f.subject), (group, f.group), (metric, f.metric),
             (feature, f.feature), (window, f.window))
    if any(want is not None and want != have for want, have in texts):
        return False
    return severity is None or (f.severity is not None and math.isclose(
        f.severity, severity, rel_tol=1e-9, abs_tol=1e-12))
