"""``shakeout diagnose``: the verdict from a real monitor store and an event log; bad input
exits 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from shakeout import monitor
from shakeout.cli import main


def _store(tmp_path) -> str:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=1000)})
    day = np.repeat(np.arange(16), 200)
    cur = pd.DataFrame({"t": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D"),
                        "a": rng.normal(size=day.size) + (day >= 9)})
    url = f"sqlite:///{tmp_path / 'h.db'}"
    monitor.run(ref, cur, timestamp="t", store=url, stream="s", multivariate=())
    return url


def test_diagnose_reports_a_fault_for_a_step_at_a_deploy(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("time,label\n2024-01-10T08:00,deploy v2\n")
    out = tmp_path / "out"
    code = main(["diagnose", "--store", _store(tmp_path), "--stream", "s", "--events",
                 str(events), "--out", str(out), "--quiet"])
    assert code == 0
    assert "Diagnosis: fault" in capsys.readouterr().err
    saved = json.loads((out / "results.json").read_text())
    head = next(f for f in saved["findings"] if f["group"] == "diagnosis")
    assert head["details"]["diagnosis"] == "fault" and head["drill"] == "diagnose"
    assert "Diagnosis" in (out / "report.html").read_text()


def test_unparseable_event_times_exit_2_naming_the_rows(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("time,label\n2024-01-10,deploy\nlast tuesday,bump\n")
    code = main(["diagnose", "--store", _store(tmp_path), "--stream", "s", "--events",
                 str(events), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "data row 2 ('last tuesday')" in err and "Traceback" not in err


def test_missing_store_and_half_golden_options_exit_2(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    assert main(["diagnose", "--store", url, "--out", str(tmp_path / "o")]) == 2
    assert "no history store" in capsys.readouterr().err
    assert main(["diagnose", "--store", url, "--golden", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--golden and --model together" in capsys.readouterr().err


def test_a_golden_set_saved_with_preprocessing_is_replayed_with_it(tmp_path, capsys,
                                                                   monkeypatch):
    """The replay inside diagnose runs the same preprocessing the golden set was saved with:
    without --preprocess it fails at the input, with it the replay passes."""
    (tmp_path / "golden_pipeline.py").write_text(
        "import numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(200, 1))\n"
        "model = LogisticRegression().fit(X / 10, (X[:, 0] > 0).astype(int))\n"
        "def scale(rows):\n"
        "    return np.asarray(rows, dtype=float) / 10\n")
    np.savez(tmp_path / "rows.npz", X=np.random.default_rng(1).normal(size=(20, 1)))
    monkeypatch.syspath_prepend(str(tmp_path))
    golden = tmp_path / "golden"
    assert main(["golden", "save", "golden_pipeline:model", str(tmp_path / "rows.npz"),
                 "--preprocess", "golden_pipeline:scale", "--out", str(golden)]) == 0
    base = ["diagnose", "--store", _store(tmp_path), "--stream", "s", "--golden", str(golden),
            "--model", "golden_pipeline:model", "--quiet"]
    replays = {}
    for name, extra in {"raw": [], "scaled": ["--preprocess", "golden_pipeline:scale"]}.items():
        assert main([*base, *extra, "--out", str(tmp_path / name)]) == 0
        saved = json.loads((tmp_path / name / "results.json").read_text())["findings"]
        (replays[name],) = [f["status"] for f in saved if f["name"] == "diagnose/golden"]
    assert replays == {"raw": "fail", "scaled": "pass"}
