"""The sweep runs a perturbation by its kind: input transforms batch by batch, model-side
ones as one perturbed model per draw and severity; other kinds are refused."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout import wrap
from shakeout.errors import ValidationError
from shakeout.perturb import GaussianNoise, Perturbation
from shakeout.stress import Sweep, run
from shakeout.stress.sweep import KINDS


def _model():
    def proba(X):
        p = np.clip(np.asarray(X)[:, 0], 0, 1)
        return np.column_stack([1 - p, p])
    return wrap(proba, task="classification")


class _Recorded(Perturbation):
    """Model-side: records what it was applied to and the first number of its draw."""

    name = "recorded_test"
    unit = "threshold sd"
    kind = "model"

    def __init__(self):
        self.calls = []

    def fit(self, X=None):
        self.fitted_ = True
        return self

    def apply(self, model, severity, rng=None, *, seed=None):
        self.calls.append((model, severity, float(rng.random())))
        return model


def test_every_perturbation_kind_of_the_library_is_one_the_sweep_runs_or_an_attack():
    from shakeout.perturb import REGISTRY

    assert {cls.kind for cls in REGISTRY.values()} <= set(KINDS)
    assert GaussianNoise.kind == "input" and not KINDS["input"].shared
    assert KINDS["model"].shared


def test_a_kind_the_sweep_cannot_run_is_refused_naming_the_class():
    class Lure(GaussianNoise):
        kind = "adversarial"

    with pytest.raises(ValidationError, match=r"Lure is of kind 'adversarial'.*'input' or "
                                              r"'model'.*attacks"):
        Sweep(Lure(), (0, 0.1))


def test_a_model_side_kind_perturbs_the_model_once_per_draw_and_severity():
    X = np.random.default_rng(0).random((50, 2))
    y = (X[:, 0] > 0.5).astype(int)
    model, p = _model(), _Recorded()
    run(model, X, y, sweeps=[Sweep(p, (0, 0.1, 0.2))], n_bootstrap=20, sensitivity=False,
        seed=0, repeats=3)
    assert [c[1] for c in p.calls] == [0.1, 0.2] * 3
    assert all(c[0].name == model.name for c in p.calls)  # the model, not a batch of inputs
    firsts = [c[2] for c in p.calls]
    assert firsts[0::2] == firsts[1::2]  # every severity of a draw: the same random numbers
    assert len(set(firsts[0::2])) == 3  # each draw its own
