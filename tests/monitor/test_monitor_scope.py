"""Gates judge a monitor's latest window: the rule lives in ``monitor``, not in the CLI."""

import numpy as np
import pandas as pd
import pytest

from shakeout import monitor
from shakeout.report.gate import Gate, GateCondition
from shakeout.report.result import Finding, Result

RETRAIN_FAILS = Gate(conditions=[GateCondition(metric="decision", drill="drift", max=1)])


def _history(shifted_days, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=1_000), "b": rng.normal(size=1_000)})
    days = pd.date_range("2024-01-01", periods=4, freq="D").repeat(400)
    shift = np.isin(days, pd.to_datetime(shifted_days)) * 1.5
    cur = pd.DataFrame({"t": days, "a": rng.normal(size=1_600) + shift,
                        "b": rng.normal(size=1_600)})
    return monitor.run(ref, cur, timestamp="t", store="sqlite://", multivariate=(),
                       deescalate_after=1)


@pytest.fixture(scope="module")
def cleared():
    """Drift on the second day only: the alarm has cleared by the fourth."""
    return _history(["2024-01-02"])


def test_an_alarm_that_cleared_passes_and_the_whole_history_would_not(cleared):
    scoped = monitor.latest_window(cleared)
    assert {f.window for f in scoped.findings} <= {None, "2024-01-04"}
    assert monitor.latest_decision(cleared).window == "2024-01-04"
    assert monitor.latest_decision(cleared).details["action"] == "continue monitoring"
    assert RETRAIN_FAILS.check(scoped).passed
    assert not RETRAIN_FAILS.check(cleared).passed  # day two said retrain


def test_an_alarm_in_force_fails_and_its_onsets_are_judged_with_it():
    in_force = _history(["2024-01-04"])
    scoped = monitor.latest_window(in_force)
    assert monitor.latest_decision(scoped).details["action"] == "retrain now"
    assert not RETRAIN_FAILS.check(scoped).passed
    onsets = [f for f in in_force.findings if f.window is None]
    assert onsets and all(f.group == "onset" for f in onsets)
    assert [f for f in scoped.findings if f.window is None] == onsets
    assert scoped.manifest == in_force.manifest and scoped.title == in_force.title


def test_without_a_windowed_decision_there_is_nothing_to_scope():
    plain = Result(title="t", findings=(Finding(name="drift/decision", metric="decision",
                                                value=2.0, drill="drift", group="decision"),))
    assert monitor.latest_window(plain) is None and monitor.latest_decision(plain) is None
