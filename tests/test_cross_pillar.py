"""The generic checks, run on every registered class (scikit-learn's ``check_estimator`` idea).

Every perturbation of ``shakeout.perturb.REGISTRY``, every attack of
``shakeout.attacks.CATALOG`` and every drift test a suite runs by name goes through the
same checks: the same seed gives the same output bit for bit; each invalid parameter gives a
``ValidationError`` that names the class and the parameter; the class docstring carries an
example, and it runs. Every drill of ``shakeout.drills`` likewise: its plan section refuses an
unknown setting naming the section, has a default for every setting, and its run gives the
same findings for the same seed. A new class in a registry, or a new drill, is checked
without a line added here.
"""

from __future__ import annotations

import doctest
import inspect
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shakeout import drills
from shakeout.attacks import CATALOG
from shakeout.attacks import make as make_attack
from shakeout.attacks._base import attack_class
from shakeout.drift.suite import MULTIVARIATE, UNIVARIATE
from shakeout.data import Dataset
from shakeout.errors import ValidationError
from shakeout.perturb import REGISTRY
from shakeout.plan import parse_plan

torch = pytest.importorskip("torch")

PERTURBATIONS = sorted(REGISTRY)
ATTACKS = sorted(CATALOG)
DRIFT_TESTS = {**UNIVARIATE, **MULTIVARIATE}
CLASSES = ([REGISTRY[n] for n in PERTURBATIONS] + [attack_class(n)[0] for n in ATTACKS]
           + list(DRIFT_TESTS.values()))
CLASSES = list(dict.fromkeys(CLASSES))  # BIM and the APGD presets share a class
REQUIRED = {"eps": 0.1}
"""Values for parameters a class requires, so that one other parameter can be made bad."""
QUICK = {"steps": 4, "epochs": 2, "init_evals": 10, "max_evals": 40, "binary_steps": 2,
         "refine_steps": 2, "restarts": 1}
"""Settings that keep each attack to a few iterations on the tiny data."""


def _required(cls: type, but: str = "") -> dict[str, Any]:
    """Values for the parameters ``cls`` requires (no default), ``but`` one."""
    return {p.name: REQUIRED[p.name] for p in inspect.signature(cls).parameters.values()
            if p.default is p.empty and p.kind is p.KEYWORD_ONLY and p.name != but}


def _bad(default: Any) -> Any:
    """A value no parameter with this default takes, or None where the default says nothing."""
    if isinstance(default, bool):
        return "yes"
    if isinstance(default, (int, float)):
        return math.nan
    if isinstance(default, str):
        return "no-such-choice"
    if isinstance(default, tuple):
        return "ab"
    return None


def _bad_parameters() -> list[tuple[type, str, Any]]:
    out = []
    for cls in CLASSES:
        for p in inspect.signature(cls).parameters.values():
            value = _bad(p.default) if p.default is not p.empty else None
            if value is not None:
                out.append((cls, p.name, value))
    return out


@pytest.mark.parametrize("cls, name, value", _bad_parameters(),
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_a_bad_parameter_is_refused_naming_the_class_and_the_parameter(cls, name, value):
    given = _required(cls, but=name)
    with pytest.raises(ValidationError) as caught:
        cls(**given, **{name: value})
    assert cls.__name__ in str(caught.value) and name in str(caught.value)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_class_docstring_example_runs(cls):
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(
        cls, globs=vars(sys.modules[cls.__module__]).copy()) if t.examples]
    assert tests, f"{cls.__name__}'s docstring has no example"
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t, out=lambda _: None)
    assert runner.failures == 0, f"{cls.__name__}'s docstring example fails"


# -- seeded determinism: the same seed, the same output bit for bit -------------------------

def _tiny_inputs() -> list[Any]:
    """Candidates, in order: a numeric table, images, a table with a categorical column."""
    rng = np.random.default_rng(0)
    return [rng.normal(size=(40, 3)), rng.random((6, 1, 8, 8)),
            pd.DataFrame({"colour": ["red", "green", "blue"] * 20, "size": rng.random(60)})]


def _perturbed(name: str, seed: int) -> Any:
    cls = REGISTRY[name]
    severity = max(cls.default_severities)
    if cls.kind == "model":
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5),
                                  torch.nn.Linear(8, 2))
        with torch.no_grad():
            for i, p in enumerate(net.parameters()):
                p.copy_(torch.from_numpy(np.random.default_rng(i).normal(size=p.shape)))
        x = np.random.default_rng(9).normal(size=(5, 4)).astype(np.float32)
        return cls().apply(net, severity, seed=seed).predict_proba(x)
    for X in _tiny_inputs():
        try:
            return cls().fit(X).apply(X, severity, seed=seed)
        except ValidationError:
            continue
    raise AssertionError(f"{cls.__name__} takes none of the tiny inputs")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_a_perturbation_gives_the_same_output_for_the_same_seed(name):
    assert _same(_perturbed(name, 3), _perturbed(name, 3))


def _attacked(name: str, seed: int) -> np.ndarray:
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]))
        net.bias.copy_(torch.tensor([5.0, -5.0]))
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 2)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    cls, _ = attack_class(name)
    takes = inspect.signature(cls).parameters
    quick = {k: v for k, v in QUICK.items() if k in takes}
    return make_attack(name, **_required(cls), **quick).apply(net, X, y, seed=seed)


@pytest.mark.parametrize("name", ATTACKS)
def test_an_attack_gives_the_same_examples_for_the_same_seed(name):
    assert np.array_equal(_attacked(name, 5), _attacked(name, 5))


def _drift_finding(name: str, seed: int) -> dict:
    cls = DRIFT_TESTS[name]
    rng = np.random.default_rng(0)
    shape = (150, 3) if name in MULTIVARIATE else (150,)
    ref, cur = rng.normal(size=shape), rng.normal(0.4, 1.0, size=shape)
    kwargs = {"seed": seed} if "seed" in inspect.signature(cls).parameters else {}
    return cls(**kwargs).fit(ref).compare(cur).to_dict()


@pytest.mark.parametrize("name", sorted(DRIFT_TESTS))
def test_a_drift_test_gives_the_same_finding_for_the_same_seed(name):
    assert _drift_finding(name, 1) == _drift_finding(name, 1)


# -- drills: every registered drill, through the same checks -----------------------------

DRILLS = sorted(drills.registered())
QUICK_SECTIONS = {"stress": {"n_bootstrap": 50, "repeats": 2, "sensitivity": False},
                  "attack": {"attacks": ["fgsm", "pgd"], "eps": [0.1], "sanity": False,
                             "params": {"pgd": {"steps": 4}}},
                  "certify": {"n": 1000, "sanity_n": 1000},
                  "scan": {"scanners": ["robust_z", "iqr", "knn_labels"]}}
"""Settings that keep a drill's run to a second on the tiny data."""


def _section_model(name: str) -> Any:
    drill = drills.get(name)
    if drill.plan is None:
        pytest.skip(f"drill {name!r} has no plan section")
    return drills.resolve(drill.plan)


@pytest.mark.parametrize("name", DRILLS)
def test_a_drill_section_refuses_an_unknown_key_naming_the_section(name):
    section = drills.get(name).section
    with pytest.raises(ValidationError) as caught:
        parse_plan({section: {"no_such_setting": 1}} if section else {"no_such_section": {}})
    assert "no_such_setting" in str(caught.value) or "no_such_section" in str(caught.value)
    if section:
        assert section in str(caught.value)


@pytest.mark.parametrize("name", DRILLS)
def test_a_drill_section_has_defaults_for_every_setting(name):
    assert _section_model(name).model_validate({}) is not None


def _drill_findings(name: str, seed: int) -> list[dict]:
    drill = drills.get(name)
    if drill.run is None:
        pytest.skip(f"drill {name!r} runs only from its command (two inputs)")
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]))
        net.bias.copy_(torch.tensor([5.0, -5.0]))
    X = np.random.default_rng(0).uniform(size=(60, 2)).astype(np.float32)
    data = Dataset(X=X, y=(X[:, 0] > 0.5).astype(int), name="tiny")
    section = _section_model(name).model_validate(QUICK_SECTIONS.get(drill.section, {}))
    result = drill.runner()(net, data, section, seed=seed, quiet=True)
    return [{k: v for k, v in f.to_dict().items() if k != "details"}
            | {"details": {k: v for k, v in f.details.items() if k != "seconds"}}
            for f in result.findings]


@pytest.mark.parametrize("name", DRILLS)
def test_a_drill_gives_the_same_findings_for_the_same_seed(name):
    first = _drill_findings(name, 4)
    assert first and first == _drill_findings(name, 4)
