"""When and where drift began: the first window of each statistic's current alarm."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from shakeout.report.result import Finding


def onset(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per statistic whose latest window is not a pass: where its alarm began.

    Findings sharing (drill, group, metric, feature) and carrying a ``window`` form a time
    series (windows sort as ISO dates or zero-padded row ranges). The onset is the first
    window of the unbroken run of warn/fail windows that reaches the latest window.

    Examples
    --------
    >>> fs = [Finding(name=f"psi@{w}", metric="psi", value=v, status=s, drill="drift",
    ...               group="psi", feature="age", window=w)
    ...       for w, v, s in [("2024-01-01", 0.02, "pass"), ("2024-01-02", 0.3, "fail"),
    ...                       ("2024-01-03", 0.15, "warn")]]
    >>> [(f.feature, f.details["first_window"], f.value) for f in onset(fs)]
    [('age', '2024-01-02', 2.0)]
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
        where = f" on {feature!r}" if feature else ""
        since = "in the latest window" if len(run) == 1 else f"for {len(run)} windows"
        out.append(Finding(
            name=f"{drill}/onset/{group}/{metric}" + (f"/{feature}" if feature else ""),
            metric="onset", value=float(len(run)), status=points[-1].status, drill=drill,
            group="onset", feature=feature,
            message=(f"{metric.upper()}{where} ({group}) left the green zone in window "
                     f"{run[0].window} and has stayed out {since}; latest value "
                     f"{points[-1].value:.4g}."),
            details={"first_window": run[0].window, "latest_window": points[-1].window,
                     "windows": len(run), "series_group": group, "series_metric": metric,
                     "first_value": run[0].value, "latest_value": points[-1].value}))
    return sorted(out, key=lambda f: (f.details["first_window"], -f.value))
