"""A user adds a perturbation in a few lines and uses it by name and in a stress run."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout import stress
from shakeout.errors import ValidationError
from shakeout.perturb import REGISTRY, Perturbation, make, register
from shakeout.stress import Sweep


@pytest.fixture
def registry():
    """Whatever a test registers is removed afterwards."""
    before = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(before)


def _quantise(registry):
    @register
    class Quantise(Perturbation):
        """Round every value to a grid of ``severity`` feature standard deviations.

        >>> 1
        1
        """

        name = "quantise_test"
        unit = "grid step (x feature std)"

        def __init__(self, *, offset: float = 0.0):
            self.offset = offset

        def _fit_array(self, X):
            self.std_ = X.std(axis=0)

        def _apply_array(self, X, severity, rng):
            step = severity * self.std_
            return np.round((X - self.offset) / step) * step + self.offset

    return Quantise


def test_register_then_make_by_name(registry):
    cls = _quantise(registry)
    assert registry["quantise_test"] is cls
    p = make("quantise_test", offset=0.5)
    assert isinstance(p, cls) and p.offset == 0.5
    X = np.random.default_rng(0).normal(size=(100, 2))
    out = p.fit(X).apply(X, 0.5, seed=0)
    steps = (out - 0.5) / (0.5 * X.std(axis=0))
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    assert p.apply(X, 0, seed=0) is X  # severity 0 comes free from the base class


def test_unknown_parameter_of_a_registered_class_is_named(registry):
    _quantise(registry)
    with pytest.raises(ValidationError, match=r"perturbation 'quantise_test': unknown "
                                              r"parameter\(s\) step; Quantise takes offset"):
        make("quantise_test", step=2)


def test_registered_perturbation_runs_in_stress_run(registry):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _quantise(registry)
    X, y = load_breast_cancer(return_X_y=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    result = stress.run(clf, X, y, sweeps=[Sweep(make("quantise_test"), (0.5, 2.0))],
                        n_bootstrap=50, sensitivity=False, seed=0)
    acc = {f.severity: f for f in result.select(group="quantise_test", metric="accuracy")}
    assert sorted(acc) == [0.0, 0.5, 2.0]  # the clean point is added
    assert acc[0.0].unit == "grid step (x feature std)"
    assert acc[2.0].value < acc[0.0].value  # coarse rounding of every feature hurts
    assert result.select(group="quantise_test", metric="robustness_score")
    assert "quantise_test" in result.manifest.parameters["sweeps"]


def test_register_needs_a_name():
    class Nameless(Perturbation):
        pass

    with pytest.raises(ValidationError, match="register: Nameless needs a class attribute name"):
        register(Nameless)
