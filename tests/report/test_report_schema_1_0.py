"""A results.json written with schema 1.0 (before merged manifests kept their parts and gate
conditions named their findings) still reads, and ``shakeout report`` still renders it."""

from __future__ import annotations

import json

from shakeout.cli import main
from shakeout.report import SCHEMA_VERSION, GateOutcome, Result

DROP = {"name": "tabular/stress/noise/accuracy_drop@0.1", "metric": "accuracy_drop",
        "value": 0.05, "ci": [0.03, 0.07], "ci_level": 0.95, "p_value": 0.001, "status": "warn",
        "drill": "stress", "subject": "tabular", "group": "noise", "feature": None,
        "severity": 0.1, "unit": "sigma (x feature std)", "window": None, "effect": "small",
        "message": "significant small degradation",
        "details": {"p_raw": 0.0005, "correction": "holm"}}
PSI = {"name": "stream/drift/psi/age@w2", "metric": "psi", "value": 0.4, "ci": None,
       "ci_level": None, "p_value": None, "status": "fail", "drill": "drift",
       "subject": "stream", "group": "psi", "feature": "age", "severity": None, "unit": None,
       "window": "w2", "effect": None, "message": "major shift", "details": {}}
SAVED_1_0 = {
    "schema_version": "1.0", "title": "shakeout demo", "status": "fail",
    "manifest": {"seed": 0, "model": "logreg", "model_fingerprint": "ab12", "data": "d",
                 "data_fingerprint": "cd34", "n_rows": 100, "timings": {"total_s": 1.5},
                 "parameters": {"drill": "demo"}, "versions": {"shakeout": "0.1.0"},
                 "created": "2026-01-01T00:00:00Z"},
    "findings": [DROP, PSI],
    "gate": {"passed": False, "conditions": [
        {"condition": "accuracy_drop <= 0.05", "passed": False,
         "reasons": ["tabular/stress/noise/accuracy_drop@0.1: upper bound 0.07 > 0.05"]},
        {"condition": "accuracy_drop [group=blur] <= 0.05", "passed": False,
         "reasons": ["no finding matches this condition"]}]},
}


def test_a_1_0_results_file_reads_with_no_parts_and_its_judged_findings_named():
    result = Result.from_dict(SAVED_1_0)
    assert result.schema_version == "1.0" and result.manifest.parts == ()
    assert result.manifest.model == "logreg" and len(result.findings) == 2
    gate = GateOutcome.from_dict(SAVED_1_0["gate"])
    assert [o.findings for o in gate.outcomes] == [(DROP["name"],), ()]
    assert not gate.passed


def test_shakeout_report_renders_a_1_0_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(SAVED_1_0))
    assert main(["report", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION
    assert [f["name"] for f in written["findings"]] == [DROP["name"], PSI["name"]]
    assert written["gate"]["conditions"][0]["findings"] == [DROP["name"]]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Gate failed (2 of 2 conditions); 1 finding fails outside the gate." in summary
