"""Errors say what was wrong, what was given, and what to do instead."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression

from shakeout import GradientUnavailableError, ValidationError
from shakeout.attacks import (APGD, EAD, FGSM, JSMA, PGD, CarliniWagner, DeepFool, SquareAttack,
                              TransferAttack, make, run)


@pytest.fixture(scope="module")
def trees():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(100, 3))
    y = (X[:, 0] > 0.5).astype(int)
    return HistGradientBoostingClassifier(max_iter=10).fit(X, y), X, y


@pytest.mark.parametrize("attack", [PGD(eps=0.1), FGSM(eps=0.1), APGD(eps=0.1), CarliniWagner(),
                                    DeepFool(), JSMA(), EAD()], ids=lambda a: a.name)
def test_white_box_on_a_model_without_gradients_names_the_black_box_attacks(trees, attack):
    model, X, y = trees
    with pytest.raises(GradientUnavailableError,
                       match=rf"{type(attack).__name__} is a white-box attack and needs gradients, "
                             r"but HistGradientBoostingClassifier has none.*SquareAttack.*"
                             r"HopSkipJump.*TransferAttack"):
        attack.apply(model, X, y)


def test_the_drill_gives_the_same_error(trees):
    model, X, y = trees
    with pytest.raises(GradientUnavailableError,
                       match="Use a black-box attack from shakeout.attacks instead"):
        run(model, X, y, attacks=["pgd"], eps=[0.1])


@pytest.mark.parametrize("build, match", [
    (lambda: PGD(eps=-0.1), r"PGD: eps must be in \[0, inf\], got -0.1"),
    (lambda: PGD(eps=None), r"PGD: eps is required"),
    (lambda: PGD(eps=0.1, norm="l3"), r"PGD: norm must be one of 'linf', 'l2', 'l1', got 'l3'"),
    (lambda: FGSM(eps=0.1, norm="l1"), r"FGSM: norm must be one of 'linf', 'l2'"),
    (lambda: PGD(eps=0.1, steps=0), r"PGD: steps must be in \[1, inf\]"),
    (lambda: PGD(eps=0.1, batch_size=0), r"PGD: batch_size must be in \[1, inf\]"),
    (lambda: APGD(eps=0.1, loss="margin"), r"APGD: loss must be one of 'ce', 'dlr'"),
    (lambda: SquareAttack(eps=0.1, p_init=0), r"SquareAttack: p_init must be in \(0, 1\]"),
    (lambda: CarliniWagner(c=0), r"CarliniWagner: c must be in \(0, inf\]"),
    (lambda: JSMA(bounds=None), r"JSMA: bounds are required"),
    (lambda: JSMA(theta=0), r"JSMA: theta must not be 0"),
    (lambda: JSMA(eps=2.5), r"JSMA: eps must be an integer"),
    (lambda: PGD(eps=0.1, constraints={"immutable": [0]}), r"constraints must be a .*Constraints"),
    (lambda: TransferAttack(eps=0.1, attack=SquareAttack(eps=0.1)), r"must be a white-box attack"),
    (lambda: make("pgd-l2", eps=0.1), r"unknown attack 'pgd-l2'; known: fgsm, pgd"),
    (lambda: make("cw", norm="linf"), r"attack 'cw' measures l2, not 'linf'"),
])
def test_invalid_parameters_are_named(build, match):
    with pytest.raises(ValidationError, match=match):
        build()


def test_regressors_are_refused():
    X = np.random.default_rng(0).uniform(size=(20, 2))
    with pytest.raises(ValidationError, match="need a classifier.*regressor"):
        SquareAttack(eps=0.1).apply(LinearRegression().fit(X, X[:, 0]), X, np.zeros(20))


def test_labels_must_match_rows(trees):
    model, X, y = trees
    with pytest.raises(ValidationError, match=r"y must be one label per row of X \(100\)"):
        SquareAttack(eps=0.1).apply(model, X, y[:10])


def test_targets_must_differ_from_labels(trees):
    model, X, y = trees
    with pytest.raises(ValidationError, match="targets equal the true label at 100 rows"):
        SquareAttack(eps=0.1).apply(model, X, y, target_classes=y)


@pytest.mark.parametrize("kwargs, match", [
    ({"attacks": [CarliniWagner()], "norm": "linf"}, r"cw-l2 measures l2, but the drill's norm"),
    ({"attacks": ["square", "square"]}, r"attack names must be unique"),
    ({"eps": [0.2, 0.1]}, r"eps must be strictly increasing"),
    ({"norm": "l5"}, r"norm must be one of"),
    ({"tolerance": 1.0}, r"tolerance must be in \[0, 1\)"),
    ({"attacks": []}, r"attacks is empty"),
])
def test_drill_arguments_are_checked(trees, kwargs, match):
    model, X, y = trees
    with pytest.raises(ValidationError, match=match):
        run(model, X, y, **kwargs)


def test_black_box_attacks_work_without_torch_and_white_box_ones_say_how_to_install():
    import subprocess
    import sys

    code = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTorch())
import numpy as np
from sklearn.linear_model import LogisticRegression
from shakeout.attacks import SquareAttack, run
X = np.random.default_rng(0).uniform(size=(60, 3)); y = (X[:, 0] > 0.5).astype(int)
clf = LogisticRegression().fit(X, y)
SquareAttack(eps=0.1, steps=20).apply(clf, X, y, seed=0)
result = run(clf, X, y, eps=[0.1], seed=0)
print(sorted({f.group for f in result.findings}))
try:
    from shakeout.attacks import PGD
except ImportError as exc:
    print(type(exc).__name__, exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "['clean', 'ensemble', 'sanity', 'square-linf']"
    assert lines[1].startswith("MissingDependencyError")
    assert 'pip install "shakeout[torch]"' in lines[1]
