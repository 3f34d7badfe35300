"""Would drift monitoring have caught it? Each preprocessing fault, injected into clean rows,
against the drift suite a monitor runs: whether it alerts, and after how many faulty rows.

The faulty stream starts at the fault's onset; the monitor's window holds its first ``n``
rows. ``rows_to_alert`` is the smallest ``n`` whose decision is not "continue monitoring",
found by doubling ``n`` from the decision's minimum window until an alert, then bisecting
between the last quiet window and the first alerting one: about ``2 log2(n)`` suite runs
instead of ``n``. Detection grows with the window but is not strictly monotone (a test's
p-value wanders), so the answer is a window that alerts whose predecessor on the search path
did not: exact when detection is monotone, and every window it names does alert.

The clean rows go through the same suite as a control, window for window: a window counts
as an alert only when its clean rows (the same rows without the fault) do not alert, since
an alert the suite raises without the fault says nothing about it. The control finding says
on how many of the windows tried the clean rows alerted, and warns when they alert in full.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from shakeout._validation import Seed, as_generator, check_number
from shakeout.errors import ValidationError
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Manifest, Result

DRILL = "caught"
FAULTS = ("unit_mismatch", "column_swap", "frozen_feature", "default_filled", "truncation")
"""The preprocessing faults tried when none are given, each with its default parameters."""
QUIET = ("continue monitoring", "no decision")
"""Decisions that are not an alert."""


def rows_to_alert(alerts: Callable[[int], bool], low: int, high: int) -> tuple[int | None,
                                                                                list[int]]:
    """The smallest window ``n`` in ``[low, high]`` with ``alerts(n)``, by doubling from
    ``low`` then bisection, and the windows tried in order; None when ``high`` is quiet.

    Exact when ``alerts`` is monotone (quiet below a threshold, alerting from it on).

    >>> n, tried = rows_to_alert(lambda n: n >= 300, 10, 10_000)
    >>> n, tried[:7]
    (300, [10, 20, 40, 80, 160, 320, 240])
    >>> rows_to_alert(lambda n: False, 10, 50)
    (None, [10, 20, 40, 50])
    """
    tried: list[int] = []
    quiet, n = low - 1, low
    while True:
        n = min(n, high)
        tried.append(n)
        if alerts(n):
            break
        if n == high:
            return None, tried
        quiet, n = n, 2 * n
    while n - quiet > 1:
        mid = (quiet + n) // 2
        tried.append(mid)
        if alerts(mid):
            n = mid
        else:
            quiet = mid
    return n, tried


def _rows(data: Any, n: int) -> Any:
    return data.iloc[:n] if isinstance(data, pd.DataFrame) else data[:n]


def _decision(suite: Any, window: Any) -> Finding:
    return suite.run(window).select(metric="decision")[0]


def _faults(faults: Sequence[Any] | None) -> list[Any]:
    from shakeout.perturb import Perturbation, make

    out = []
    for f in FAULTS if faults is None else faults:
        p = make(f) if isinstance(f, str) else f
        if not isinstance(p, Perturbation) or p.kind != "input":
            raise ValidationError(f"caught: faults are input perturbations (or their registered "
                                  f"names, such as {FAULTS[0]!r}), got {f!r}.")
        out.append(p)
    return out


def _fault_finding(fault: Any, n: int | None, tried: list[int], decision: Finding | None,
                   severity: float, available: int) -> Finding:
    label = fault.name
    if n is None:
        message = (f"{label}: on no window up to all {available} faulty rows did the drift "
                   "suite alert where the same rows without the fault left it quiet; "
                   "monitoring would not have caught this fault.")
    else:
        message = (f"{label}: the drift suite alerts after {n} faulty rows "
                   f"({decision.details['action']}): {decision.details['diagnosis']}.")
    return Finding(
        name=finding_name(DRILL, label), metric="rows_to_alert",
        value=math.nan if n is None else n, status="warn" if n is None else "pass",
        drill=DRILL, group="rows_to_alert", feature=label, message=message,
        details={"caught": n is not None, "fault": repr(fault), "severity": severity,
                 "windows_tried": tried, "rows_available": available,
                 "action": None if decision is None else decision.details["action"],
                 "evidence": [] if decision is None else decision.details.get("evidence", [])})


def _control(suite: Any, current: Any, clean: dict[int, bool]) -> Finding:
    decision = _decision(suite, current)
    alerted = decision.details["action"] not in QUIET
    noisy = sorted(n for n, quiet in clean.items() if not quiet)
    windows = (f" It alerted on {len(noisy)} of the {len(clean)} clean windows tried "
               f"({', '.join(map(str, noisy[:8]))} rows), which no fault was credited with."
               if noisy else "")
    return Finding(
        name=finding_name(DRILL, "control"), metric="clean_alert", value=float(alerted),
        status="warn" if alerted else "pass", drill=DRILL, group="control",
        message=(f"The suite also alerts on all {len(current)} clean rows "
                 f"({decision.details['action']}): it alerts on this data without a fault, so "
                 "rows-to-alert says little." if alerted else
                 f"The suite does not alert on the {len(current)} clean rows.") + windows,
        details={"action": decision.details["action"], "rows": len(current),
                 "clean_windows_alerting": noisy, "clean_windows_tried": sorted(clean)})


def caught(reference: Any, current: Any, *, faults: Sequence[Any] | None = None,
           severity: float = 1.0, suite: Any = None, seed: Seed = 0) -> Result:
    """Whether the drift suite alerts on each preprocessing fault, and after how many rows.

    Parameters
    ----------
    reference : array or DataFrame
        Clean rows the suite is fitted on (what the monitor compares with).
    current : array or DataFrame
        Clean rows from after the reference, into which each fault is injected; the search
        goes up to all of them.
    faults : sequence of Perturbation or str, or None
        Input perturbations (fitted here on ``reference``) or registered names; None: every
        preprocessing fault with its defaults (:data:`FAULTS`).
    severity : float, default=1.0
        The faults' severity: for the preprocessing faults the fraction of rows affected
        (1: every row after the onset goes through the faulty pipeline).
    suite : DriftSuite or None
        The suite as the monitor configures it (unfitted; fitted here on ``reference``);
        None: ``DriftSuite(seed=seed)``.
    seed : int, Generator or None
        Draws the affected rows, one child stream per fault.

    Returns
    -------
    Result
        Drill ``"caught"``: per fault a ``rows_to_alert`` finding (NaN and a warning when no
        window up to all of ``current`` alerts), its details the windows tried and the
        decision's evidence; and the ``control`` on the clean rows.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import DriftSuite
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(5, 1, size=(500, 2)), rng.normal(5, 1, size=(500, 2))
    >>> result = caught(ref, cur, faults=["unit_mismatch", "truncation"],
    ...                 suite=DriftSuite(multivariate=()))
    >>> [(f.feature, f.details["caught"]) for f in result.select(metric="rows_to_alert")]
    [('unit_mismatch', True), ('truncation', False)]
    """
    from shakeout.drift import DriftSuite

    severity = check_number("caught", "severity", severity, 0.0, 1.0, low_open=True)
    perturbations = _faults(faults)
    rngs = as_generator(seed, owner="caught").spawn(len(perturbations))
    suite = DriftSuite(seed=seed if isinstance(seed, int) else 0) if suite is None else suite
    suite.fit(reference)
    low, high = suite.policy.min_rows, len(current)
    findings = []
    clean: dict[int, bool] = {}

    def quiet_clean(n: int) -> bool:
        """Whether the first ``n`` clean rows leave the suite quiet (each ``n`` run once)."""
        if n not in clean:
            clean[n] = _decision(suite, _rows(current, n)).details["action"] in QUIET
        return clean[n]

    for fault, rng in zip(perturbations, rngs):
        faulty = fault.fit(reference).apply(current, severity, rng)
        decisions: dict[int, Finding] = {}

        def alerts(n: int, faulty: Any = faulty, decisions: dict = decisions) -> bool:
            decisions[n] = _decision(suite, _rows(faulty, n))
            return decisions[n].details["action"] not in QUIET and quiet_clean(n)

        n, tried = rows_to_alert(alerts, low, high)
        findings.append(_fault_finding(fault, n, tried, decisions.get(n), severity, high))
    findings.append(_control(suite, current, clean))
    manifest = Manifest.collect(seed=seed if isinstance(seed, int) else None, n_rows=high,
                                parameters={"severity": severity,
                                            "faults": [repr(p) for p in perturbations]})
    return Result(title="Would drift monitoring catch it", findings=tuple(findings),
                  manifest=manifest)
