"""``adjust`` is the one adjust-and-rejudge: the drift rule and the stress rule are its judges.

The judges are the pillars' own (``drift._base.rejudge``, ``stress.sweep._judge``); the
expected values (``adjust_before.json``: p-value, status, message and details of each
finding) are what ``drift/_base.adjust_findings`` and ``stress/sweep._correct`` returned on
the same inputs before both moved onto :func:`shakeout.report.findings.adjust`. Stress
findings now also carry ``details.n_tests``, which the comparison leaves out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shakeout.drift._base import rejudge as drift_judge
from shakeout.report.findings import adjust
from shakeout.report.result import Finding
from shakeout.stress.sweep import _judge as stress_judge


def drift_findings() -> list[Finding]:
    out = []
    cases = [(0.001, "large"), (0.02, "small"), (0.03, "negligible"), (0.2, "medium"),
             (0.004, None), (1e-9, "medium")]
    for i, (p, effect) in enumerate(cases):
        details = {"statistic_text": f"D={0.1 * i:.3f}"} if i % 2 else {"test": "KS"}
        if i == 3:
            details["notes"] = "The values look scaled by 1000."
        out.append(Finding(name=f"drift/ks/x{i}", metric="ks", value=0.1 * (i + 1), p_value=p,
                           status="fail", effect=effect, drill="drift", group="ks",
                           feature=None if i == 4 else f"x{i}", details=details))
    out.insert(2, Finding(name="drift/psi/x0", metric="psi", value=0.3, status="fail",
                          drill="drift", group="psi", feature="x0", message="major shift"))
    return out


def stress_findings() -> list[Finding]:
    out = []
    for i, sev in enumerate((0.1, 0.3, 0.5)):
        floor = {"p_at_floor": True, "p_floor": 0.001} if i == 2 else {}
        for metric, p, effect, extra in [
                ("accuracy_drop", (0.04, 0.01, 0.0005)[i],
                 ("small", "negligible", "large")[i], {}),
                ("log_loss_drop", (0.3, 0.012, 0.001)[i], "medium", floor),
                ("prediction_ks", (0.5, 0.01, 1e-6)[i], None, {})]:
            out.append(Finding(name=f"stress/noise/{metric}@{sev:g}", metric=metric,
                               value=0.05 * i, p_value=p, drill="stress", group="noise",
                               severity=sev, effect=effect,
                               details={"test": "paired bootstrap", "n_rows": 100, **extra}))
        out.append(Finding(name=f"stress/noise/flip_rate@{sev:g}", metric="flip_rate",
                           value=0.1, status="info", drill="stress", group="noise",
                           severity=sev))
    return out


BEFORE = json.loads((Path(__file__).parent / "adjust_before.json").read_text())
METHODS = ("holm", "bonferroni", "bh", "none")


def _as_before(findings: list[Finding], leave_out: str = "") -> list[list]:
    return [[f.p_value, f.status, f.message, {k: v for k, v in f.details.items() if k != leave_out}]
            for f in findings]


@pytest.mark.parametrize("method", METHODS[:3])
def test_adjust_with_the_drift_judge_is_the_drift_rule(method):
    before = drift_findings()
    after = adjust(before, method, 0.05, judge=drift_judge)
    assert _as_before(after) == BEFORE["drift"][method]
    assert [f.name for f in after] == [f.name for f in before]
    assert after[2] is before[2]  # no p-value: passed through, in place


def test_drift_without_correction_leaves_its_findings_as_the_tests_judged_them():
    """Drift's one rule outside the judge: ``none`` keeps each test's own verdict and
    message (its caller skips the adjustment), where stress re-judges."""
    assert _as_before(drift_findings()) == BEFORE["drift"]["none"]
    rejudged = adjust(drift_findings(), "none", 0.05, judge=drift_judge)
    assert _as_before(rejudged) != BEFORE["drift"]["none"]


@pytest.mark.parametrize("method", METHODS)
def test_adjust_per_metric_with_the_stress_judge_is_the_stress_rule(method):
    before = stress_findings()
    after = adjust(before, method, 0.05, family=lambda f: f.metric, judge=stress_judge)
    assert _as_before(after, "n_tests") == BEFORE["stress"][method]
    assert all(a is b for a, b in zip(after, before) if b.p_value is None)


def test_the_stress_families_are_its_metrics():
    """One family across all metrics would adjust differently: the grouping matters."""
    pooled = adjust(stress_findings(), "holm", 0.05, judge=stress_judge)
    assert _as_before(pooled, "n_tests") != BEFORE["stress"]["holm"]
