"""The diagnosis's evidence beside the change points: events lined up with steps, features
that stepped together, the concentration of a change in few sources, the golden replay."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Result

DRILL = "diagnose"
LEVEL_GROUPS = ("decision",)
"""Series of a level (the decision 0/1/2): tested, but no part of the shape vote or the
alignment, since a level jumps even when the drift beneath it is gradual."""


def parse_times(values: pd.Series) -> pd.Series:
    """Times in UTC (naive ones read as UTC), NaT where a value does not parse."""
    text = values.astype("string").str.strip()
    return pd.to_datetime(text, errors="coerce", utc=True, format="mixed")


def read_events(events: Any, *, time_column: str = "time",
                label_column: str = "label") -> pd.DataFrame:
    """The event log as a frame of ``time`` (UTC) and ``label``, in time order.

    ``events`` is a csv or parquet file, or a DataFrame, with a time column and a label
    column (a deploy, a dependency bump, a schema change, a hardware counter). A time that
    does not parse is an error naming the rows.

    >>> log = pd.DataFrame({"time": ["2024-01-03T10:00", "2024-01-01"],
    ...                     "label": ["deploy v2", "bump numpy"]})
    >>> read_events(log)["label"].tolist()
    ['bump numpy', 'deploy v2']
    >>> read_events(log.assign(time=["2024-01-03", "yesterday"]))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: events: the time column 'time' does not parse in data row 2 \
('yesterday'); write times as ISO 8601, e.g. 2024-01-03T10:00:00.
    """
    frame, name = _events_frame(events)
    missing = [c for c in (time_column, label_column) if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name}: no column {missing[0]!r} (columns: "
                              f"{', '.join(map(str, frame.columns))}); name the time and label "
                              "columns with --event-time and --event-label.")
    times = parse_times(frame[time_column])
    bad = np.flatnonzero(times.isna().to_numpy())
    if bad.size:
        rows = ", ".join(str(i + 1) for i in bad[:10]) + (" ..." if bad.size > 10 else "")
        shown = ", ".join(repr(str(v)) for v in frame[time_column].iloc[bad[:3]])
        raise ValidationError(f"{name}: the time column {time_column!r} does not parse in data "
                              f"row{'s' if bad.size > 1 else ''} {rows} ({shown}); write times "
                              "as ISO 8601, e.g. 2024-01-03T10:00:00.")
    out = pd.DataFrame({"time": times.to_numpy(), "label": frame[label_column].astype(str)})
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def _events_frame(events: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(events, pd.DataFrame):
        return events.reset_index(drop=True), "events"
    path = Path(events)
    if not path.is_file():
        raise ValidationError(f"events: no file {str(path)!r}; give a csv or parquet event log.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str), path.name
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path), path.name
    raise ValidationError(f"events: {path.name} is not a csv or parquet file.")


def steps(changes: list[Finding]) -> list[Finding]:
    return [f for f in changes if f.details["shape"] == "step"
            and f.details["series_group"] not in LEVEL_GROUPS]


def alignment(events: pd.DataFrame | None, times: pd.Series | None, order: list[str],
               steps: list[Finding], tolerance: int) -> list[Finding]:
    """One finding per event: the significant steps within ``tolerance`` windows of it."""
    if events is None or times is None:
        return []
    at = np.searchsorted(times.to_numpy(), events["time"].to_numpy(), side="right") - 1
    out = []
    for i, (event, position) in enumerate(zip(events.itertuples(index=False), at, strict=True)):
        if position < 0:
            continue  # before the first window: nothing to line up with
        near = [f for f in steps if abs(f.details["break_position"] - position) <= tolerance]
        p = min((f.p_value for f in near), default=None)
        said = (f"{len(near)} step{'s' if len(near) != 1 else ''} within {tolerance} window(s): "
                + ", ".join(sorted({f.feature or f.details['series_metric'] for f in near}))
                if near else "no significant step near it")
        out.append(Finding(
            name=finding_name(DRILL, "alignment", str(i), at=str(event.label)),
            metric="aligned_steps", value=len(near), p_value=p, drill=DRILL, group="alignment",
            status="warn" if near else "pass",
            message=f"Event {event.label!r} at {event.time:%Y-%m-%d %H:%M} (window "
                    f"{order[position]}): {said}.",
            details={"event": str(event.label), "time": event.time.isoformat(),
                     "window": order[position], "series": [f.name for f in near]}))
    return out


def co_movement(steps: list[Finding]) -> list[Finding]:
    """Per break window, the features whose series stepped there."""
    by_window: dict[str, set[str]] = defaultdict(set)
    p_min: dict[str, float] = {}
    for f in steps:
        w = f.details["break_window"]
        by_window[w].add(f.feature or f.details["series_group"])
        p_min[w] = min(p_min.get(w, 1.0), f.p_value)
    return [Finding(name=finding_name(DRILL, "co_movement", at=w), metric="features_stepped",
                    value=len(names), p_value=p_min[w], drill=DRILL, group="co_movement",
                    status="info",
                    message=f"{len(names)} stepped together at window {w}: "
                            f"{', '.join(sorted(names))}.",
                    details={"window": w, "features": sorted(names)})
            for w, names in sorted(by_window.items())]


def _counts(f: Finding) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    d = f.details
    names = d.get("categories") or d.get("bins")
    ref, cur = d.get("reference_counts"), d.get("current_counts")
    if not (isinstance(names, list) and ref and cur and len(names) == len(ref) == len(cur)):
        return None
    return [str(n) for n in names], np.asarray(ref, float), np.asarray(cur, float)


def concentration(findings: list[Finding] | None, source: str, windows: set[str],
                   alpha: float, max_sources: int) -> Finding | None:
    """Whether the change in ``source``'s mix sits in few of its categories.

    The reference counts against the current counts pooled over ``windows`` make a 2 x K
    table; its chi-square test (scipy's ``chi2_contingency``) says whether the mix changed.
    The categories that gained most share are set aside one at a time (up to
    ``max_sources``): when the rest keep their reference proportions (their own chi-square
    test does not reject), the change sits in those few.
    """
    from scipy.stats import chi2_contingency

    rows = [f for f in findings or () if f.feature == source and f.window in windows]
    rows = sorted(rows, key=lambda f: f.group != "chi2")  # chi2's counts first, then PSI's
    counted = [(f.window, c) for f in rows if (c := _counts(f)) is not None]
    if not counted:
        return None
    names = counted[0][1][0]
    same = {w: c for w, c in reversed(counted) if c[0] == names}
    ref = same[next(iter(same))][1]
    cur = sum(c[2] for c in same.values())
    keep = (ref + cur) > 0
    names = [n for n, k in zip(names, keep, strict=True) if k]
    ref, cur = ref[keep], cur[keep]
    if len(names) < 2:
        return None
    p_all = float(chi2_contingency(np.vstack([ref, cur]))[1])
    gain = cur / cur.sum() - ref / ref.sum()
    order = np.argsort(-gain, kind="stable")
    found, p_rest = 0, None
    for k in range(1, max_sources + 1):
        rest = order[k:]
        if rest.size < 2 or p_all > alpha:
            break
        p_rest = float(chi2_contingency(np.vstack([ref[rest], cur[rest]]))[1])
        if p_rest > alpha:
            found = k
            break
    top = [names[i] for i in order[:max(found, 1)]]
    shares = {names[i]: [float(ref[i] / ref.sum()), float(cur[i] / cur.sum())]
              for i in order[:max(found, 1)]}
    moved = ", ".join(f"{n!r} {a:.1%} -> {b:.1%}" for n, (a, b) in shares.items())
    if found:
        words = (f"the change in {source!r} sits in {found} of {len(names)} sources ({moved}); "
                 f"the others keep their reference mix (p={p_rest:.3g})")
    elif p_all <= alpha:
        words = (f"the mix of {source!r} changed (p={p_all:.3g}) across more than "
                 f"{max_sources} of {len(names)} sources; largest gain {moved}")
    else:
        words = f"the mix of {source!r} did not change (p={p_all:.3g})"
    return Finding(name=finding_name(DRILL, "concentration", source), metric="sources_changed",
                   value=found, p_value=p_all, drill=DRILL, group="concentration",
                   feature=source, status="warn" if found else "pass", message=words + ".",
                   details={"sources": top if found else [], "shares": shares,
                            "p_rest": p_rest, "categories": len(names),
                            "windows": sorted(same), "test": "chi-square, 2 x K"})


def golden_finding(replayed: Result) -> Finding:
    """The replay's verdict: failing when any of its checks fails, in its own first words."""
    failed = [f for f in replayed.findings if f.status == "fail"]
    first = next((f.message for f in failed if f.metric == "first_divergence"),
                 failed[0].message if failed else "")
    words = (f"The golden replay fails ({len(failed)} check(s) beyond tolerance)"
             + (f": {first.rstrip('.')}" if first else "") if failed else
             "The golden replay passes: today's model and preprocessing answer the fixed "
             "inputs as they did when the golden set was saved")
    return Finding(name=finding_name(DRILL, "golden"), metric="golden_failures",
                   value=len(failed), drill=DRILL, group="golden",
                   status="fail" if failed else "pass", message=words + ".",
                   details={"failed": [f.name for f in failed[:20]],
                            "checks": len(replayed.findings), "title": replayed.title})


__all__ = ["DRILL", "LEVEL_GROUPS", "alignment", "co_movement", "concentration", "golden_finding",
           "parse_times", "read_events", "steps"]
