"""``shakeout caught``: each preprocessing fault against the drift suite the plan configures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def test_caught_reports_rows_to_alert_per_fault_and_refuses_an_unknown_one(tmp_path, cli):
    rng = np.random.default_rng(0)
    for name in ("ref", "cur"):
        frame = pd.DataFrame(rng.normal(5, 1, (600, 2)), columns=["a", "b"])
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "plan.yaml").write_text("drift:\n  multivariate: []\n")
    base = ["caught", tmp_path / "ref.csv", tmp_path / "cur.csv", "--plan", tmp_path / "plan.yaml",
            "--quiet"]
    code, _ = cli(*base, "--faults", "unit_mismatch,truncation", "--out", tmp_path / "o")
    assert code == 0
    found = json.loads((tmp_path / "o" / "results.json").read_text())["findings"]
    caught = {f["feature"]: f["details"]["caught"] for f in found
              if f["metric"] == "rows_to_alert"}
    assert caught == {"unit_mismatch": True, "truncation": False}  # float16 is invisible here
    # the clean rows alone alert on one window tried (chance): no fault is credited with it
    (control,) = [f for f in found if f["name"] == "caught/control"]
    assert control["details"]["clean_windows_alerting"] == [320]
    code, err = cli(*base, "--faults", "nonsense", "--out", tmp_path / "x")
    assert code == 2 and "unknown perturbation 'nonsense'" in err
