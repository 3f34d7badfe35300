"""Windows by timestamp or rows, the monitor over time, and drift onset."""

import numpy as np
import pandas as pd
import pytest

from shakeout import monitor
from shakeout.errors import ValidationError
from shakeout.monitor import split_windows


def test_daily_weekly_and_row_windows():
    df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=21, freq="D"), "x": range(21)})
    daily = list(split_windows(df, timestamp="t", every="day"))
    assert len(daily) == 21 and daily[0].label == "2024-01-01" and "t" not in daily[0].frame
    weekly = list(split_windows(df, timestamp="t", every="week"))
    assert [len(w.frame) for w in weekly] == [7, 7, 7]  # Monday-based weeks; 2024-01-01 is one
    rows = list(split_windows(df.drop(columns="t"), every=10))
    assert [len(w.frame) for w in rows] == [10, 10, 1]


def test_shuffled_timestamps_are_ordered_and_targets_split():
    df = pd.DataFrame({"t": ["2024-01-02", "2024-01-01", "2024-01-02"], "x": [1.0, 2, 3],
                       "y": [0, 1, 1]})
    wins = list(split_windows(df, timestamp="t", target="y"))
    assert [w.label for w in wins] == ["2024-01-01", "2024-01-02"]
    assert wins[1].y.tolist() == [0, 1] and list(wins[1].frame.columns) == ["x"]


def test_window_errors():
    df = pd.DataFrame({"t": ["2024-01-01", "not a date"], "x": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="unparseable"):
        list(split_windows(df, timestamp="t"))
    with pytest.raises(ValidationError, match="neither a row count nor a pandas frequency"):
        list(split_windows(df, timestamp="t", every="fortnightly-ish"))
    with pytest.raises(ValidationError, match="name the timestamp column"):
        list(split_windows(df, every="day"))
    with pytest.raises(ValidationError, match="column 'ts' not found"):
        list(split_windows(df, timestamp="ts"))


def test_monitor_over_time_finds_when_and_where_drift_began(tmp_path):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    days = pd.date_range("2024-03-01", periods=8, freq="D").repeat(400)
    late = np.asarray(days >= "2024-03-05")
    cur = pd.DataFrame({"t": days, "a": rng.normal(size=len(days)) + 0.8 * late,
                        "b": rng.normal(size=len(days))})
    result = monitor.run(ref, cur, timestamp="t", store=f"sqlite:///{tmp_path / 'h.db'}",
                         multivariate=())
    psi_a = [f for f in result.findings if f.group == "psi" and f.feature == "a"]
    assert [f.window for f in psi_a] == [d.date().isoformat() for d in days.unique()]
    assert all(f.details["bands"] == {"warn": 0.1, "fail": 0.25} for f in psi_a)
    onset = {(f.details["series_group"], f.feature): f for f in result.select(group="onset")}
    assert onset[("psi", "a")].details["first_window"] == "2024-03-05"
    assert onset[("psi", "a")].value == 4
    assert ("psi", "b") not in onset
    decisions = [f for f in result.findings if f.metric == "decision"]
    assert decisions[-1].details["action"] == "retrain now"
    assert decisions[0].details["action"] == "continue monitoring"


def test_folder_of_files_is_one_window_per_file(tmp_path):
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(size=300)})
    folder = tmp_path / "batches"
    folder.mkdir()
    for i in range(3):
        pd.DataFrame({"a": rng.normal(size=200)}).to_csv(folder / f"2024-01-0{i + 1}.csv",
                                                        index=False)
    result = monitor.run(ref, folder, store=f"sqlite:///{tmp_path / 'h.db'}", multivariate=())
    assert sorted({f.window for f in result.findings if f.window}) == [
        "2024-01-01", "2024-01-02", "2024-01-03"]
