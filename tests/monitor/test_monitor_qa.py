"""Monitoring as users run it: re-runs, growing data, folders, bad stores, the command line."""

import json

import numpy as np
import pandas as pd
import pytest

from shakeout import monitor
from shakeout.cli import main
from shakeout.errors import MissingDependencyError, ValidationError
from shakeout.monitor import HistoryStore

FAST = {"tests": ("psi",), "categorical_tests": ("psi",), "multivariate": ()}


@pytest.fixture()
def ref():
    return pd.DataFrame({"a": np.random.default_rng(0).normal(size=300)})


def _stream(n, seed=1):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=4, freq="D").repeat(50)[:n]
    return pd.DataFrame({"t": days, "a": rng.normal(size=n)})


def test_row_windows_keep_their_labels_as_the_data_grows(ref, tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    rows = _stream(200).drop(columns="t")
    monitor.run(ref, rows.iloc[:90], every=30, store=url, **FAST)  # 2-digit row numbers
    again = monitor.run(ref, rows.iloc[:120], every=30, store=url, **FAST)  # 3-digit
    assert again.manifest.parameters["windows_skipped"] == 2
    assert HistoryStore(url).windows() == [f"rows {s:09d}-{s + 29:09d}" for s in (0, 30, 60, 90)]


def test_a_day_still_in_progress_is_completed_on_the_next_run(ref, tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    events = _stream(200)
    monitor.run(ref, events.iloc[:120], timestamp="t", store=url, **FAST)  # day 3 half done
    monitor.run(ref, events, timestamp="t", store=url, **FAST)
    summary = HistoryStore(url).summary()
    assert summary["window"].tolist() == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    assert summary["n_rows"].tolist() == [50, 50, 50, 50]


def test_a_folder_joins_a_period_split_across_files(ref, tmp_path):
    folder = tmp_path / "batches"
    folder.mkdir()
    events = _stream(200)
    events.iloc[:75].to_csv(folder / "part-1.csv", index=False)  # day 2 spans both files
    events.iloc[75:].to_csv(folder / "part-2.csv", index=False)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    monitor.run(ref, folder, timestamp="t", store=url, **FAST)
    assert HistoryStore(url).summary()["n_rows"].tolist() == [50, 50, 50, 50]
    rows = monitor.run(ref, folder, every=60, store=f"sqlite:///{tmp_path / 'r.db'}", **FAST)
    assert sorted({f.window for f in rows.findings if f.window})[:2] == [
        "part-1 rows 000000000-000000059", "part-1 rows 000000060-000000119"]
    (folder / "part-0.csv").write_text(events.iloc[120:].to_csv(index=False))  # out of order
    with pytest.raises(ValidationError, match="window '2024-01-03' comes up twice"):
        monitor.run(ref, folder, timestamp="t", store=f"sqlite:///{tmp_path / 'x.db'}", **FAST)


def test_a_folder_file_without_the_target_is_named(ref, tmp_path):
    folder = tmp_path / "batches"
    folder.mkdir()
    _stream(50).drop(columns="t").to_csv(folder / "a.csv", index=False)
    with pytest.raises(ValidationError, match="a.csv: target column 'y' not found"):
        monitor.run(ref, folder, target="y", store="sqlite://", **FAST)


def test_the_timestamp_is_not_a_feature_of_the_reference_either(tmp_path):
    events = _stream(200)
    result = monitor.run(events.iloc[:100], events, timestamp="t", store="sqlite://", **FAST)
    assert not [f for f in result.findings if f.group == "schema"]


def test_stores_that_cannot_be_opened_say_why(tmp_path):
    with pytest.raises(ValidationError, match=r"the folder '.*nowhere' does not exist"):
        _ = HistoryStore(f"sqlite:///{tmp_path / 'nowhere' / 'h.db'}").engine
    pytest.importorskip("psycopg")
    with pytest.raises(ValidationError, match="cannot open the store .* server is running"):
        _ = HistoryStore("postgresql+psycopg://u@127.0.0.1:1/db").engine


def test_a_missing_driver_names_its_pip_package():
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pip install mysqlclient"):
            _ = HistoryStore("mysql://u@localhost/db").engine
    else:
        pytest.skip("MySQLdb is installed")


def test_monitor_command_reports_skips_notes_and_the_latest_gate(ref, tmp_path, capsys):
    paths = {"ref": tmp_path / "ref.csv", "cur": tmp_path / "cur.csv"}
    ref.to_csv(paths["ref"], index=False)
    events = _stream(200).assign(b=1.0)  # a column the reference lacks
    events.to_csv(paths["cur"], index=False)
    args = ["monitor", str(paths["ref"]), str(paths["cur"]), "--timestamp", "t", "--store",
            f"sqlite:///{tmp_path / 'h.db'}", "--out", str(tmp_path / "out"), "--quiet",
            "--tests", "psi", "--multivariate", "none"]
    code = main(args)
    err = capsys.readouterr().err
    assert "Ran 4 windows." in err and "note: Current has 1 columns absent" in err
    assert main(args) == code
    assert "Ran 1 window, skipped 3 already in the store (--rerun" in capsys.readouterr().err
    assert main([*args, "--rerun"]) == code
    assert "Ran 4 windows." in capsys.readouterr().err
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["gate"]["passed"] is (code == 0)  # the verdict of the exit code, in the report
    typo = tmp_path / "hh.db"
    assert main(["monitor", "--store", f"sqlite:///{typo}", "--out", str(tmp_path / "o2")]) == 2
    assert "no history store at" in capsys.readouterr().err and not typo.exists()


def test_drift_command_prints_what_it_left_out_and_refuses_text(ref, tmp_path, capsys):
    ref_path, cur_path = tmp_path / "ref.csv", tmp_path / "cur.csv"
    ref.assign(b=ref["a"]).to_csv(ref_path, index=False)
    ref.to_csv(cur_path, index=False)
    out = str(tmp_path / "out")
    assert main(["drift", str(ref_path), str(cur_path), "--out", out, "--quiet",
                 "--multivariate", "none"]) == 0
    assert "note: Current lacks 1 reference columns: ['b']" in capsys.readouterr().err
    ref.assign(b="x").to_csv(cur_path, index=False)
    assert main(["drift", str(ref_path), str(cur_path), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: current column 'b' is numeric in the reference" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_onsets_are_ordered_by_evidence_and_say_when_they_became_decisive():
    """Issue #9 item 5: an output-KS warning from week 4 (D = 0.067, a week before the real
    change) headed the "where and when drift began" table, ahead of the real cause."""
    from shakeout.monitor import onset
    from shakeout.report import Finding

    weeks = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"]

    def series(group, feature, points):
        return [Finding(name=f"drift/{group}/{feature}@{w}", metric=group, value=v,
                        p_value=p, status=s, drill="drift", group=group, feature=feature,
                        window=w, details={"bands": {"warn": 0.05, "fail": 0.1}})
                for w, (v, p, s) in zip(weeks, points)]

    calm = (0.01, 0.9, "pass")
    early = series("output_ks", "p(1)", [calm, calm, calm, (0.067, 0.02, "warn"),
                                         (0.06, 0.03, "warn")])
    cause = series("ks", "x2", [calm, calm, calm, calm, (0.4, 1e-40, "fail")])
    slow = series("psi", "x5", [calm, calm, (0.12, 1e-3, "warn"), (0.3, 1e-9, "fail"),
                                (0.2, 1e-6, "warn")])
    found = onset(early + cause + slow)
    assert [f.feature for f in found] == ["x2", "x5", "p(1)"]
    assert [f.details["decisive_window"] for f in found] == [weeks[4], weeks[3], None]
    assert found[1].details["first_window"] == weeks[2]
    assert "decisive since 2024-01-22" in found[1].message


def test_a_decision_does_not_flap_from_one_calm_window():
    """Issue #9: a weekly decision flipped Retrain, Investigate, Retrain. It now escalates
    at once and steps down only after two consecutive calmer windows."""
    import numpy as np
    import pandas as pd

    from shakeout import monitor

    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"a": rng.normal(size=1500), "b": rng.normal(size=1500)})
    days = pd.date_range("2024-01-01", periods=5, freq="D").repeat(400)
    moved = np.isin(days.day, [1, 3])  # drift on days 1 and 3; calm on 2, 4 and 5
    cur = pd.DataFrame({"t": days, "a": rng.normal(size=2000) + 1.5 * moved,
                        "b": rng.normal(size=2000)})
    store = monitor.HistoryStore("sqlite://")
    result = monitor.run(ref, cur, timestamp="t", store=store, multivariate=())
    decisions = sorted(result.select(metric="decision"), key=lambda f: f.window)
    assert [f.details["hysteresis"]["raw_action"] for f in decisions] == [
        "retrain now", "continue monitoring", "retrain now", "continue monitoring",
        "continue monitoring"]
    assert [f.details["action"] for f in decisions] == ["retrain now"] * 4 + [
        "continue monitoring"]
    assert [f.details["hysteresis"]["held"] for f in decisions] == [False, True, False, True,
                                                                    False]
    assert "Held at 'retrain now'" in decisions[1].message
    assert decisions[1].message.startswith("Retrain now")
    assert store.summary()["action"].tolist()[:2] == ["retrain now", "retrain now"]
    flapping = monitor.run(ref, cur, timestamp="t", store="sqlite://", multivariate=(),
                           deescalate_after=1)
    assert [f.details["action"] for f in sorted(flapping.select(metric="decision"),
                                                key=lambda f: f.window)][:3] == [
        "retrain now", "continue monitoring", "retrain now"]


def test_a_resumed_monitor_keeps_the_rule_across_runs(tmp_path):
    import numpy as np
    import pandas as pd

    from shakeout import monitor

    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"a": rng.normal(size=1000)})
    days = pd.date_range("2024-01-01", periods=3, freq="D").repeat(400)
    cur = pd.DataFrame({"t": days, "a": rng.normal(size=1200) + 1.5 * (days.day == 1)})
    url = f"sqlite:///{tmp_path / 'h.db'}"
    monitor.run(ref, cur[cur.t < "2024-01-02"], timestamp="t", store=url, multivariate=())
    monitor.run(ref, cur[cur.t < "2024-01-03"], timestamp="t", store=url, multivariate=())
    again = monitor.run(ref, cur, timestamp="t", store=url, multivariate=())
    actions = [f.details["action"] for f in sorted(again.select(metric="decision"),
                                                   key=lambda f: f.window)]
    assert actions == ["retrain now", "retrain now", "continue monitoring"]
