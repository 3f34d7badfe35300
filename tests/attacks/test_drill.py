"""The attack drill: known answers, findings and gates, ensembles, sanity checks."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from shakeout import Result, ShakeoutError
from shakeout.attacks import FGSM, PGD, AttackPlan, DeepFool, SquareAttack, run
from shakeout.attacks.sanity import Outcome, sanity_findings
from shakeout.errors import ShakeoutWarning
from shakeout.report.gate import Gate, GateCondition
from shakeout.stats import clopper_pearson

from .conftest import margins

torch = pytest.importorskip("torch")
EPS = (0.02, 0.05, 0.1)


@pytest.fixture(scope="module")
def linear_result(linear3):
    W, b, X, y, net = linear3
    return run(net, X, y, attacks=["pgd", "apgd-ce", "deepfool"], eps=EPS, bounds=None, seed=0)


def test_robust_accuracy_matches_the_closed_form_with_exact_intervals(linear3, linear_result):
    W, b, X, y, net = linear3
    exact = margins(W, b, X.astype(np.float64), 1)
    for f in linear_result.select(group="ensemble", metric="robust_accuracy"):
        k = int(np.sum(exact > f.severity))
        assert f.value == k / len(X)
        assert f.ci == pytest.approx(clopper_pearson(k, len(X), 0.95))
        assert f.ci_level == 0.95 and f.unit == "linf in input space"
    assert [f.severity for f in linear_result.select(group="pgd-linf",
                                                     metric="robust_accuracy")] == list(EPS)


def test_min_perturbation_is_the_median_exact_margin(linear3, linear_result):
    W, b, X, y, net = linear3
    (f,) = linear_result.select(metric="min_perturbation")
    assert f.group == "deepfool-linf"
    exact = margins(W, b, X.astype(np.float64), 1)
    assert f.value == pytest.approx(np.median(exact), rel=1e-3)
    assert f.ci[0] <= f.value <= f.ci[1]
    assert set(f.details["quantiles"]) == {"p10", "p25", "p50", "p75", "p90"}


def test_findings_cover_every_attack_budget_and_class(linear3, linear_result):
    W, b, X, y, net = linear3
    groups = {f.group for f in linear_result.findings}
    assert groups == {"clean", "pgd-linf", "apgd-ce-linf", "deepfool-linf", "ensemble", "sanity"}
    classes = linear_result.select(group="ensemble", metric="class_robust_accuracy")
    assert len(classes) == len(EPS) * len(np.unique(y))
    assert all(f.drill == "attack" for f in linear_result.findings)
    rates = linear_result.select(group="ensemble", metric="attack_success_rate")
    robust = linear_result.select(group="ensemble", metric="robust_accuracy")
    for r, a in zip(rates, robust, strict=True):
        assert r.details["fooled"] + a.value * len(X) == pytest.approx(r.details["clean_correct"])
    assert all(f.status == "pass" for f in linear_result.select(metric="sanity"))


def test_results_json_round_trip(linear_result):
    again = Result.from_dict(json.loads(json.dumps(linear_result.to_dict())))
    assert again.findings == linear_result.findings
    assert linear_result.manifest.parameters["eps"] == list(EPS)
    assert "pgd-linf_s" in linear_result.manifest.timings


def test_gate_on_the_interval_bound(linear_result):
    f = linear_result.select(group="pgd-linf", metric="robust_accuracy")[1]
    passing = GateCondition(metric="robust_accuracy", drill="attack", group="pgd-linf",
                            severity=0.05, min=f.ci[0] - 0.01)
    failing = GateCondition(metric="robust_accuracy", drill="attack", group="pgd-linf",
                            severity=0.05, min=f.value)  # the point estimate is not enough
    assert Gate(conditions=[passing]).check(linear_result).passed
    assert not Gate(conditions=[failing]).check(linear_result).passed


@pytest.mark.filterwarnings("ignore::shakeout.errors.ShakeoutWarning")  # 50 queries are few
def test_same_seed_same_numbers(digits):
    net, X, y = digits
    attacks = [PGD(eps=0.1, steps=5), SquareAttack(eps=0.1, steps=50)]
    first, second = (run(net, X, y, attacks=attacks, eps=[0.05, 0.1], seed=3) for _ in range(2))
    assert [f.value for f in first.findings] == [f.value for f in second.findings]


def test_default_ensemble_on_images(digits):
    net, X, y = digits
    result = run(net, X, y, eps=[0.05, 0.1], seed=0)
    groups = {f.group for f in result.findings}
    assert {"apgd-ce-linf", "apgd-dlr-linf", "fgsm-linf", "deepfool-linf", "square-linf",
            "ensemble"} <= groups
    ens = {f.severity: f.value for f in result.select(group="ensemble", metric="robust_accuracy")}
    for f in result.select(metric="robust_accuracy"):
        assert ens[f.severity] <= f.value + 1e-12  # the worst case is never above an attack
    assert {f.feature for f in result.select(metric="sanity")} == {
        "monotone", "unbounded", "black_box_stronger", "single_step_stronger"}


def test_black_box_drill_on_a_table_from_a_plan(tabular):
    clf, X, y, X_all = tabular
    X, y = X.iloc[:30], y[:30]
    plan = AttackPlan.model_validate({"eps": [0.5, 2.0], "bounds": "data",
                                      "immutable": ["mean radius"],
                                      "categorical": {"plan": [0, 1, 2]}})
    kwargs = plan.run_kwargs(X)
    result = run(clf, X, y, seed=0, **kwargs)
    assert {f.group for f in result.findings} >= {"square-linf", "transfer-linf", "ensemble"}
    transfer = result.select(group="transfer-linf", metric="attack_success_rate")[0]
    assert 0 <= transfer.details["transfer_rate"] <= 1
    assert transfer.details["surrogate_fidelity"] > 0.8


class _Quantised(torch.nn.Module):
    """Rounds its input to quarter steps: gradients vanish, the decision does not."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 4) / 4)


@pytest.mark.filterwarnings("ignore:attack sanity check 'unbounded'")
def test_gradient_masking_is_flagged(digits):
    net, X, y = digits
    masked = _Quantised(net)
    with pytest.warns(ShakeoutWarning, match="black_box_stronger"):
        result = run(masked, X, y, eps=[0.2], seed=0,
                     attacks=[PGD(eps=0.2, steps=5), SquareAttack(eps=0.2, steps=100)])
    (check,) = [f for f in result.select(metric="sanity") if f.feature == "black_box_stronger"]
    assert check.status == "warn" and check.value > 0.02


@pytest.mark.filterwarnings("ignore:attack sanity check 'unbounded'")  # the crippled PGD probes
def test_single_step_stronger_than_iterative_is_flagged(digits):
    net, X, y = digits
    crippled = PGD(eps=0.1, steps=1, step_size=1e-4, random_start=False)
    with pytest.warns(ShakeoutWarning, match="single_step_stronger"):
        run(net, X, y, attacks=[crippled, FGSM(eps=0.1)], eps=[0.1], seed=0)


def test_healthy_evaluation_raises_no_warning(linear3):
    W, b, X, y, net = linear3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShakeoutWarning)
        run(net, X, y, attacks=["pgd", "fgsm"], eps=[0.05], bounds=None, seed=0)


def test_monotone_check_counts_points_lost_at_larger_budgets():
    fooled = {0.1: np.array([True, True, False, False]), 0.2: np.array([True, False, False, True])}
    outcomes = {("pgd", e): Outcome("pgd", "pgd", True, e, f, np.ones(4), 0.0)
                for e, f in fooled.items()}
    (check,) = sanity_findings(outcomes, [0.1, 0.2], None, tolerance=0.0, level=0.95)
    assert check.feature == "monotone" and check.value == 0.25 and check.status == "warn"
    assert "fools 1 points at eps=0.1 but not at eps=0.2" in check.message


def test_minimal_attack_alone_gives_every_budget(linear3):
    W, b, X, y, net = linear3
    result = run(net, X, y, attacks=[DeepFool(norm="l2")], norm="l2", eps=[0.05, 0.1],
                 bounds=None, sanity=False, seed=0)
    exact = margins(W, b, X.astype(np.float64), 2)
    values = [f.value for f in result.select(group="deepfool-l2", metric="robust_accuracy")]
    assert values == [np.mean(exact > 0.05), np.mean(exact > 0.1)]


def test_errors_are_shakeout_errors(linear3):
    W, b, X, y, net = linear3
    with pytest.raises(ShakeoutError, match="outside bounds"):
        run(net, X + 5, y, eps=[0.1])


def test_median_of_too_few_points_has_no_interval_and_says_why():
    """Three fooled points cannot carry a 95% interval for their median (the range is 75%)."""
    from shakeout.attacks.findings import min_perturbation

    f = min_perturbation("pgd", np.array([0.1, 0.2, 0.3]), 0.01, 0.95, "l2")
    assert f.ci is None and f.value == pytest.approx(0.2)
    assert "No 95% interval" in f.message and "75%" in f.message
    assert min_perturbation("pgd", np.linspace(0.1, 1, 6), 0.01, 0.95, "l2").ci is not None
