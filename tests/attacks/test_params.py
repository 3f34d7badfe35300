"""Per-attack settings from the API, the plan and the command line; strict ``make``; progress
per attack."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from shakeout import ValidationError, wrap
from shakeout.attacks import AttackPlan, make, run
from shakeout.report import Result


@pytest.fixture(scope="module")
def logistic():
    """A logistic model on 4 features in [0, 1], with the points it classifies."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(120, 4))
    y = (X.sum(axis=1) > 2).astype(int)
    return LogisticRegression().fit(X, y), X, y


class Counted:
    """A classifier that counts the rows it is asked about (the attack's queries)."""

    def __init__(self, clf):
        self.clf, self.rows = clf, 0
        self.classes_ = clf.classes_

    def predict_proba(self, X):
        self.rows += len(X)
        return self.clf.predict_proba(X)


# -- make: a parameter the attack does not take is refused ------------------------------------

@pytest.mark.parametrize("name, params, match", [
    ("square", {"eps": 0.1, "queries": 50},
     r"attack 'square': unknown parameter\(s\) queries; SquareAttack takes eps, norm, steps, "
     r"p_init, bounds, constraints, batch_size\."),
    ("hopskipjump", {"iterations": 5, "stepz": 1},
     r"unknown parameter\(s\) iterations, stepz; HopSkipJump takes eps, norm, steps, "
     r"init_evals"),
    ("apgd-ce", {"eps": 0.1, "loss": "dlr"},
     r"attack 'apgd-ce' means loss='ce', got loss='dlr'; name the attack that uses another "
     r"loss"),
])
def test_make_refuses_what_the_attack_does_not_take(name, params, match):
    with pytest.raises(ValidationError, match=match):
        make(name, **params)


def test_make_still_takes_a_matching_norm_for_a_one_norm_attack():
    assert make("cw", norm="l2", steps=3).steps == 3
    assert make("apgd-ce", eps=0.1, loss="ce").loss == "ce"


# -- the drill: params by attack name ---------------------------------------------------------

def test_params_set_the_query_budget_of_a_named_attack(logistic):
    clf, X, y = logistic
    counted = Counted(clf)
    result = run(counted, X, y, attacks=["square"], params={"square": {"steps": 7}},
                 eps=[0.01], sanity=False, seed=0)
    assert "steps=7" in result.manifest.parameters["attacks"]["square-linf"]
    # a clean pass, the attack's own check of each batch, at most 7 queries a row, the check
    assert counted.rows <= len(X) * (1 + 1 + 7 + 1)


def test_params_change_the_default_ensemble(logistic):
    clf, X, y = logistic
    result = run(clf, X, y, norm="l2", params={"square": {"steps": 5},
                                               "hopskipjump": {"steps": 2, "max_evals": 50}},
                 eps=[0.1], sanity=False, seed=0)
    attacks = result.manifest.parameters["attacks"]
    assert "steps=5" in attacks["square-l2"] and "p_init=0.1" in attacks["square-l2"]
    assert "steps=2" in attacks["hopskipjump-l2"] and "max_evals=50" in attacks["hopskipjump-l2"]


def test_own_batch_size_beats_the_drills(logistic):
    clf, X, y = logistic
    result = run(clf, X, y, attacks=["square"], params={"square": {"batch_size": 16}},
                 batch_size=64, eps=[0.01], sanity=False, seed=0)
    assert "batch_size=16" in result.manifest.parameters["attacks"]["square-linf"]


@pytest.mark.parametrize("attacks, params, match", [
    (["square"], {"hopskipjump": {"steps": 3}},
     r"params names 'hopskipjump', an attack this run does not use \(it runs square\)"),
    (None, {"pgd": {"steps": 3}},
     r"the default ensemble: params names 'pgd', an attack this run does not use \(it runs "
     r"square"),
    (["square"], {"square": {"eps": 0.5}}, r"params\['square'\] sets eps, which every attack"),
    (["square"], {"square": 500}, r"params\['square'\] must map parameter names to values"),
    (["square"], [("square", {})], r"params must map attack names to their settings"),
    (["square"], {"square": {"queries": 500}}, r"unknown parameter\(s\) queries; SquareAttack"),
    (["square"], {"square": {"steps": 0}}, r"SquareAttack: steps must be in \[1, inf\]"),
])
def test_bad_params_are_named(logistic, attacks, params, match):
    clf, X, y = logistic
    with pytest.raises(ValidationError, match=match):
        run(clf, X, y, attacks=attacks, params=params, eps=[0.1], sanity=False)


def test_the_plan_carries_params():
    plan = AttackPlan.model_validate({"attacks": ["square"],
                                      "params": {"square": {"steps": 50, "p_init": 0.1}}})
    assert plan.run_kwargs(None)["params"] == {"square": {"steps": 50, "p_init": 0.1}}
    assert AttackPlan().run_kwargs(None)["params"] is None


# -- the command line -------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path, logistic):
    import joblib

    clf, X, y = logistic
    model = tmp_path / "clf.joblib"
    joblib.dump(clf, model)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    return model, data


def test_attack_param_option_overrides_the_plan(cli, files, tmp_path):
    model, data = files
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"attack": {
        "attacks": ["square"], "eps": [0.01],
        "params": {"square": {"steps": 40, "p_init": 0.2}}}}))
    code, err = cli("attack", model, data, "--trust-pickle", "--plan", plan, "--attack-param",
                    "square.steps=6", "--no-sanity", "--out", tmp_path / "o", "--quiet")
    assert code == 0, err
    square = Result.load(tmp_path / "o" / "results.json").manifest.parameters["attacks"]
    assert "steps=6" in square["square-linf"] and "p_init=0.2" in square["square-linf"]


@pytest.mark.parametrize("param, message", [
    ("square=6", "--attack-param must be NAME.PARAM=VALUE, e.g. square.steps=500, got 'square=6'"),
    ("square.steps", "--attack-param must be NAME.PARAM=VALUE"),
    ("square.queries=6", "unknown parameter(s) queries; SquareAttack takes eps, norm, steps"),
    ("hopskipjump.steps=6", "params names 'hopskipjump', an attack this run does not use"),
])
def test_bad_attack_param_exits_2_in_one_line(cli, files, tmp_path, param, message):
    model, data = files
    code, err = cli("attack", model, data, "--trust-pickle", "--attack", "square",
                    "--attack-param", param, "--out", tmp_path / "o", "--quiet")
    assert code == 2
    assert message in err
    assert err.strip().splitlines()[-1].startswith("error:")


def test_progress_names_each_attack_and_quiet_hides_it(cli, files, tmp_path, monkeypatch):
    model, data = files
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws bars as on a terminal
    args = ("attack", model, data, "--trust-pickle", "--attack", "square", "--eps", "0.01,0.02")
    code, err = cli(*args, "--out", tmp_path / "a")
    assert code == 0, err
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    assert re.search(r"square-linf .*/2", shown)
    assert re.search(r"square-linf \(sanity: whole range\) .*/1", shown)
    code, err = cli(*args, "--out", tmp_path / "b", "--quiet")
    assert code == 0, err
    assert "square-linf" not in err
