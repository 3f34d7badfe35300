"""The findings toolkit: names, interval findings, adjust-and-rejudge, windows, errors, matching."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from shakeout.report.findings import (adjust, error_finding, finding_name, in_window, matches,
                                      median_finding, proportion)
from shakeout.report.result import Finding


@pytest.mark.parametrize("args, at, name", [
    (("stress", "gaussian_noise", "accuracy_drop"), 0.1, "stress/gaussian_noise/accuracy_drop@0.1"),
    (("attack", "pgd", "robust_accuracy"), 8 / 255, "attack/pgd/robust_accuracy@0.0313725"),
    (("drift", "ks", None), None, "drift/ks"),
    (("drift", "ks", ""), "w2", "drift/ks@w2"),
    (("attack", "clean", "accuracy"), 1, "attack/clean/accuracy@1"),
])
def test_finding_name(args, at, name):
    assert finding_name(*args, at=at) == name


@pytest.mark.parametrize("k, n", [(0, 20), (7, 20), (20, 20), (450, 500)])
def test_proportion_is_the_clopper_pearson_interval(k, n):
    f = proportion("a/b", "accuracy", k, n, 0.9, drill="attack", group="clean", severity=0.5)
    lo = 0.0 if k == 0 else stats.beta.ppf(0.05, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(0.95, k + 1, n - k)
    assert f.value == k / n and f.ci == pytest.approx((lo, hi), abs=1e-12)
    assert (f.ci_level, f.drill, f.group, f.severity) == (0.9, "attack", "clean", 0.5)


def test_proportion_of_nothing_is_nan_over_the_whole_range():
    f = proportion("a", "attack_success_rate", 0, 0, 0.95)
    assert math.isnan(f.value) and f.ci == (0.0, 1.0)


def test_median_finding_interval_and_fields():
    values = np.random.default_rng(0).exponential(size=101)
    f = median_finding("attack/pgd/min_perturbation", "min_perturbation", values, 0.95,
                       message="Median.", group="pgd", unit="linf", details={"n": 101})
    s = np.sort(values)
    j = int(stats.binom.ppf(0.025, 101, 0.5))
    assert f.value == np.median(values) and f.ci == (s[j - 1], s[101 - j])
    assert (f.message, f.group, f.unit, f.details, f.ci_level) == ("Median.", "pgd", "linf",
                                                                   {"n": 101}, 0.95)


def test_median_finding_says_when_too_few_values_give_no_interval():
    f = median_finding("m", "adversarial_confidence", np.array([0.9, 0.8, 0.7]), 0.95,
                       message="median top probability.")
    assert f.ci is None and f.value == 0.8
    assert f.message == ("median top probability. No 95% interval: a median needs at least 6 "
                         "values for one (the range of 3 covers it with probability 75%).")


def test_median_finding_of_no_values_is_nan_without_a_note():
    f = median_finding("m", "min_perturbation", np.array([]), 0.95, message="None found.")
    assert math.isnan(f.value) and f.ci is None and f.message == "None found."


def test_median_finding_keeps_infinities_ordered():
    f = median_finding("m", "min_perturbation", np.r_[np.arange(10.0), [np.inf] * 3], 0.95)
    assert f.value == 6.0 and f.ci == (2.0, math.inf)


def _tests(ps, **fields):
    return [Finding(name=f"t{i}", metric=fields.pop("metric", "ks"), value=0.2, p_value=p,
                    **fields) for i, p in enumerate(ps)]


def test_adjust_within_families_and_passes_the_rest_through_in_place():
    a = Finding(name="a", metric="accuracy_drop", value=0.1, p_value=0.01)
    b = Finding(name="b", metric="flip_rate", value=0.1, status="info")
    c = Finding(name="c", metric="prediction_ks", value=0.1, p_value=0.02, details={"k": 1})
    d = Finding(name="d", metric="accuracy_drop", value=0.1, p_value=0.04)
    seen = []

    def judge(f, alpha):
        seen.append(alpha)
        return replace(f, status="warn" if f.p_value < alpha else "pass")

    out = adjust([a, b, c, d], "bonferroni", 0.05, family=lambda f: f.metric, judge=judge)
    assert out[1] is b and seen == [0.05] * 3
    assert [f.p_value for f in out] == [0.02, None, 0.02, 0.08]
    assert [f.status for f in out] == ["warn", "info", "warn", "pass"]
    assert out[2].details == {"k": 1, "p_raw": 0.02, "correction": "bonferroni", "n_tests": 1}
    assert out[3].details["n_tests"] == 2 and out[3].details["p_raw"] == 0.04


def test_adjust_one_family_by_default():
    out = adjust(_tests([0.01, 0.02, 0.03], metric="a") + _tests([0.04], metric="b"), "holm",
                 0.05, judge=lambda f, alpha: f)
    assert [f.details["n_tests"] for f in out] == [4, 4, 4, 4]
    assert [round(f.p_value, 6) for f in out] == [0.04, 0.06, 0.06, 0.06]


def test_adjust_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        adjust(_tests([0.01]), "sidak", 0.05, judge=lambda f, alpha: f)


def test_in_window_tags_and_renames():
    fs = in_window([Finding(name="drift/psi/x", metric="psi", value=0.1)], 202403)
    assert [(f.name, f.window) for f in fs] == [("drift/psi/x@202403", "202403")]


def test_error_finding():
    f = error_finding("drift", "chi2", None, "no categories", metric="chi2_statistic")
    assert (f.name, f.metric, f.status, f.drill, f.group, f.feature) == (
        "drift/chi2", "chi2_statistic", "warn", "drift", "chi2", None)
    assert math.isnan(f.value) and f.message == "no categories"
    assert f.details == {"error": "no categories"}


F = Finding(name="n", metric="accuracy_drop", value=0.1, drill="stress", subject="m1",
            group="noise", feature="age", severity=0.1, window="w1")


@pytest.mark.parametrize("criteria, hit", [
    ({}, True),
    ({"metric": "accuracy_drop", "drill": "stress", "subject": "m1", "group": "noise",
      "feature": "age", "severity": 0.1, "window": "w1"}, True),
    ({"severity": 0.30000000000000004 - 0.2}, True),
    ({"severity": 0.2}, False),
    ({"metric": "accuracy"}, False), ({"drill": "drift"}, False),
    ({"subject": "m2"}, False), ({"group": "blur"}, False), ({"feature": "income"}, False),
    ({"window": "w2"}, False),
])
def test_matches(criteria, hit):
    assert matches(F, **criteria) is hit


def test_matches_a_severity_only_where_one_exists():
    assert not matches(replace(F, severity=None), severity=0.1)


def test_matches_refuses_an_unknown_criterion():
    with pytest.raises(TypeError, match="colour"):
        matches(F, colour="red")
