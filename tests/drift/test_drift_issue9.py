"""Issue #9, drift: unit changes, every drifted feature named, one voice with the
performance finding, values printed in their own band, category values in findings."""

import numpy as np
import pandas as pd
import pytest

from shakeout import drift
from shakeout.drift import PSI, Chi2Test, UnitChange, decide
from shakeout.drift._base import in_band
from shakeout.errors import ValidationError
from shakeout.report import Finding


def _psi(feature, value, p=1e-9):
    return Finding(name=f"drift/psi/{feature}", metric="psi", value=value, drill="drift",
                   group="psi", feature=feature, status="fail" if value >= 0.25 else "warn",
                   details={"chance_p_value": p})


def test_a_unit_change_of_an_important_feature_fails_the_default_gate(tmp_path, monkeypatch):
    """Item 2 of the issue: x1000 on the feature the model reads exited 0 ("investigate
    first": the model's accuracy did not move, so the decision called it stable)."""
    from shakeout.cli import main

    (tmp_path / "sign_model.py").write_text(
        "import numpy as np, pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "rng = np.random.default_rng(1)\n"
        "X = pd.DataFrame({'a': rng.normal(size=2000), 'b': rng.normal(size=2000)})\n"
        "model = LogisticRegression().fit(X, (X['a'] > 0).astype(int))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(2)
    frames = []
    for n in (1500, 1000):
        X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
        frames.append(X.assign(y=(X["a"] > 0).astype(int)))
    frames[1]["a"] *= 1000
    for name, frame in zip(("ref", "cur"), frames):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    code = main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"), "--target", "y",
                 "--model", "sign_model:model", "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 1
    import json

    data = json.loads((tmp_path / "out" / "results.json").read_text())
    decision = data["findings"][-1]
    assert "looks like a unit change (x1000)" in decision["message"]
    assert decision["details"]["unit_changes"] == ["a"]
    (unit,) = [f for f in data["findings"] if f["group"] == "units" and f["feature"] == "a"]
    assert unit["status"] == "fail" and "looks like a unit change (x1000)" in unit["message"]


@pytest.mark.parametrize("factor, text", [(1000.0, "x1000"), (0.01, "x0.01"), (10.0, "x10")])
def test_unit_change_names_the_factor(factor, text):
    rng = np.random.default_rng(0)
    test = UnitChange().fit(pd.Series(rng.lognormal(3, 1, 400), name="length"))
    f = test.compare(pd.Series(rng.lognormal(3, 1, 200) * factor, name="length"))
    assert f.status == "fail" and f.details["factor"] == pytest.approx(factor)
    assert f"'length' looks like a unit change ({text})" in f.message


def test_unit_change_does_not_fire_on_other_drift_or_small_samples():
    rng = np.random.default_rng(1)
    ref = rng.normal(5.0, 1.0, 2000)
    test = UnitChange().fit(ref)
    assert test.compare(rng.normal(8.0, 1.0, 2000)).status == "pass"  # a shift
    assert test.compare(rng.normal(5.0, 4.0, 2000)).status == "pass"  # a wider spread
    assert test.compare(rng.normal(50.0, 1.0, 2000)).status == "pass"  # x10 mean, not scale
    small = test.compare(rng.normal(5.0, 1.0, 10) * 1000)
    assert small.status == "info" and "needs 20 values" in small.message
    with pytest.raises(ValidationError, match="tolerance"):
        UnitChange(tolerance=3)


def test_decision_names_every_drifted_feature_important_or_not():
    rng = np.random.default_rng(3)
    cols = [f"f{i}" for i in range(12)]
    ref = pd.DataFrame(rng.normal(size=(2000, 12)), columns=cols)
    cur = pd.DataFrame(rng.normal(size=(2000, 12)), columns=cols)
    for i in range(10):  # ten features drift, more strongly the higher the index
        cur[f"f{i}"] += 0.3 + 0.1 * i
    importance = {c: 0.0 for c in cols} | {"f0": 0.5, "f11": 0.5}
    decision = drift.run(ref, cur, multivariate=(), importance=importance).findings[-1]
    named = decision.details["drifted_features"]
    assert named[0] == "f0" and sorted(named) == sorted(cols[:10])
    assert named[1:] == [f"f{i}" for i in range(9, 0, -1)]  # then strongest first
    assert "Drifted features (10): 'f0', 'f9' (not important to the model)" in decision.message
    assert "and 2 more" in decision.message


def test_decision_repeats_the_performance_verdict():
    """A significant 2.6% loss said "performance is stable" in the decision."""
    perf = Finding(name="drift/performance/degradation", metric="degradation", value=0.026,
                   ci=(0.011, 0.041), status="pass", drill="drift", group="performance",
                   message="Performance degradation 2.6% [1.1%, 4.1%]: significant but small.")
    decision = decide([_psi("age", 0.3), perf])
    assert "stable" not in decision.message
    assert "performance dropped 2.6%, significant but small" in decision.message
    quiet = decide([perf])
    assert quiet.details["action"] == "continue monitoring"
    assert "significant but small" in quiet.message and "stable" not in quiet.message


def test_printed_values_stay_in_their_band():
    """PSI 0.2496 printed "0.25 (moderate)" beside the 0.25 "major" edge."""
    decision = decide([_psi("age", 0.2496)])
    assert "PSI 0.2496 (moderate)" in decision.details["evidence"][0]
    rng = np.random.default_rng(0)
    psi = PSI().fit(rng.normal(size=1000))
    assert psi.describe("age", 0.24996) == ("PSI on 'age' is 0.24996: moderate shift "
                                           "(consider retraining).")
    assert in_band(0.0999, (0.1, 0.2)) == "0.0999" and in_band(0.1, (0.1,)) == "0.1"
    from shakeout.drift.performance import Score, performance_findings

    ref = Score("accuracy", np.r_[np.ones(9000), np.zeros(1000)])
    cur = Score("accuracy", np.r_[np.ones(8731), np.zeros(1269)])  # a 2.99% loss
    drop = performance_findings(ref, cur, max_degradation=0.03)[1]
    assert drop.value < 0.03 and "degradation 2.99%" in drop.message


def test_categorical_findings_carry_the_category_values():
    ref = pd.Series(np.repeat(["red", "green", "blue"], [500, 300, 200]), name="colour")
    cur = pd.Series(np.repeat(["red", "green", "blue"], [200, 300, 500]), name="colour")
    for test in (PSI(), Chi2Test()):
        f = test.fit(ref).compare(cur)
        cats = f.details["categories"]
        assert len(cats) == len(f.details["current_counts"])
        assert cats[:3] == ["blue", "green", "red"]
        assert "'blue' 20.0% -> 50.0%" in f.message


def test_category_values_survive_the_suites_correction():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 2000),
                        "a": rng.normal(size=2000)})
    cur = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 2000, p=[0.6, 0.2, 0.2]),
                        "a": rng.normal(size=2000)})
    result = drift.run(ref, cur, multivariate=())
    (chi2,) = [f for f in result.select(group="chi2") if f.feature == "colour"]
    assert "after holm" in chi2.message and "Largest moves: 'red'" in chi2.message
    assert chi2.details["categories"] == ["blue", "green", "red"]
