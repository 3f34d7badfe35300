"""Sanity checks that catch gradient masking and broken evaluations.

A robustness number is only as good as the attack behind it. These checks compare what the
attacks of one drill found, point by point, against what must hold for any sound
evaluation, and report each as a finding (``metric="sanity"``, ``warn`` when it fails):

- ``monotone``: a point fooled at a budget must be fooled at every larger one (not asked
  of transfer attacks, whose examples are made for another model);
- ``unbounded``: with a budget that reaches the whole valid range, robust accuracy must be
  about zero;
- ``black_box_stronger``: points fooled by a black-box or transfer attack but by no
  white-box attack mean the gradients mislead;
- ``single_step_stronger``: points fooled by FGSM but by no iterative attack mean the same.

Each value is the share of clean-correct points that break the rule (for ``unbounded``: that
stay robust); a check warns when it exceeds ``tolerance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding

ITERATIVE = ("pgd", "bim", "apgd")


@dataclass(frozen=True)
class Outcome:
    """What one attack did at one budget to the clean-correct points."""

    attack: str
    slug: str
    white_box: bool
    eps: float
    fooled: np.ndarray
    confidence: np.ndarray
    seconds: float
    details: Mapping[str, Any] = field(default_factory=dict)


def sanity_findings(outcomes: Mapping[tuple[str, float], Outcome], grid: Sequence[float],
                    unbounded: Outcome | None, *, tolerance: float,
                    level: float) -> list[Finding]:
    """The four checks as findings (a check that cannot apply to these attacks is left out).

    >>> fooled = {0.1: np.array([True, False]), 0.2: np.array([False, True])}
    >>> out = {("pgd", e): Outcome("pgd", "pgd", True, e, f, np.ones(2), 0.0)
    ...        for e, f in fooled.items()}
    >>> [f.status for f in sanity_findings(out, [0.1, 0.2], None, tolerance=0.02, level=0.95)]
    ['warn']
    """
    if not outcomes:
        return []
    n = len(next(iter(outcomes.values())).fooled)
    names = sorted({o.attack for o in outcomes.values() if o.slug != "transfer"})
    found: list[Finding] = []
    worst, where = 0, ""
    for name in names:
        runs = [outcomes[(name, e)] for e in grid if (name, e) in outcomes]
        for i, small in enumerate(runs):
            for large in runs[i + 1:]:
                broken = int(np.sum(small.fooled & ~large.fooled))
                if broken > worst:
                    worst = broken
                    where = (f"{name} fools {broken} points at eps={small.eps:g} but not at "
                             f"eps={large.eps:g}")
    found.append(_check("monotone", worst, n, tolerance, level,
                        where or "every point fooled at a budget stays fooled at larger ones",
                        ("robust accuracy rose with eps: the attack is not finding the worst "
                         "case (too few steps, a poor step size, or masked gradients)")))
    if unbounded is not None:
        robust = int(np.sum(~unbounded.fooled))
        found.append(_check("unbounded", robust, n, tolerance, level,
                            (f"{unbounded.attack} at eps={unbounded.eps:g} (the whole valid "
                             f"range) leaves {robust} of {n} points robust"),
                            ("an unbounded attack must reach about 0% robust accuracy; "
                             "points it cannot move point to gradient masking, an attack "
                             "that stops too early, or bounds that pin the inputs")))
    found += _dominance(outcomes, grid, n, tolerance, level)
    return found


def _dominance(outcomes: Mapping[tuple[str, float], Outcome], grid: Sequence[float], n: int,
               tolerance: float, level: float) -> list[Finding]:
    """Black-box over white-box, single-step over iterative: points only the weaker found."""
    pairs = {
        "black_box_stronger": (lambda o: not o.white_box, lambda o: o.white_box,
                               ("black-box or transfer attacks fooled points every white-box "
                                "attack missed: the gradients mislead (gradient masking)")),
        "single_step_stronger": (lambda o: o.slug == "fgsm", lambda o: o.slug in ITERATIVE,
                                 ("FGSM fooled points every iterative attack missed: the "
                                  "iterative attacks are misconfigured or the loss surface "
                                  "is masked")),
    }
    found = []
    for check, (weak, strong, problem) in pairs.items():
        worst, where, applies = 0, "", False
        for e in grid:
            runs = [o for (_, eps), o in outcomes.items() if eps == e]
            w = [o.fooled for o in runs if weak(o)]
            s = [o.fooled for o in runs if strong(o)]
            if not w or not s:
                continue
            applies = True
            only = int(np.sum(np.any(w, axis=0) & ~np.any(s, axis=0)))
            if only > worst:
                worst, where = only, f"{only} points at eps={e:g}"
        if applies:
            found.append(_check(check, worst, n, tolerance, level,
                                where or "no point found only by the weaker attacks", problem))
    return found


def _check(check: str, count: int, n: int, tolerance: float, level: float, what: str,
           problem: str) -> Finding:
    """The share ``count / n`` of clean-correct points (``n > 0``) breaking the rule."""
    failed = count / n > tolerance
    message = f"{what}. " + (problem + "." if failed else "OK.")
    return proportion(finding_name("attack", "sanity", check), "sanity", count, n, level,
                      status="warn" if failed else "pass", drill="attack", group="sanity",
                      feature=check, unit="share of clean-correct points", message=message,
                      details={"count": count, "n": n, "tolerance": tolerance})
