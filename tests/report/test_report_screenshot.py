"""The page in a real browser: headless Chromium at desktop and phone width (skipped without one).

The report holds no script; the test adds one to a copy of the page to read the laid-out
height and width back through ``--dump-dom``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess

import pytest
from test_report_readable import _onsets, stress_findings

from shakeout.report import Finding, Result, render

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH")

PROBE = ('<script>window.addEventListener("load", () => {const e = document.documentElement;'
         'const p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify('
         '{height: e.scrollHeight, scroll: e.scrollWidth, client: e.clientWidth}); '
         'document.body.appendChild(p);});</script>')
MAX_HEIGHT_1400 = 4500
"""Pixels at 1400 px wide for the result below: a summary, a few rows per section, the charts
of the leading metric; everything else folded (about 3,800 px; every row in sight made
about 6,400 px)."""


def _browser(*args: str) -> str:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def _layout(html_path, width: int) -> dict:
    probe = html_path.with_name("probe.html")
    probe.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    dom = _browser(f"--window-size={width},2000", "--dump-dom", probe.as_uri())
    return json.loads(re.search(r'<pre id="probe">([^<]*)</pre>', dom).group(1))


def _png_width(path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]


def multi_drill() -> Result:
    """A stress curve for two models, attacks along a budget grid, a drifting monitor."""
    attacks = [Finding(name=f"cnn/attack/{a}/robust_accuracy@{e:g}", metric="robust_accuracy",
                       value=v * k, ci=(max(v * k - 0.04, 0.0), min(v * k + 0.04, 1.0)),
                       drill="attack", subject="digits CNN", group=a, severity=e,
                       unit="linf in input space")
               for a, k in (("fgsm-linf", 1.0), ("apgd-ce-linf", 0.9), ("ensemble", 0.85))
               for e, v in ((0.03, 0.94), (0.1, 0.47), (0.3, 0.01))]
    windows = [f"2026-0{m}-0{d}" for m in (1, 2) for d in (1, 8)]
    drift = [Finding(name=f"lr/drift/psi/{feat}@{w}", metric="psi", value=v, drill="drift",
                     subject="weekly LR", group="psi", feature=feat, window=w,
                     status="fail" if v > 0.25 else ("warn" if v > 0.1 else "pass"),
                     details={"bands": {"warn": 0.1, "fail": 0.25}})
             for feat, grow in (("a rather long feature name from a warehouse", 0.1),
                                ("x1", 0.0), ("x2", 0.0), ("x3", 0.0))
             for i, w in enumerate(windows) for v in [0.01 + grow * i]]
    corruptions = [Finding(name=f"gbm/stress/c{i}/{m}_drop@{s}", metric=f"{m}_drop", value=0.1,
                           p_value=0.01, status="warn", drill="stress",
                           subject="breast-cancer GBM", group=f"corruption {i}", severity=s)
                   for i in range(12) for m in ("accuracy", "log_loss") for s in (1, 2, 3)]
    return Result(title="screenshot", findings=tuple(
        stress_findings() + stress_findings("breast-cancer GBM") + corruptions + attacks + drift
        + _onsets()))


def test_the_report_reads_at_desktop_and_phone_width(tmp_path):
    html = render(multi_drill(), tmp_path)["html"]
    for width in (1400, 390):
        png = tmp_path / f"page-{width}.png"
        _browser(f"--window-size={width},2400", f"--screenshot={png}", html.as_uri())
        assert png.exists() and _png_width(png) == width
    desktop = _layout(html, 1400)
    assert 1000 < desktop["height"] < MAX_HEIGHT_1400, desktop
    phone = _layout(html, 390)  # Chromium lays out at least ~500 px wide even when asked less
    assert phone["scroll"] <= phone["client"], f"horizontal overflow on a phone: {phone}"
