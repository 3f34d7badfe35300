"""Would the drift suite have caught each preprocessing fault: the search for the smallest
alerting window is exact on monotone detection, every window it names alerts and the one
before it does not, a fault invisible to the suite is reported as not caught, and the clean
rows are the control."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shakeout.drift import DriftSuite
from shakeout.errors import ValidationError
from shakeout.faults.caught import caught, rows_to_alert
from shakeout.perturb import DefaultFilled, UnitMismatch


@pytest.mark.parametrize("threshold", [10, 11, 37, 64, 65, 999, 1000])
def test_the_search_finds_a_monotone_threshold_exactly_in_logarithmic_steps(threshold):
    calls = []

    def alerts(n):
        calls.append(n)
        return n >= threshold

    n, tried = rows_to_alert(alerts, 10, 1000)
    assert n == threshold and tried == calls
    # doubling: log2(high / low) + 1 windows; bisection: log2 of a gap at most the threshold
    assert len(calls) <= 2 + math.log2(1000 / 10) + math.log2(threshold)


def test_the_search_reports_none_when_even_the_largest_window_is_quiet():
    n, tried = rows_to_alert(lambda n: False, 10, 1000)
    assert n is None and tried[-1] == 1000


def _frames(seed=0):
    rng = np.random.default_rng(seed)
    make = lambda n: pd.DataFrame({"height": rng.normal(1.7, 0.1, n),  # noqa: E731
                                   "weight": rng.normal(70, 12, n),
                                   "visits": rng.poisson(4, n).astype(float)})
    return make(1500), make(800)


def _suite():
    return DriftSuite(tests=("psi",), multivariate=(), seed=0)  # KS permutes on ties: slow


def _action(suite, frame):
    return suite.run(frame).select(metric="decision")[0].details["action"]


def test_each_alerting_window_alerts_and_the_window_before_it_does_not():
    ref, cur = _frames()
    faults = [UnitMismatch(factor=100, features=["height"]),
              DefaultFilled(fill=0.0, features=["weight"])]
    result = caught(ref, cur, faults=faults, severity=0.5, suite=_suite(), seed=3)
    suite = _suite().fit(ref)
    for fault, rng, f in zip(faults, np.random.default_rng(3).spawn(2),
                             result.select(metric="rows_to_alert")):
        assert f.details["caught"] and f.status == "pass"
        n = int(f.value)
        faulty = fault.fit(ref).apply(cur, 0.5, rng)
        assert _action(suite, faulty.iloc[:n]) != "continue monitoring"
        if n - 1 >= suite.policy.min_rows:
            assert _action(suite, faulty.iloc[:n - 1]) in ("continue monitoring", "no decision")


def test_a_larger_unit_error_share_is_caught_no_later():
    ref, cur = _frames()
    rows = [caught(ref, cur, faults=[UnitMismatch(factor=1000, features=["weight"])],
                   severity=s, suite=_suite(), seed=1).findings[0].value for s in (0.1, 1.0)]
    assert rows[1] <= rows[0]


def test_a_fault_the_suite_cannot_see_is_reported_as_not_caught():
    ref, cur = _frames()
    result = caught(ref, cur, faults=["truncation"], suite=_suite())
    f = result.select(metric="rows_to_alert")[0]
    assert math.isnan(f.value) and f.status == "warn" and not f.details["caught"]
    assert f.details["windows_tried"][-1] == len(cur)
    assert "would not have caught" in f.message


def test_every_preprocessing_fault_is_tried_by_default_with_the_clean_rows_as_control():
    ref, cur = _frames()
    result = caught(ref, cur, suite=_suite())
    assert [f.feature for f in result.select(metric="rows_to_alert")] == [
        "unit_mismatch", "column_swap", "frozen_feature", "default_filled", "truncation"]
    control = result.select(group="control")[0]
    assert control.status == "pass" and control.value == 0.0
    assert _action(_suite().fit(ref), cur) == "continue monitoring"


def test_a_clean_stream_that_already_drifted_makes_the_control_warn():
    ref, cur = _frames()
    cur = cur.assign(weight=cur["weight"] + 10)
    control = caught(ref, cur, faults=["column_swap"], suite=_suite()).select(group="control")[0]
    assert control.status == "warn" and "says little" in control.message


def test_bad_faults_and_severities_are_refused():
    ref, cur = _frames()
    with pytest.raises(ValidationError, match=r"unknown perturbation 'unit_change'"):
        caught(ref, cur, faults=["unit_change"], suite=_suite())
    with pytest.raises(ValidationError, match=r"caught: faults are input perturbations"):
        caught(ref, cur, faults=[3], suite=_suite())
    with pytest.raises(ValidationError, match=r"caught: severity must be in \(0, 1\]"):
        caught(ref, cur, severity=0, suite=_suite())
