"""When and where drift began: the first window of each statistic's current alarm."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import isfinite

from shakeout.report.findings import finding_name
from shakeout.report.result import Finding


def onset(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per statistic whose latest window is not a pass: where its alarm began.

    Findings sharing (drill, group, metric, feature) and carrying a ``window`` form a time
    series (windows sort as ISO dates or zero-padded row ranges). The onset is the first
    window of the unbroken run of warn/fail windows that reaches the latest window;
    ``details["decisive_window"]`` is the first window of that run whose status is
    ``fail`` (None while the alarm has only warned).

    Onsets are ordered by the strength of the latest evidence, not by date (an early,
    weak warning must not head the table ahead of the real cause): failures before
    warnings, then the smallest p-value (a distance's chance p-value), then the largest
    value relative to its failure band.

    Examples
    --------
    >>> fs = [Finding(name=f"psi@{w}", metric="psi", value=v, status=s, drill="drift",
    ...               group="psi", feature="age", window=w)
    ...       for w, v, s in [("2024-01-01", 0.02, "pass"), ("2024-01-02", 0.15, "warn"),
    ...                       ("2024-01-03", 0.3, "fail")]]
    >>> [(f.feature, f.details["first_window"], f.details["decisive_window"]) for f in onset(fs)]
    [('age', '2024-01-02', '2024-01-03')]
    """
    series: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.window is not None and f.group not in ("decision", "onset"):
            series[(f.drill, f.group, f.metric, f.feature)].append(f)
    out = []
    for (drill, group, metric, feature), points in series.items():
        points = sorted(points, key=lambda f: f.window)
        if points[-1].status not in ("warn", "fail"):
            continue
        first = len(points) - 1
        while first > 0 and points[first - 1].status in ("warn", "fail"):
            first -= 1
        run = points[first:]
        decisive = next((f.window for f in run if f.status == "fail"), None)
        where = f" on {feature!r}" if feature else ""
        since = "in the latest window" if len(run) == 1 else f"for {len(run)} windows"
        verdict = (f"decisive since {decisive}" if decisive is not None
                   else "not decisive yet (warnings only)")
        latest = points[-1]
        out.append(Finding(
            name=finding_name(drill, "onset", group, metric, feature),
            metric="onset", value=float(len(run)), status=latest.status, drill=drill,
            group="onset", feature=feature,
            message=(f"{metric.upper()}{where} ({group}) left the green zone in window "
                     f"{run[0].window} and has stayed out {since}, {verdict}; latest value "
                     f"{latest.value:.4g}."),
            details={"first_window": run[0].window, "latest_window": latest.window,
                     "decisive_window": decisive, "windows": len(run),
                     "series_group": group, "series_metric": metric,
                     "first_value": run[0].value, "latest_value": latest.value,
                     "latest_p_value": _p_value(latest),
                     "relative_to_band": _relative(latest)}))
    return sorted(out, key=_strength)


def _p_value(f: Finding) -> float | None:
    """A test's p-value, else a distance's chance p-value, else None."""
    p = f.p_value if f.p_value is not None else f.details.get("chance_p_value")
    return None if p is None else float(p)


def _relative(f: Finding) -> float | None:
    """The value as a multiple of its failure band (None without a band)."""
    band = (f.details.get("bands") or {}).get("fail")
    if not band or not isfinite(f.value):
        return None
    return float(f.value / band)


def _strength(f: Finding) -> tuple:
    """Sort key, strongest evidence first: fail before warn, small p, large value/band."""
    p = f.details["latest_p_value"]
    p = 1.0 if p is None else p
    relative = f.details["relative_to_band"]
    return (f.status != "fail", p, -(relative if relative is not None else 0.0),
            f.details["first_window"])
