"""Renderers: four files written atomically, charts for each kind of finding, gates everywhere."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from shakeout.report import Finding, Gate, GateCondition, Result, render

FILES = {"html": "report.html", "json": "results.json", "md": "summary.md",
         "junit": "junit.xml"}


def curve_findings() -> list[Finding]:
    return [Finding(name=f"stress/noise/accuracy@{s:g}", metric="accuracy", value=0.95 - s / 2,
                    ci=(0.9 - s / 2, 0.99 - s / 2), drill="stress", group="noise", severity=s,
                    unit="sigma (x feature std)") for s in (0.0, 0.1, 0.2, 0.5)]


def feature_findings() -> list[Finding]:
    return [Finding(name=f"stress/sensitivity/{f}", metric="feature_sensitivity", value=v,
                    ci=(v - 0.01, v + 0.01), drill="stress", group="feature_sensitivity",
                    feature=f) for f, v in (("age", 0.08), ("income", 0.02), ("zip", 0.05))]


def window_findings() -> list[Finding]:
    bands = {"warn": 0.1, "fail": 0.25}
    return [Finding(name=f"monitor/psi/{w}", metric="psi", value=v, drill="monitor", group="psi",
                    feature="age", window=w, status=s, details={"bands": bands})
            for w, v, s in (("2024-01", 0.02, "pass"), ("2024-02", 0.15, "warn"),
                            ("2024-03", 0.4, "fail"))]


def drop_findings() -> list[Finding]:
    return [Finding(name="stress/noise/accuracy_drop@0.1", metric="accuracy_drop", value=0.01,
                    ci=(0.0, 0.03), p_value=0.2, status="pass", drill="stress", group="noise",
                    severity=0.1),
            Finding(name="stress/noise/accuracy_drop@0.5", metric="accuracy_drop", value=0.25,
                    ci=(0.2, 0.3), p_value=1e-6, status="fail", drill="stress", group="noise",
                    severity=0.5, message="significant large degradation"),
            Finding(name="stress/noise/ece_drop@0.5", metric="ece_drop", value=0.05,
                    ci=(0.01, 0.09), p_value=0.01, status="warn", drill="stress", group="noise",
                    severity=0.5)]


def _result(*groups: list[Finding]) -> Result:
    return Result(title="Stress test of <Model> & co", findings=tuple(f for g in groups for f in g))


GATE = Gate(conditions=[
    GateCondition(metric="accuracy_drop", group="noise", severity=0.1, max=0.05),   # passes
    GateCondition(metric="accuracy_drop", group="noise", severity=0.5, max=0.05),   # fails
    GateCondition(metric="accuracy", group="typo", min=0.5),                       # matches none
])


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", html, flags=re.S)


def test_render_writes_four_files_and_nothing_else(tmp_path):
    out = tmp_path / "deep" / "report"
    paths = render(_result(curve_findings()), out)
    assert {k: p.name for k, p in paths.items()} == FILES
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())  # no temp files left
    data = json.loads((out / "results.json").read_text())
    assert data["schema_version"] == "1.1" and "gate" not in data


def test_render_is_atomic_when_a_renderer_fails(tmp_path, monkeypatch):
    out = tmp_path / "report"
    render(_result(curve_findings()), out)
    before = {name: (out / name).read_text() for name in FILES.values()}

    def broken(result, gate=None):
        raise RuntimeError("renderer crashed")

    # the package exports the function render, so patch the module through sys.modules
    monkeypatch.setattr(sys.modules["shakeout.report.render"], "render_junit", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        render(_result(curve_findings(), drop_findings()), out)
    after = {name: (out / name).read_text() for name in FILES.values()}
    assert after == before  # the previous report is intact, not half replaced
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())


def test_render_into_a_file_path_is_a_validation_error(tmp_path):
    from shakeout.errors import ValidationError

    blocker = tmp_path / "report"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ValidationError, match=r"cannot create output folder '.*report'"):
        render(_result(curve_findings()), blocker)


def test_html_has_a_severity_curve_with_its_band(tmp_path):
    html = (render(_result(curve_findings()), tmp_path)["html"]).read_text()
    (svg,) = _svgs(html)
    assert "<polyline" in svg and "<polygon" in svg  # the curve and its interval band
    assert svg.count("<circle") == 4
    assert "sigma (x feature std)" in svg  # the x axis states the unit
    assert "0.5: 0.7 [0.65, 0.74]" in svg  # tooltips carry value and interval


def test_html_has_ranked_bars_for_per_feature_findings(tmp_path):
    html = render(_result(feature_findings()), tmp_path)["html"].read_text()
    (svg,) = _svgs(html)
    assert svg.count("<rect") == 3
    names = re.findall(r'class="yl">(\w+)</text>', svg)
    assert names == ["age", "zip", "income"]  # largest first
    assert "feature sensitivity" in html and "feature sensitivity: feature" not in html


def test_html_has_a_timeline_with_zones_for_windowed_findings(tmp_path):
    html = render(_result(window_findings()), tmp_path)["html"].read_text()
    (svg,) = _svgs(html)
    for colour in ("#dcfce7", "#ffedd5", "#fee2e2"):  # pass, warn and fail zones
        assert f'fill="{colour}"' in svg
    assert svg.count("<circle") == 3
    assert 'fill="#dc2626"' in svg and 'fill="#ea580c"' in svg  # fail and warn points
    assert "2024-03: 0.4" in svg


def test_timeline_labels_do_not_overlap():
    from shakeout.report import charts

    days = [f"2024-01-{d:02d}" for d in range(1, 13)]
    svg = charts.timeline([Finding(name=f"psi@{d}", metric="psi", value=0.1, window=d,
                                   details={"bands": {"warn": 0.1, "fail": 0.25}})
                           for d in days], "age")
    labels = [d for d in days if f">{d}</text>" in svg]
    assert labels[0] == "2024-01-01" and 2 <= len(labels) <= 4  # ten-character labels, 264 px


def test_html_history_says_where_drift_began_and_attends_to_the_latest_window(tmp_path):
    from shakeout.monitor.onset import onset

    history = window_findings()
    html = render(_result(history, onset(history)), tmp_path)["html"].read_text()
    began = html[html.index("Where and when drift began"):html.index("Needs attention")]
    assert "<td>age</td>" in began and "<td>2024-02</td>" in began  # warn, then fail since
    attention = html[html.index("Needs attention in the latest window (2024-03)"):]
    attention = attention[:attention.index("</table>")]
    assert "monitor/psi/2024-03" in attention and "monitor/psi/2024-02" not in attention
    assert "onset by feature" not in html  # the table says it; no chart repeats it


def test_html_charts_every_kind_in_one_report_and_is_offline(tmp_path):
    result = _result(curve_findings(), feature_findings(), window_findings(), drop_findings())
    html = render(result, tmp_path, gate=GATE.check(result))["html"].read_text()
    assert len(_svgs(html)) == 3  # drops are tabulated, not charted
    assert "&lt;Model&gt; &amp; co" in html and "<Model>" not in html  # escaped title
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html
    assert "significant large degradation" in html  # the attention table


def test_a_passing_gate_says_so_and_names_the_findings_that_fail_outside_it(tmp_path):
    result = _result(drop_findings())  # holds a failing finding the gate does not judge
    gate = Gate(conditions=[GateCondition(metric="accuracy_drop", group="noise", severity=0.1,
                                          max=0.05)]).check(result)
    paths = render(result, tmp_path, gate=gate)
    both = "Gate passed (1 condition); 1 finding fails outside the gate."
    md = paths["md"].read_text().splitlines()
    assert md[0] == "## shakeout: Stress test of <Model> & co — gate passed"
    assert both in md
    html = paths["html"].read_text()
    assert '<span class="badge pass">GATE PASSED</span> ' + both in html
    worst = html[html.index("Worst finding:"):]
    assert worst.startswith('Worst finding: <span class="badge fail">FAIL</span>')
    assert "accuracy falls" in worst[:400]  # the worst finding in words, not a bare status
    junit = ET.parse(paths["junit"]).getroot()
    assert {p.get("value") for p in junit.iter("property")} == {both}


def test_without_a_gate_nothing_reads_as_passed(tmp_path):
    # the demo's attack section: only info findings and a passing sanity check, at 0.2%
    # robust accuracy; without a gate the header must not show a green PASS
    findings = [Finding(name=f"attack/ensemble/robust_accuracy@{e:g}", metric="robust_accuracy",
                        value=v, ci=(max(v - 0.01, 0), v + 0.01), drill="attack",
                        group="ensemble", severity=e, unit="linf in input space")
                for e, v in ((0.03, 0.9), (0.3, 0.002))]
    findings.append(Finding(name="attack/sanity/monotone", metric="sanity", value=0.0,
                            status="pass", drill="attack", group="sanity", feature="monotone"))
    paths = render(Result(title="attack", findings=tuple(findings)), tmp_path)
    html = paths["html"].read_text()
    header = html[html.index("<header>"):html.index("</header>")]
    assert "badge pass" not in header and "PASS" not in header
    assert '<span class="badge none">NO GATE</span> No gate' in header
    assert "none is marked warn or fail" in header
    summary = html[html.index('<ul class="exec">'):html.index("</ul>")]
    assert "robust accuracy under ensemble, linf in input space = 0.3: 0.002 [0, 0.012]" in summary
    md = paths["md"].read_text()
    assert md.startswith("## shakeout: attack — no gate\n") and "PASS" not in md
    assert "No gate: nothing was judged against a threshold." in md


def test_markdown_summary_lists_gate_results(tmp_path):
    result = _result(curve_findings(), drop_findings())
    md = render(result, tmp_path, gate=GATE.check(result))["md"].read_text()
    lines = md.splitlines()
    assert lines[0] == "## shakeout: Stress test of <Model> & co — gate failed"
    assert "Gate failed (2 of 3 conditions)." in lines
    assert "**Gate failed**" in lines
    assert "- ✅ `accuracy_drop [group=noise, severity=0.1] <= 0.05`" in lines
    assert ("- ❌ `accuracy_drop [group=noise, severity=0.5] <= 0.05` — "
            "stress/noise/accuracy_drop@0.5: upper bound 0.3 > 0.05") in lines
    assert "- ❌ `accuracy [group=typo] >= 0.5` — no finding matches this condition" in lines
    assert ("| accuracy falls under noise, severity 0.5 (2 findings: accuracy, calibration "
            "error (ECE)) | 0.25 | [0.2, 0.3] | 1e-06 | fail |") in lines


def test_markdown_without_gate_says_no_gate(tmp_path):
    md = render(_result(curve_findings(), drop_findings()), tmp_path)["md"].read_text()
    assert md.startswith("## shakeout: Stress test of <Model> & co — no gate\n")
    assert ("No gate: nothing was judged against a threshold; 1 finding is marked fail by its "
            "drill.") in md
    assert "**Gate" not in md


def test_junit_failures_are_the_gate_conditions_only(tmp_path):
    result = _result(curve_findings(), feature_findings(), window_findings(), drop_findings())
    outcome = GATE.check(result)
    path = render(result, tmp_path / "gated", gate=outcome)["junit"]
    root = ET.parse(path).getroot()
    failed_conditions = sum(not o.passed for o in outcome.outcomes)
    failed_findings = sum(f.status == "fail" for f in result.findings)
    assert (failed_conditions, failed_findings) == (2, 2)
    # with a gate only its conditions fail: CI sees the verdict the exit code gives
    assert sum(int(s.get("failures")) for s in root.iter("testsuite")) == 2
    assert len(list(root.iter("failure"))) == 2
    assert sum("[fail]" in (o.text or "") for o in root.iter("system-out")) == 2
    ungated = ET.parse(render(result, tmp_path / "plain")["junit"]).getroot()
    assert list(ungated.iter("failure")) == []  # no gate: exit code 0, nothing fails
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"shakeout.gate", "shakeout.stress", "shakeout.monitor"}
    # info findings are not test cases; pass and warn ones pass
    assert int(suites["shakeout.stress"].get("tests")) == 3
    assert int(suites["shakeout.monitor"].get("tests")) == 3
    assert int(suites["shakeout.gate"].get("tests")) == 3


def test_results_json_holds_the_gate_verdict_and_strict_json(tmp_path):
    result = _result(drop_findings(), [Finding(name="inf", metric="m", value=float("inf"))])
    path = render(result, tmp_path, gate=GATE.check(result))["json"]
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    data = json.loads(text)
    assert data["gate"]["passed"] is False
    assert [c["passed"] for c in data["gate"]["conditions"]] == [True, False, False]
    assert Result.load(path).findings == result.findings
