"""Inline SVG charts: degradation curves with interval bands, ranked bars, time series with zones.

Plain SVG strings, no JavaScript and no fonts fetched, so a report opens offline anywhere.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from html import escape

from shakeout.report.result import Finding

WIDTH, HEIGHT = 320, 190
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 22, 34
CAPTION_CHARS = 50
"""Characters of an axis label or legend line that fit the chart's width (10 px text)."""
LINE = "#2563eb"
BAND = "#93c5fd"
ZONES = {"pass": "#dcfce7", "warn": "#ffedd5", "fail": "#fee2e2"}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.1e}"
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round ticks (steps of 1, 2 or 5 times a power of ten) covering ``[lo, hi]``.

    >>> nice_ticks(0.0592, 0.394)
    [0.0, 0.1, 0.2, 0.3, 0.4]
    >>> nice_ticks(0.875, 0.968)
    [0.86, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98]
    """
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / n
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    digits = max(0, -math.floor(math.log10(step)))
    return [round(i * step, digits + 1) for i in range(first, last + 1)]


def _tick_label(v: float, ticks: Sequence[float]) -> str:
    """A tick as its round number, with as many decimals as the step needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(v) or 1.0
    if abs(v) >= 1e4 or 0 < step < 1e-4:
        return f"{v:.1e}"
    return f"{v:.{max(0, -math.floor(math.log10(step)))}f}"


def _fit(text: str, chars: int) -> str:
    """Cut a label to ``chars`` characters, marking the cut with an ellipsis.

    >>> _fit("mean concave points", 12), _fit("age", 12)
    ('mean concav…', 'age')
    """
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _spaced(ticks: Sequence[tuple[float, str]], px, min_gap: float) -> list[tuple[float, str]]:
    """Keep ticks left to right whose labels do not overlap (``min_gap`` pixels apart)."""
    kept: list[tuple[float, str]] = []
    for v, label in ticks:
        if not kept or px(v) - px(kept[-1][0]) >= min_gap + 3 * (len(label) + len(kept[-1][1])):
            kept.append((v, label))
    return kept


class _Frame:
    """Maps data to pixels on round ticks and draws the axes."""

    def __init__(self, xlo: float, xhi: float, ylo: float, yhi: float):
        if xhi <= xlo:
            xhi = xlo + 1
        if yhi <= ylo:
            pad = abs(ylo) * 0.05 or 0.5
            ylo, yhi = ylo - pad, yhi + pad
        self.yticks = nice_ticks(ylo, yhi, 4)
        self.xlo, self.xhi = xlo, xhi
        self.ylo, self.yhi = self.yticks[0], self.yticks[-1]
        self.height = HEIGHT

    def x(self, v: float) -> float:
        return LEFT + (v - self.xlo) / (self.xhi - self.xlo) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return HEIGHT - BOTTOM - (v - self.ylo) / (self.yhi - self.ylo) * (HEIGHT - TOP - BOTTOM)

    def axes(self, title: str, xlabel: str, xticks: Sequence[tuple[float, str]],
             legend: Sequence[str] = ()) -> list[str]:
        """Title, grid, ticks, the x label (wrapped onto a second line when long) and legend
        lines under it; the chart grows by a line for each line past the first."""
        out = [_text(WIDTH / 2, 14, "t", title, 52)]
        for v in self.yticks:
            y = self.y(v)
            out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                       'class="g"/>')
            out.append(f'<text x="{LEFT - 4}" y="{y + 3:.1f}" class="yl">'
                       f'{_tick_label(v, self.yticks)}</text>')
        for v, label in _spaced(xticks, self.x, 4):
            x = min(self.x(v), WIDTH - 1 - 3 * len(label))  # the last label stays in sight
            out.append(_text(x, HEIGHT - BOTTOM + 13, "xl", label, 10))
        lines = _wrapped(xlabel) + list(legend)
        for i, line in enumerate(lines):
            out.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 4 + 12 * i, "xl", line,
                             CAPTION_CHARS))
        self.height = HEIGHT + 12 * (len(lines) - 1)
        return out


def _wrapped(text: str) -> list[str]:
    """An axis label in at most two lines that fit, the second cut if it must be.

    >>> _wrapped("l2 radius, input units (Gaussian noise, sigma=0.25)")
    ['l2 radius, input units (Gaussian noise,', 'sigma=0.25)']
    >>> _wrapped("severity")
    ['severity']
    """
    lines = textwrap.wrap(text, CAPTION_CHARS) or [""]
    return lines[:1] + ([" ".join(lines[1:])] if len(lines) > 1 else [])


def _text(x: float, y: float, cls: str, text: str, chars: int) -> str:
    """A label cut to ``chars`` characters; a cut label carries its full text as a tooltip."""
    shown = _fit(text, chars)
    tip = f"<title>{escape(text)}</title>" if shown != text else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}">{tip}{escape(shown)}</text>'


def _svg(parts: list[str], label: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """A chart that scales to its container's width (the viewBox keeps its proportions)."""
    body = "".join(parts)
    return (f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def _bounds(findings: Sequence[Finding]) -> tuple[float, float]:
    vals = [f.value for f in findings if math.isfinite(f.value)]
    vals += [v for f in findings if f.ci for v in f.ci if math.isfinite(v)]
    return (min(vals), max(vals)) if vals else (0.0, 1.0)


def is_empty(findings: Sequence[Finding]) -> bool:
    """Whether a chart of these findings would show nothing: every value zero, NaN or infinite.

    >>> is_empty([Finding(name="a", metric="m", value=0.0),
    ...           Finding(name="b", metric="m", value=float("nan"))])
    True
    """
    return all(not math.isfinite(f.value) or f.value == 0 for f in findings)


def curve(findings: Sequence[Finding], title: str, *, reference: str = "",
          weight: str = "") -> str:
    """A metric against severity, with its interval as a band.

    With a ``reference`` label, a dashed ``y = x`` line so labelled, both axes on one range
    of round ticks; with a ``weight`` (a ``details`` key holding a count), each point's area
    grows with its count, and the legend gives the range.

    >>> from shakeout.report.result import Finding
    >>> pts = [Finding(name=str(s), metric="accuracy", value=1 - s, ci=(0.9 - s, 1.0 - s / 2),
    ...                severity=s, unit="sigma", details={"rows": 10 ** (1 + 10 * s)})
    ...        for s in (0.0, 0.1, 0.2)]
    >>> curve(pts, "accuracy").startswith("<svg")
    True
    >>> svg = curve(pts, "accuracy", reference="perfect calibration", weight="rows")
    >>> "y = x: perfect calibration" in svg, "grows with rows: 10 to 1,000" in svg
    (True, True)
    """
    pts = sorted((f for f in findings if f.severity is not None), key=lambda f: f.severity)
    ylo, yhi = _bounds(pts)
    xlo, xhi = pts[0].severity, pts[-1].severity
    xticks = [(f.severity, _fmt(f.severity)) for f in pts]
    if reference:  # y = x: one range for both axes
        ticks = nice_ticks(min(xlo, ylo), max(xhi, yhi), 4)
        xlo, xhi, ylo, yhi = ticks[0], ticks[-1], ticks[0], ticks[-1]
        xticks = [(v, _tick_label(v, ticks)) for v in ticks]
    frame = _Frame(xlo, xhi, ylo, yhi)
    sizes = _sizes(pts, weight)
    legend = [f"dashed line y = x: {reference}"] if reference else []
    if weight:
        legend.append(f"point area grows with {weight}: {min(sizes):,.0f} to {max(sizes):,.0f}")
    parts = frame.axes(title, pts[0].unit or "severity", xticks, legend)
    if reference:
        a, b = max(frame.xlo, frame.ylo), min(frame.xhi, frame.yhi)
        parts.append(f'<line x1="{frame.x(a):.1f}" y1="{frame.y(a):.1f}" x2="{frame.x(b):.1f}" '
                     f'y2="{frame.y(b):.1f}" stroke="#6b7280" stroke-dasharray="4 3">'
                     f"<title>y = x: {escape(reference)}</title></line>")
    banded = [f for f in pts if f.ci and all(math.isfinite(v) for v in f.ci)]
    if len(banded) > 1:
        upper = [f"{frame.x(f.severity):.1f},{frame.y(f.ci[1]):.1f}" for f in banded]
        lower = [f"{frame.x(f.severity):.1f},{frame.y(f.ci[0]):.1f}" for f in reversed(banded)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{BAND}" '
                     'fill-opacity="0.45"/>')
    line = " ".join(f"{frame.x(f.severity):.1f},{frame.y(f.value):.1f}" for f in pts
                    if math.isfinite(f.value))
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    top = max(sizes, default=1.0) or 1.0
    for f, size in zip(pts, sizes):
        if math.isfinite(f.value):
            tip = f"{f.severity:g}: {f.value:.4g}" + (
                f" [{f.ci[0]:.4g}, {f.ci[1]:.4g}]" if f.ci else "") + (
                f"; {weight} {size:,.0f}" if weight else "")
            r = 1.5 + 4.5 * math.sqrt(size / top) if weight else 2.5
            parts.append(f'<circle cx="{frame.x(f.severity):.1f}" cy="{frame.y(f.value):.1f}" '
                         f'r="{r:.1f}" fill="{LINE}"><title>{escape(tip)}</title></circle>')
    return _svg(parts, title, height=frame.height)


def _sizes(pts: Sequence[Finding], weight: str) -> list[float]:
    """Each point's count from ``details[weight]`` (1 each without a weight)."""
    if not weight:
        return [1.0] * len(pts)
    return [float(f.details.get(weight) or 0.0) for f in pts]


def bars(findings: Sequence[Finding], title: str, limit: int = 15) -> str:
    """Features ranked by value, with interval whiskers (largest first), on round ticks.

    Long names are cut to fit, with the full name as a tooltip.
    """
    rows = sorted(findings, key=lambda f: -f.value)[:limit]
    width, label_w = WIDTH + 160, 150
    height = TOP + 16 * len(rows) + 30
    lo, hi = _bounds(rows)
    ticks = nice_ticks(min(lo, 0.0), max(hi, 0.0), 4)
    lo, hi = ticks[0], ticks[-1]
    span = (hi - lo) or 1.0

    def px(v: float) -> float:
        return label_w + (v - lo) / span * (width - label_w - RIGHT)

    parts = [_text(width / 2, 14, "t", title, 70)]
    for v in ticks:
        parts.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{TOP}" '
                     f'y2="{height - 20}" class="g"/>')
        parts.append(f'<text x="{px(v):.1f}" y="{height - 6}" class="xl">'
                     f'{_tick_label(v, ticks)}</text>')
    for i, f in enumerate(rows):
        y = TOP + 16 * i
        name = f.feature or f.name
        parts.append(_text(label_w - 4, y + 11, "yl", name, 24))
        parts.append(f'<rect x="{px(min(0.0, f.value)):.1f}" y="{y + 2}" height="11" '
                     f'width="{abs(px(f.value) - px(0.0)):.1f}" fill="{BAND}">'
                     f'<title>{escape(f"{name}: {f.value:.4g}")}</title></rect>')
        if f.ci and all(math.isfinite(v) for v in f.ci):
            parts.append(f'<line x1="{px(f.ci[0]):.1f}" x2="{px(f.ci[1]):.1f}" y1="{y + 7.5}" '
                         f'y2="{y + 7.5}" stroke="{LINE}" stroke-width="1.5"/>')
    return _svg(parts, title, width, height)


def _window_label(window: str | None) -> str:
    """A short axis label: an ISO date, or the first row of a row window.

    >>> _window_label("2024-03-04T00:00:00"), _window_label("rows 000005000-000009999")
    ('2024-03-04', '5000')
    """
    text = str(window)
    rows = re.search(r"rows (\d+)-\d+$", text)
    return str(int(rows.group(1))) if rows else text[:10]


def timeline(findings: Sequence[Finding], title: str) -> str:
    """A statistic per window, over green / orange / red zones from ``details["bands"]``."""
    pts = list(findings)
    bands = dict(pts[0].details.get("bands") or {})
    ylo, yhi = _bounds(pts)
    ylo = min(ylo, 0.0)
    if bands:
        yhi = max(yhi, max(float(v) for v in bands.values()) * 1.1)
    frame = _Frame(0, max(len(pts) - 1, 1), ylo, yhi)
    labels = [_window_label(f.window) for f in pts]
    fits = max(1, (WIDTH - LEFT - RIGHT) // (6 * max(map(len, labels)) + 10))  # ~6 px a char
    ticks = list(enumerate(labels))[::math.ceil(len(pts) / fits)]
    parts: list[str] = []
    ylo, yhi = frame.ylo, frame.yhi  # the round ticks' range
    if bands:
        edges = [("pass", ylo, float(bands.get("warn", yhi)))]
        if "warn" in bands:
            edges.append(("warn", float(bands["warn"]), float(bands.get("fail", yhi))))
        if "fail" in bands:
            edges.append(("fail", float(bands["fail"]), yhi))
        for zone, a, b in edges:
            top, bottom = frame.y(min(b, yhi)), frame.y(max(a, ylo))
            parts.append(f'<rect x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
                         f'height="{max(bottom - top, 0):.1f}" fill="{ZONES[zone]}"/>')
    parts += frame.axes(title, "window", ticks)
    line = " ".join(f"{frame.x(i):.1f},{frame.y(f.value):.1f}" for i, f in enumerate(pts)
                    if math.isfinite(f.value))
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for i, f in enumerate(pts):
        if math.isfinite(f.value):
            colour = {"fail": "#dc2626", "warn": "#ea580c"}.get(f.status, LINE)
            parts.append(f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(f.value):.1f}" r="3" '
                         f'fill="{colour}"><title>{escape(f"{f.window}: {f.value:.4g}")}'
                         '</title></circle>')
    return _svg(parts, title, height=frame.height)
