"""Decisions that do not flap, and the latest window that gates judge.

The rule: a monitor's decision escalates as soon as one window calls for more, and steps
down only after ``deescalate_after`` consecutive windows (default 2) each call for less
than the decision in force. A weekly monitor that reads Retrain, Investigate, Retrain
then says Retrain three times, the second one held: one calm week after an alarm is not
yet evidence that the alarm is over. Each window's decision finding records the rule in
``details["hysteresis"]`` (the window's own action, whether the rule held the decision,
the calmer windows so far) and says so in its message when it held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from math import isfinite

from shakeout.drift.decision import ACTIONS
from shakeout.report.result import Finding, Result

DEESCALATE_AFTER = 2
"""Consecutive calmer windows before a monitor's decision steps down."""


def _raw(f: Finding) -> float:
    """The level a window's own evidence called for, before the rule."""
    return float(f.details.get("hysteresis", {}).get("raw_level", f.value))


def hold(decision: Finding, previous: Sequence[Finding], *,
         deescalate_after: int = DEESCALATE_AFTER) -> Finding:
    """``decision`` for one window under the rule, given the earlier windows' decisions.

    ``previous`` are the decisions of the windows before, in time order, as this function
    returned them. A window without a decision (too few rows) is left as it is and does
    not count as calmer.

    Examples
    --------
    >>> def window(level):
    ...     return Finding(name="drift/decision", metric="decision", value=float(level),
    ...                    drill="drift", group="decision", message="...",
    ...                    details={"action": ACTIONS[level]})
    >>> held = []
    >>> for level in (2, 1, 2, 1, 0):
    ...     held.append(hold(window(level), held))
    >>> [(f.details["action"], f.details["hysteresis"]["held"]) for f in held]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('retrain now', False), ('retrain now', True), ('retrain now', False),
     ('retrain now', True), ('investigate first', False)]
    """
    raw = decision.value
    if not isfinite(raw):
        return decision
    decided = [f for f in previous if isfinite(f.value)]
    in_force = decided[-1].value if decided else raw
    calmer = 0
    if raw < in_force:
        calmer = 1
        for f in reversed(decided):
            if _raw(f) >= in_force:
                break
            calmer += 1
    record = {"raw_level": raw, "raw_action": decision.details.get("action"),
              "deescalate_after": deescalate_after, "calmer_windows": calmer}
    if raw >= in_force:
        return replace(decision, details={**decision.details,
                                          "hysteresis": record | {"held": False}})
    was = ACTIONS[int(in_force)]
    if calmer >= deescalate_after:
        level = max([raw, *(_raw(f) for f in decided[len(decided) - calmer + 1:])])
        note = f"Steps down from {was!r} after {calmer} consecutive calmer windows."
        return _at(decision, level, record | {"held": False}, note)
    note = (f"Held at {was!r}: a decision steps down only after {deescalate_after} "
            f"consecutive calmer windows ({calmer} so far).")
    return _at(decision, in_force, record | {"held": True}, note)


def _at(decision: Finding, level: float, record: dict, note: str) -> Finding:
    """``decision`` set to ``level``: the action in force, then the window's own verdict
    and the rule's note."""
    action = ACTIONS[int(level)]
    message = decision.message.rstrip() + " " + note
    if level != decision.value:
        message = f"{action.capitalize()} (no-flapping rule); this window alone says: {message}"
    return replace(decision, value=float(level), status=("pass", "warn", "fail")[int(level)],
                   message=message,
                   details={**decision.details, "action": action, "hysteresis": record})


def latest_decision(result: Result) -> Finding | None:
    """The decision of a monitor's latest window (windows sort as ISO dates or zero-padded
    row ranges), or None when no window has one.

    >>> fs = tuple(Finding(name=f"drift/decision@{w}", metric="decision", value=v,
    ...                    drill="drift", group="decision", window=w)
    ...            for w, v in (("2024-01-08", 0.0), ("2024-01-01", 2.0)))
    >>> latest_decision(Result(title="t", findings=fs)).name
    'drift/decision@2024-01-08'
    """
    decisions = [f for f in result.findings if f.metric == "decision" and f.window]
    return max(decisions, key=lambda f: f.window) if decisions else None


def latest_window(result: Result) -> Result | None:
    """The part of a monitor's Result that gates judge: the latest window's findings (and
    those without a window, such as onsets). None when no window has a decision.

    An old alarm that has cleared does not fail the run; an alarm in force does. This is
    the monitor's gate scope: the CLI and the drill registry call it, and nothing else
    decides which windows a gate sees.

    >>> fs = tuple(Finding(name="drift/decision", metric="decision", value=v, drill="drift",
    ...                    group="decision", window=w) for w, v in (("w1", 2.0), ("w2", 0.0)))
    >>> [f.window for f in latest_window(Result(title="t", findings=fs)).findings]
    ['w2']
    """
    latest = latest_decision(result)
    if latest is None:
        return None
    return replace(result, findings=tuple(f for f in result.findings
                                          if f.window in (None, latest.window)))
