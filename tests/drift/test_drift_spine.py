"""Drift on the findings toolkit: one correction per test, one tail (decide, window) shared
by the suite and the profile comparison."""

import math

import numpy as np
import pandas as pd
import pytest

from shakeout import drift
from shakeout.drift._base import adjust_tests
from shakeout.drift.decision import DecisionPolicy
from shakeout.report.result import Finding


def _frames(n_cur=2_000, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=2_000), "b": rng.normal(size=2_000),
                        "c": rng.choice(list("xyz"), 2_000)})
    cur = pd.DataFrame({"a": rng.normal(0.4, 1, n_cur), "b": rng.normal(size=n_cur),
                        "c": rng.choice(list("xyz"), n_cur)})
    return ref, cur


def test_profiles_give_no_decision_on_too_few_current_rows_as_the_suite_does():
    ref, cur = _frames(n_cur=6)
    spec = drift.ProfileSpec().fit(ref)
    policy = DecisionPolicy(min_rows=10)
    from_profiles = drift.compare_profiles(spec.profile(ref), spec.profile(cur), policy=policy)
    from_tables = drift.run(ref, cur, multivariate=(), policy=policy)
    for result in (from_profiles, from_tables):
        decision = result.findings[-1]
        assert decision.details["action"] == "no decision" and math.isnan(decision.value)
        assert decision.details["n_rows"] == 6


def test_suite_and_profiles_end_alike_decision_last_every_finding_in_the_window():
    ref, cur = _frames()
    spec = drift.ProfileSpec().fit(ref)
    tables = drift.run(ref, cur, multivariate=(), window="2024-01-01")
    profiles = drift.compare_profiles(spec.profile(ref), spec.profile(cur),
                                      window="2024-01-01")
    for result in (tables, profiles):
        assert all(f.window == "2024-01-01" and f.name.endswith("@2024-01-01")
                   for f in result.findings)
        assert result.findings[-1].name == "drift/decision@2024-01-01"
        assert result.findings[-1].details["action"] == "investigate first"  # no labels
    psi = {f.name: (f.value, f.status) for f in tables.select(group="psi")}
    assert psi == {f.name: (f.value, f.status) for f in profiles.select(group="psi")}


def _finding(group, feature, p):
    return Finding(name=f"drift/{group}/{feature}", metric=group, value=0.2, p_value=p,
                   status="fail", effect="large", drill="drift", group=group, feature=feature,
                   message="raw", details={"test": group.upper(), "notes": "A note."})


def test_each_test_is_one_family_in_order_of_first_appearance():
    fs = [_finding("ks", "a", 0.01), _finding("psi", "a", None), _finding("ks", "b", 0.03),
          _finding("ad", "a", 0.02)]
    out = adjust_tests(fs, "holm", 0.05)
    assert [(f.group, f.feature) for f in out] == [("ks", "a"), ("ks", "b"), ("psi", "a"),
                                                   ("ad", "a")]
    ks_a, ks_b, psi, ad = out
    assert (ks_a.p_value, ks_b.p_value, ad.p_value) == pytest.approx((0.02, 0.03, 0.02))
    assert ks_a.details["n_tests"] == 2 and ad.details["n_tests"] == 1
    assert ks_a.details["p_raw"] == 0.01 and ks_a.details["correction"] == "holm"
    assert ks_a.message == "KS on 'a': large drift (ks=0.2, p=0.02 after holm). A note."
    assert psi is fs[1]  # no p-value: untouched
    high = adjust_tests([_finding("ks", "a", 0.04), _finding("ks", "b", 0.2)], "bonferroni",
                        0.05)
    assert [f.status for f in high] == ["pass", "pass"]
    assert high[0].message.startswith("KS on 'a': no significant drift")


def test_no_correction_only_orders_the_findings():
    fs = [_finding("ks", "a", 0.01), _finding("psi", "a", 0.5), _finding("ks", "b", 0.03)]
    out = adjust_tests(fs, "none", 0.05)
    assert out == [fs[0], fs[2], fs[1]]


def test_a_frame_on_a_strided_array_gives_the_findings_of_a_copy():
    """A frame built on a 2-D array without a copy has strided columns; the suite's
    findings on it are those of a contiguous copy."""
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=(3_000, 4)), rng.normal(size=(3_000, 4)) + [0, 0, 0.3, 0]
    cur[::5, 1] = np.nan
    suite = drift.DriftSuite(multivariate=()).fit(pd.DataFrame(ref))
    strided = pd.DataFrame(cur, copy=False)
    assert not strided[0].to_numpy().flags.c_contiguous
    from_view = [f.to_dict() for f in suite.run(strided).findings]
    assert from_view == [f.to_dict() for f in suite.run(pd.DataFrame(cur.copy())).findings]
