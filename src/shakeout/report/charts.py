"""Inline SVG charts: degradation curves with interval bands, ranked bars, time series with zones.

Plain SVG strings, no JavaScript and no fonts fetched, so a report opens offline anywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from shakeout.report.result import Finding

WIDTH, HEIGHT = 320, 190
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 22, 34
LINE = "#2563eb"
BAND = "#93c5fd"
ZONES = {"pass": "#dcfce7", "warn": "#ffedd5", "fail": "#fee2e2"}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.1e}"
    return f"{v:.3g}"


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


class _Frame:
    """Maps data to pixels and draws the axes."""

    def __init__(self, xlo: float, xhi: float, ylo: float, yhi: float):
        if xhi <= xlo:
            xhi = xlo + 1
        if yhi <= ylo:
            pad = abs(ylo) * 0.05 or 0.5
            ylo, yhi = ylo - pad, yhi + pad
        self.xlo, self.xhi, self.ylo, self.yhi = xlo, xhi, ylo, yhi

    def x(self, v: float) -> float:
        return LEFT + (v - self.xlo) / (self.xhi - self.xlo) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return HEIGHT - BOTTOM - (v - self.ylo) / (self.yhi - self.ylo) * (HEIGHT - TOP - BOTTOM)

    def axes(self, title: str, xlabel: str, xticks: Sequence[tuple[float, str]]) -> list[str]:
        out = [f'<text x="{WIDTH / 2}" y="14" class="t">{escape(title)}</text>']
        for v in _ticks(self.ylo, self.yhi):
            y = self.y(v)
            out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
            out.append(f'<text x="{LEFT - 4}" y="{y + 3:.1f}" class="yl">{_fmt(v)}</text>')
        for v, label in xticks:
            out.append(f'<text x="{self.x(v):.1f}" y="{HEIGHT - BOTTOM + 13}" class="xl">'
                       f'{escape(label)}</text>')
        out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 4}" class="xl">'
                   f'{escape(xlabel)}</text>')
        return out


def _svg(parts: list[str], label: str) -> str:
    body = "".join(parts)
    return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def _bounds(findings: Sequence[Finding]) -> tuple[float, float]:
    vals = [f.value for f in findings if math.isfinite(f.value)]
    vals += [v for f in findings if f.ci for v in f.ci if math.isfinite(v)]
    return (min(vals), max(vals)) if vals else (0.0, 1.0)


def curve(findings: Sequence[Finding], title: str) -> str:
    """A metric against severity, with its interval as a band.

    >>> from shakeout.report.result import Finding
    >>> pts = [Finding(name=str(s), metric="accuracy", value=1 - s, ci=(0.9 - s, 1.0 - s / 2),
    ...                severity=s, unit="sigma") for s in (0.0, 0.1, 0.2)]
    >>> curve(pts, "accuracy").startswith("<svg")
    True
    """
    pts = sorted((f for f in findings if f.severity is not None), key=lambda f: f.severity)
    ylo, yhi = _bounds(pts)
    frame = _Frame(pts[0].severity, pts[-1].severity, ylo, yhi)
    parts = frame.axes(title, pts[0].unit or "severity",
                       [(f.severity, _fmt(f.severity)) for f in pts][:8])
    banded = [f for f in pts if f.ci and all(math.isfinite(v) for v in f.ci)]
    if len(banded) > 1:
        upper = [f"{frame.x(f.severity):.1f},{frame.y(f.ci[1]):.1f}" for f in banded]
        lower = [f"{frame.x(f.severity):.1f},{frame.y(f.ci[0]):.1f}" for f in reversed(banded)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{BAND}" '
                     'fill-opacity="0.45"/>')
    line = " ".join(f"{frame.x(f.severity):.1f},{frame.y(f.value):.1f}" for f in pts
                    if math.isfinite(f.value))
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for f in pts:
        if math.isfinite(f.value):
            tip = f"{f.severity:g}: {f.value:.4g}" + (
                f" [{f.ci[0]:.4g}, {f.ci[1]:.4g}]" if f.ci else "")
            parts.append(f'<circle cx="{frame.x(f.severity):.1f}" cy="{frame.y(f.value):.1f}" '
                         f'r="2.5" fill="{LINE}"><title>{escape(tip)}</title></circle>')
    return _svg(parts, title)


def bars(findings: Sequence[Finding], title: str, limit: int = 15) -> str:
    """Features ranked by value, with interval whiskers (largest first)."""
    rows = sorted(findings, key=lambda f: -f.value)[:limit]
    height = TOP + 16 * len(rows) + 24
    lo, hi = _bounds(rows)
    lo = min(lo, 0.0)
    label_w = 150
    span = (hi - lo) or 1.0

    def px(v: float) -> float:
        return label_w + (v - lo) / span * (WIDTH + 160 - label_w - RIGHT)

    parts = [f'<text x="{(WIDTH + 160) / 2}" y="14" class="t">{escape(title)}</text>']
    for i, f in enumerate(rows):
        y = TOP + 16 * i
        name = (f.feature or f.name)[:24]
        parts.append(f'<text x="{label_w - 4}" y="{y + 11}" class="yl">{escape(name)}</text>')
        parts.append(f'<rect x="{px(min(0.0, f.value)):.1f}" y="{y + 2}" height="11" '
                     f'width="{abs(px(f.value) - px(0.0)):.1f}" fill="{BAND}">'
                     f'<title>{escape(f"{name}: {f.value:.4g}")}</title></rect>')
        if f.ci and all(math.isfinite(v) for v in f.ci):
            parts.append(f'<line x1="{px(f.ci[0]):.1f}" x2="{px(f.ci[1]):.1f}" y1="{y + 7.5}" '
                         f'y2="{y + 7.5}" stroke="{LINE}" stroke-width="1.5"/>')
    parts.append(f'<text x="{px(lo):.1f}" y="{height - 6}" class="xl">{_fmt(lo)}</text>')
    parts.append(f'<text x="{px(hi):.1f}" y="{height - 6}" class="xl">{_fmt(hi)}</text>')
    body = "".join(parts)
    return (f'<svg viewBox="0 0 {WIDTH + 160} {height}" width="{WIDTH + 160}" height="{height}" '
            f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')


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
    return _svg(parts, title)
