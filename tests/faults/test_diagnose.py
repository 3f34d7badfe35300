"""Diagnosis: a step aligned with a deploy plus a failing golden replay is a fault, a gradual
shift with a passing replay an environmental shift, a change in few sources an attack; the
histories come from the real monitor (SQLite in tmp_path) and, for finer cases, frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency
from sklearn.linear_model import LogisticRegression

from shakeout import monitor
from shakeout.errors import ValidationError
from shakeout.faults.diagnose import DIAGNOSES, diagnose, read_events
from shakeout.faults.golden import replay, save_golden

CALIBRATES = ("diagnose",)
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

DAYS = 20
BREAK = 12  # the first changed day (2024-01-13)


def _monitored(tmp_path, kind: str, seed: int = 0) -> monitor.HistoryStore:
    """A monitor's history: DAYS daily windows of 300 rows, written to SQLite."""
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000),
                        "source": rng.choice(list("wxyz"), 2000)})
    day = np.repeat(np.arange(DAYS), 300)
    shift = {"step": 1.0 * (day >= BREAK), "gradual": 1.5 * day / (DAYS - 1)}.get(
        kind, 0.0 * day)
    src = rng.choice(list("wxyz"), day.size)
    if kind == "attack":  # source 'x' floods the stream from the break on
        src = np.where((day >= BREAK) & (rng.random(day.size) < 0.4), "x", src)
    cur = pd.DataFrame({"t": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D"),
                        "a": rng.normal(size=day.size) + shift,
                        "b": rng.normal(size=day.size) + (shift if kind == "step" else 0.0),
                        "source": src})
    store = monitor.HistoryStore(f"sqlite:///{tmp_path / f'{kind}.db'}", stream=kind)
    monitor.run(ref, cur, timestamp="t", store=store, multivariate=())
    return store


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """A golden set of a small classifier, and its replays: unchanged and rescaled input."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(int))
    folder = save_golden(clf, X[:50], tmp_path_factory.mktemp("golden") / "g")
    return {"folder": folder, "model": clf, "passing": replay(folder, clf),
            "failing": replay(folder, clf, preprocess=lambda x: x * 2.0)}


def _verdict(result):
    return result.select(group="diagnosis")[0]


DEPLOY = pd.DataFrame({"time": ["2024-01-13T09:30"], "label": ["deploy v2"]})


def test_step_aligned_with_a_deploy_and_a_failing_replay_is_a_fault(tmp_path, golden):
    result = diagnose(_monitored(tmp_path, "step"), events=DEPLOY, golden=golden["failing"])
    head = _verdict(result)
    assert head.details["diagnosis"] == "fault" and head.status == "fail"
    assert head.value == DIAGNOSES.index("fault") and head.details["demanded"] == "faults"
    assert "roll back" in head.message and "golden replay fails" in head.message
    aligned = result.select(group="alignment")[0]
    assert aligned.value > 0 and aligned.details["window"] == "2024-01-13"
    together = result.select(group="co_movement")
    assert [f.details["features"] for f in together] == [["a", "b"]]
    stepped = [f for f in result.select(group="change") if f.details["shape"] == "step"]
    assert {f.details["break_window"] for f in stepped} == {"2024-01-13"}
    strengths = {e["evidence"].split(" ")[0]: e["strength"] for e in head.details["evidence"]}
    assert strengths["The"] == "exact"  # the golden replay: a deterministic comparison
    assert {e["strength"] for e in head.details["evidence"]} <= {"exact", "strong", "moderate",
                                                                 "weak", "none"}


def test_gradual_shift_with_a_passing_replay_is_an_environmental_shift(tmp_path, golden):
    result = diagnose(_monitored(tmp_path, "gradual"), events=DEPLOY, golden=golden["passing"])
    head = _verdict(result)
    assert head.details["diagnosis"] == "environmental shift", head.message
    assert head.status == "warn" and head.details["demanded"] == "drift"
    assert "retrain" in head.message and "golden replay passes" in head.message
    moved = [f for f in result.select(group="change") if f.details["shape"] != "none"
             and f.details["series_group"] != "decision"]
    assert moved and all(f.details["shape"] == "gradual" for f in moved)
    assert result.select(group="golden")[0].status == "pass"


def test_a_golden_folder_is_replayed_through_the_model(tmp_path, golden):
    result = diagnose(_monitored(tmp_path, "gradual"), golden=golden["folder"],
                      model=golden["model"])
    assert result.select(group="golden")[0].status == "pass"
    assert _verdict(result).details["diagnosis"] == "environmental shift"


def test_a_change_in_one_source_is_an_attack_and_its_p_value_scipys(tmp_path, golden):
    store = _monitored(tmp_path, "attack")
    result = diagnose(store, golden=golden["passing"])
    head = _verdict(result)
    assert head.details["diagnosis"] == "attack" and head.details["demanded"] == "attacks"
    mix = result.select(group="concentration")[0]
    assert mix.details["sources"] == ["x"] and mix.value == 1
    stored = [f for f in store.findings() if f.group == "chi2" and f.feature == "source"
              and f.window in mix.details["windows"]]
    ref = np.asarray(stored[0].details["reference_counts"], float)
    cur = np.sum([f.details["current_counts"] for f in stored], axis=0)
    assert mix.p_value == pytest.approx(chi2_contingency(np.vstack([ref, cur]))[1])
    rest = [i for i, c in enumerate(stored[0].details["categories"]) if c != "x"]
    assert mix.details["p_rest"] == pytest.approx(
        chi2_contingency(np.vstack([ref[rest], cur[rest]]))[1])


def test_a_quiet_stream_is_inconclusive_and_passes(tmp_path):
    head = _verdict(diagnose(_monitored(tmp_path, "none")))
    assert head.details["diagnosis"] == "inconclusive" and head.status == "pass"
    assert "no golden replay was given" in head.details["not_available"]


def _frame(values, feature="age", metric="psi"):
    days = [f"2024-02-{d + 1:02d}" for d in range(len(values))]
    return pd.DataFrame({"window": days, "start": days, "group": metric, "metric": metric,
                         "feature": feature, "value": values})


def _step_values(seed=0, n=16, at=8):
    rng = np.random.default_rng(seed)
    return np.r_[np.full(at, 0.02), np.full(n - at, 0.5)] + rng.normal(0, 0.01, n)


@pytest.mark.parametrize(("event_day", "aligned"), [(8, True), (9, True), (10, False), (6, False)])
def test_alignment_is_within_one_window_of_the_event(event_day, aligned):
    """The step's first changed window is 2024-02-09 (position 8); the event's window is
    its day; aligned within one window either way."""
    log = pd.DataFrame({"time": [f"2024-02-{event_day + 1:02d}T12:00"], "label": ["bump"]})
    result = diagnose(_frame(_step_values()), events=log)
    assert (result.select(group="alignment")[0].value > 0) is aligned
    assert (_verdict(result).details["diagnosis"] == "fault") is aligned


def test_an_unexplained_step_is_inconclusive_and_says_where_to_look():
    head = _verdict(diagnose(_frame(_step_values())))
    assert head.details["diagnosis"] == "inconclusive" and head.status == "warn"
    assert "no logged event explains it" in head.message


def test_a_step_with_a_passing_replay_places_the_fault_upstream(golden):
    log = pd.DataFrame({"time": ["2024-02-09"], "label": ["schema change"]})
    head = _verdict(diagnose(_frame(_step_values()), events=log, golden=golden["passing"]))
    assert head.details["diagnosis"] == "fault" and "upstream of the model" in head.message


def test_row_windows_cannot_place_events_and_say_so():
    frame = _frame(_step_values()).assign(start=None)
    frame["window"] = [f"rows {i:04d}" for i in range(len(frame))]
    head = _verdict(diagnose(frame, events=DEPLOY))
    assert any("cannot be placed" in n for n in head.details["not_available"])


def test_same_seed_same_diagnosis():
    a = diagnose(_frame(_step_values()), seed=4)
    b = diagnose(_frame(_step_values()), seed=4)
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


def test_events_read_from_csv_sorted_and_unparseable_rows_named(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("when,what\n2024-01-03T10:00,deploy v2\n2024-01-01,bump numpy\n")
    log = read_events(path, time_column="when", label_column="what")
    assert log["label"].tolist() == ["bump numpy", "deploy v2"]
    path.write_text("time,label\n2024-01-03,deploy\nsoon,bump\n2024-01-05,x\nnever,y\n")
    with pytest.raises(ValidationError, match=r"does not parse in data rows 2, 4 \('soon', "
                                              r"'never'\)"):
        read_events(path)
    with pytest.raises(ValidationError, match="no column 'time'.*--event-time"):
        read_events(pd.DataFrame({"t": ["2024-01-01"], "label": ["x"]}))
    with pytest.raises(ValidationError, match="no file"):
        read_events(tmp_path / "missing.csv")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"golden": "somewhere"}, "needs the model"),
    ({"model": object()}, "a model without a golden set"),
    ({"alpha": 1.5}, "alpha"),
    ({"correction": "fdr"}, "correction"),
    ({"min_windows": 2}, "min_windows"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        diagnose(_frame(_step_values()), **kwargs)


def test_a_history_of_the_wrong_kind_is_named():
    with pytest.raises(ValidationError, match="history must be"):
        diagnose(42)
    with pytest.raises(ValidationError, match="lacks"):
        diagnose(pd.DataFrame({"window": ["a"]}))
