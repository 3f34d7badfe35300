"""Gates judge the pessimistic end of an interval; a condition matching nothing fails."""

from __future__ import annotations

import math

import pytest

from shakeout.errors import ValidationError
from shakeout.plan import Plan, parse_plan
from shakeout.report import Finding, Gate, GateCondition, GateOutcome, Result


def _result(*findings: Finding) -> Result:
    return Result(title="t", findings=findings)


DROP = Finding(name="stress/noise/accuracy_drop@0.1", metric="accuracy_drop", value=0.01,
               ci=(0.0, 0.03), drill="stress", group="noise", severity=0.1)
ACC = Finding(name="stress/noise/accuracy@0.1", metric="accuracy", value=0.9, ci=(0.85, 0.95),
              drill="stress", group="noise", severity=0.1)


def _check(*conditions: GateCondition, findings=(DROP, ACC)):
    return Gate(conditions=list(conditions)).check(_result(*findings))


def test_max_is_judged_on_the_upper_bound():
    out = _check(GateCondition(metric="accuracy_drop", max=0.02))
    assert not out.passed and out.exit_code == 1
    (o,) = out.outcomes
    assert o.condition == "accuracy_drop <= 0.02"
    assert o.reasons == ("stress/noise/accuracy_drop@0.1: upper bound 0.03 > 0.02",)
    assert _check(GateCondition(metric="accuracy_drop", max=0.03)).passed  # bound is inclusive


def test_min_is_judged_on_the_lower_bound():
    out = _check(GateCondition(metric="accuracy", min=0.88))
    assert not out.passed
    assert out.outcomes[0].reasons == ("stress/noise/accuracy@0.1: lower bound 0.85 < 0.88",)
    ok = _check(GateCondition(metric="accuracy", min=0.85))
    assert ok.passed and ok.exit_code == 0
    assert ok.outcomes[0].reasons == ("stress/noise/accuracy@0.1: [0.85, 0.95] within bound",)


def test_on_value_judges_the_point_estimate():
    out = _check(GateCondition(metric="accuracy_drop", max=0.02, on="value"),
                 GateCondition(metric="accuracy", min=0.88, on="value"))
    assert out.passed
    assert out.outcomes[0].reasons == ("stress/noise/accuracy_drop@0.1: 0.01 within bound",)
    out = _check(GateCondition(metric="accuracy", min=0.95, on="value"))
    assert out.outcomes[0].reasons == ("stress/noise/accuracy@0.1: value 0.9 < 0.95",)


def test_finding_without_interval_is_judged_on_its_value():
    score = Finding(name="stress/noise/robustness_score", metric="robustness_score", value=0.8)
    out = _check(GateCondition(metric="robustness_score", min=0.9), findings=(score,))
    assert out.outcomes[0].reasons == ("stress/noise/robustness_score: value 0.8 < 0.9",)


def test_min_and_max_together():
    cond = GateCondition(metric="accuracy", min=0.8, max=0.99)
    assert cond.describe() == "accuracy >= 0.8 and <= 0.99"
    assert _check(cond).passed
    assert not _check(GateCondition(metric="accuracy", min=0.8, max=0.94)).passed


def test_condition_matching_nothing_fails_when_required():
    out = _check(GateCondition(metric="accuracy_drop", group="gausian_noise", max=0.05))
    assert not out.passed
    assert out.outcomes[0].reasons == ("no finding matches this condition",)
    optional = _check(GateCondition(metric="accuracy_drop", group="gausian_noise", max=0.05,
                                    required=False))
    assert optional.passed


def test_selection_by_scope_and_severity():
    other = Finding(name="stress/noise/accuracy_drop@0.3", metric="accuracy_drop", value=0.2,
                    ci=(0.15, 0.25), drill="stress", group="noise", severity=0.30000000000000004)
    findings = (DROP, ACC, other)
    at_01 = _check(GateCondition(metric="accuracy_drop", severity=0.1, max=0.05),
                   findings=findings)
    assert at_01.passed and len(at_01.outcomes[0].reasons) == 1
    at_03 = _check(GateCondition(metric="accuracy_drop", severity=0.3, max=0.05),
                   findings=findings)  # float noise in the severity still matches
    assert not at_03.passed
    everywhere = _check(GateCondition(metric="accuracy_drop", group="noise", max=0.05),
                        findings=findings)
    assert not everywhere.passed and len(everywhere.outcomes[0].reasons) == 2
    wrong_drill = _check(GateCondition(metric="accuracy_drop", drill="attack", max=1.0),
                         findings=findings)
    assert not wrong_drill.passed


def test_nan_value_never_passes():
    bad = Finding(name="x", metric="accuracy", value=math.nan)
    out = _check(GateCondition(metric="accuracy", min=0.0), findings=(bad,))
    assert out.outcomes[0].reasons == ("x: value is NaN",)
    assert not out.passed


def test_every_condition_gets_an_outcome_and_the_gate_needs_all():
    out = _check(GateCondition(metric="accuracy", min=0.5), GateCondition(metric="accuracy_drop",
                                                                          max=0.02))
    assert [o.passed for o in out.outcomes] == [True, False]
    assert not out.passed
    d = out.to_dict()
    assert d["passed"] is False and [c["passed"] for c in d["conditions"]] == [True, False]
    assert Gate().check(_result(DROP)).passed  # no conditions: nothing to fail


def test_condition_needs_a_bound_and_a_known_mode():
    with pytest.raises(ValidationError, match=r"^GateCondition is invalid: gate on 'accuracy' "
                                              r"needs max or min \(e\.g\. max: 0\.05"):
        GateCondition(metric="accuracy")
    with pytest.raises(ValidationError, match=r"on must be 'bound' or 'value', got 'upper'"):
        GateCondition(metric="accuracy", min=0.5, on="upper")


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(metric="accuracy", max="x"), r"GateCondition is invalid: max: Input should be a valid "
                                       r"number, unable to parse string as a number, got 'x'\.$"),
    (dict(metric="accuracy", maximum=0.5), r"maximum: Extra inputs are not permitted \(remove it "
                                           r"or fix its spelling; the fields are metric, drill, "
                                           r"subject, group, feature, severity, max, min, on, "
                                           r"required\)"),
    (dict(max=0.5), r"metric: Field required; add it"),
    (dict(metric="accuracy", min=float("nan")), r"min: Input should be a finite number, got nan"),
    (dict(metric=["accuracy"], max=0.1, severity="high"),
     r"metric: Input should be a valid string, got \['accuracy'\]; severity: Input should be a "
     r"valid number"),
])
def test_condition_errors_are_shakeouts_and_name_the_field(kwargs, message):
    """pydantic's own multi-line error used to reach Python users of the gate API."""
    with pytest.raises(ValidationError, match=message):
        GateCondition(**kwargs)


def test_gate_and_plan_built_in_python_name_the_nested_field():
    with pytest.raises(ValidationError, match=r"^Gate is invalid: conditions\.1\.min: Input "
                                              r"should be a valid number"):
        Gate(conditions=[GateCondition(metric="a", max=1), {"metric": "b", "min": "low"}])
    with pytest.raises(ValidationError, match=r"^Plan is invalid: gates\.0\.maxi: Extra inputs "
                                              r"are not permitted .*the fields are metric, drill"):
        Plan(gates=[{"metric": "accuracy", "maxi": 0.5}])
    with pytest.raises(ValidationError, match=r"^Plan is invalid: stress\.n_boot: Extra inputs "
                                              r"are not permitted \(remove it or fix its "
                                              r"spelling; the fields are .*n_bootstrap"):
        Plan.model_validate({"stress": {"n_boot": 10}})
    with pytest.raises(ValidationError, match=r"plan is invalid: seed: Input should be greater "
                                              r"than or equal to 0, got -1"):
        parse_plan({"seed": -1})


def test_plan_errors_name_the_field():
    with pytest.raises(ValidationError, match=r"plan is invalid: gates.0.maximum: Extra inputs "
                                              r"are not permitted"):
        parse_plan({"gates": [{"metric": "accuracy", "maximum": 0.5}]})
    with pytest.raises(ValidationError, match=r"stress.n_bootstrap: Input should be greater than "
                                              r"or equal to 10"):
        parse_plan({"stress": {"n_bootstrap": 5}})
    plan = parse_plan({"gates": [{"metric": "accuracy", "min": 0.5}]})
    assert plan.gate.conditions[0].describe() == "accuracy >= 0.5"


def test_zero_width_interval_never_passes_a_gate():
    """A bootstrap on one row gives [v, v]: it bounds nothing, so the condition fails."""
    degenerate = Finding(name="stress/noise/accuracy_drop@0.1", metric="accuracy_drop",
                         value=0.0, ci=(0.0, 0.0), drill="stress", group="noise",
                         severity=0.1, details={"n_rows": 1})
    out = _check(GateCondition(metric="accuracy_drop", max=0.02), findings=(degenerate,))
    assert not out.passed and out.exit_code == 1
    (reason,) = out.outcomes[0].reasons
    assert "has zero width" in reason and "on 1 rows" in reason
    # judged on the value by choice, it is the user's call
    assert _check(GateCondition(metric="accuracy_drop", max=0.02, on="value"),
                  findings=(degenerate,)).passed


def test_each_outcome_names_the_findings_it_judged():
    """The report finds which failing findings lie outside the gate from these names, not by
    reading them off the reasons (a name holding ': ' would cut short there)."""
    odd = Finding(name="stress/noise: wide/accuracy_drop@0.3", metric="accuracy_drop",
                  value=0.2, ci=(0.15, 0.25), drill="stress", group="noise: wide", severity=0.3)
    out = _check(GateCondition(metric="accuracy_drop", max=0.05),
                 GateCondition(metric="accuracy", min=0.5),
                 GateCondition(metric="accuracy", group="blur", min=0.5, required=False),
                 findings=(DROP, ACC, odd))
    assert [o.findings for o in out.outcomes] == [(DROP.name, odd.name), (ACC.name,), ()]
    saved = out.to_dict()
    assert saved["conditions"][0]["findings"] == [DROP.name, odd.name]
    assert GateOutcome.from_dict(saved) == out


def test_a_malformed_saved_finding_list_is_refused():
    saved = {"conditions": [{"condition": "c", "passed": True, "reasons": [], "findings": 3}]}
    with pytest.raises(ValidationError, match=r"the saved gate verdict is malformed \(TypeError"):
        GateOutcome.from_dict(saved)
