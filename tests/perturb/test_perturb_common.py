"""Common checks generated for every registered perturbation (STYLE.md: "Common checks").

Each built-in class in ``shakeout.perturb.REGISTRY`` needs one entry in ``CASES``: how to build
it, data to perturb, a severity, and every invalid parameter with the name its error must
mention. A new registered class without a case fails ``test_every_registered_class_has_a_case``.
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perturb_data import dropout_net, frame, images, tabular
from shakeout._validation import check_grid
from shakeout.errors import NotFittedError, ValidationError
from shakeout.models import Model
from shakeout.perturb import REGISTRY, make


@dataclass
class Case:
    data: Callable[[], Any]
    severity: float
    params: dict = field(default_factory=dict)
    invalid: list[tuple[dict, str]] = field(default_factory=list)
    stochastic: bool = True


CASES: dict[str, Case] = {
    "gaussian_noise": Case(tabular, 0.3, {"relative": True}, [
        ({"clip": (1.0, 0.0)}, "clip"), ({"clip": "wide"}, "clip"),
        ({"relative": "no"}, "relative")]),
    "uniform_noise": Case(tabular, 0.3, {"relative": False}, [
        ({"clip": (2.0, 2.0)}, "clip"), ({"relative": "yes"}, "relative")]),
    "scaling": Case(tabular, 0.2, {}, [({"clip": (5, -5)}, "clip"), ({"clip": 3}, "clip")]),
    "feature_shift": Case(tabular, 0.1, {"features": [1, 3]}, [
        ({"direction": "left"}, "direction"), ({"features": 3}, "features"),
        ({"features": "age"}, "features")], stochastic=False),
    "missing_values": Case(tabular, 0.2, {"mechanism": "mnar"}, [
        ({"mechanism": "mar"}, "mechanism"), ({"impute": "zero"}, "impute")]),
    "category_swap": Case(frame, 0.3, {}, [({"rate": 0.1}, "rate")]),
    "salt_and_pepper": Case(images, 0.1, {}, [({"channels_last": "yes"}, "channels_last"),
                                              ({"clip": (1, 0)}, "clip")]),
    "image_corruption": Case(images, 3, {"corruption": "jpeg"}, [
        ({"corruption": "fog"}, "corruption"), ({"corruption": "gaussian_noise"}, "corruption"),
        ({"channels_last": "no"}, "channels_last"), ({"clip": "wide"}, "clip")],
        stochastic=False),
    "weight_noise": Case(dropout_net, 0.1, {}, [({"scale": 2}, "scale")]),
    "active_dropout": Case(dropout_net, 0.3, {}, [({"rate": 0.5}, "rate")]),
    "weight_bit_flips": Case(dropout_net, 1e-3, {}, [({"rate": 1e-3}, "rate")]),
    "unit_mismatch": Case(tabular, 0.5, {"factor": 1000.0}, [
        ({"factor": 1}, "factor"), ({"factor": -2.0}, "factor"), ({"features": "age"}, "features")]),
    "column_swap": Case(tabular, 0.5, {"features": [0, 2]}, [
        ({"features": [0]}, "features"), ({"features": 1}, "features")]),
    "frozen_feature": Case(tabular, 0.5, {}, [({"features": []}, "features")]),
    "default_filled": Case(tabular, 0.5, {"fill": -1.0}, [
        ({"fill": "zero"}, "fill"), ({"features": "x"}, "features")]),
    "truncation": Case(tabular, 0.5, {"to": "decimals", "decimals": 1}, [
        ({"to": "int8"}, "to"), ({"decimals": -1}, "decimals"), ({"features": 0}, "features")]),
}

BUILT_IN = sorted(name for name, cls in REGISTRY.items()
                  if cls.__module__.startswith("shakeout.perturb"))
PROBE = tabular(40, seed=7).astype(np.float32)  # inputs for judging model perturbations


def _fitted(name: str) -> tuple[Any, Any]:
    case = CASES[name]
    data = case.data()
    return make(name, **case.params).fit(data), data


def _outcome(p: Any, out: Any) -> np.ndarray:
    """What a perturbation produced, as an array: perturbed inputs or the model's answers."""
    if p.kind == "model":
        assert isinstance(out, Model)
        return out.predict_proba(PROBE)
    if isinstance(out, pd.DataFrame):
        return out.astype(str).to_numpy()
    return np.asarray(out)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_every_registered_class_has_a_case():
    assert set(BUILT_IN) == set(CASES), (
        f"add a common-check case for {sorted(set(BUILT_IN) - set(CASES))} to CASES")
    for name in BUILT_IN:
        assert REGISTRY[name].name == name


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_constructor_parameter_has_an_invalid_case(name):
    params = set(inspect.signature(REGISTRY[name]).parameters)
    covered = {param for _, param in CASES[name].invalid}
    assert params <= covered, f"add invalid values for {sorted(params - covered)} of {name}"


@pytest.mark.parametrize("name", BUILT_IN)
def test_registry_metadata_is_usable(name):
    cls = REGISTRY[name]
    p = make(name, **CASES[name].params)
    assert isinstance(p, cls)
    assert p.unit, f"{name} must document the unit of its severity"
    grid = check_grid(p, "default_severities", cls.default_severities)
    assert grid[0] == 0.0
    if cls.max_severity is not None:
        assert grid[-1] <= cls.max_severity


@pytest.mark.parametrize("name", BUILT_IN)
def test_docstring_has_an_example(name):
    doc = REGISTRY[name].__doc__ or ""
    assert ">>>" in doc, f"{REGISTRY[name].__name__} docstring needs a runnable example"


@pytest.mark.parametrize("name", BUILT_IN)
def test_same_seed_gives_identical_output(name):
    p, data = _fitted(name)
    sev = CASES[name].severity
    a = _outcome(p, p.apply(data, sev, seed=0))
    b = _outcome(p, p.apply(data, sev, seed=0))
    c = _outcome(p, p.apply(data, sev, rng=np.random.default_rng(0)))
    assert _same(a, b)
    assert _same(a, c)  # a seed and a Generator built from it are the same thing
    d = _outcome(p, p.apply(data, sev, seed=1))
    if CASES[name].stochastic:
        assert not _same(a, d), f"{name} ignores its seed"
    else:
        assert _same(a, d), f"{name} is deterministic and should not depend on the seed"


@pytest.mark.parametrize("name", BUILT_IN)
def test_severity_zero_returns_input_unchanged(name):
    p, data = _fitted(name)
    out = p.apply(data, 0, seed=0)
    if p.kind == "model":
        assert out.module is data  # the very same module, not a copy
    else:
        assert out is data


@pytest.mark.parametrize("name", BUILT_IN)
def test_apply_does_not_modify_its_input(name):
    p, data = _fitted(name)
    before = copy.deepcopy(data)
    p.apply(data, CASES[name].severity, seed=0)
    if p.kind == "model":
        for (k, v), (k2, v2) in zip(data.state_dict().items(), before.state_dict().items()):
            assert k == k2 and bool((v == v2).all())
    elif isinstance(data, pd.DataFrame):
        pd.testing.assert_frame_equal(data, before)
    else:
        np.testing.assert_array_equal(data, before)


@pytest.mark.parametrize("name", BUILT_IN)
def test_output_has_the_kind_and_shape_of_the_input(name):
    p, data = _fitted(name)
    out = p.apply(data, CASES[name].severity, seed=0)
    if p.kind == "model":
        assert out.predict_proba(PROBE).shape == (len(PROBE), 3)
    elif isinstance(data, pd.DataFrame):
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == list(data.columns)
        assert (out.dtypes == data.dtypes).all()
    else:
        assert out.shape == data.shape
        assert out.dtype == data.dtype


@pytest.mark.parametrize("name", BUILT_IN)
def test_pickle_round_trip_gives_the_same_output(name):
    p, data = _fitted(name)
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is type(p)
    sev = CASES[name].severity
    assert _same(_outcome(p, p.apply(data, sev, seed=3)), _outcome(q, q.apply(data, sev, seed=3)))


@pytest.mark.parametrize("name", BUILT_IN)
def test_fit_returns_self(name):
    p = make(name, **CASES[name].params)
    assert p.fit(CASES[name].data()) is p


@pytest.mark.parametrize("name", [n for n in BUILT_IN if REGISTRY[n].kind == "input"])
def test_apply_before_fit_raises_not_fitted(name):
    p = make(name, **CASES[name].params)
    with pytest.raises(NotFittedError, match=r"call fit\(reference\) before apply"):
        p.apply(CASES[name].data(), CASES[name].severity, seed=0)


@pytest.mark.parametrize("name", [n for n in BUILT_IN if REGISTRY[n].kind == "model"])
def test_model_perturbations_learn_nothing_so_apply_needs_no_fit(name):
    # Documented: the scale comes from the model itself (see the WeightNoise example).
    p = make(name, **CASES[name].params)
    assert isinstance(p.apply(CASES[name].data(), CASES[name].severity, seed=0), Model)


INVALID = [(name, kwargs, param) for name in BUILT_IN for kwargs, param in CASES[name].invalid]


@pytest.mark.parametrize(("name", "kwargs", "param"), INVALID,
                         ids=[f"{n}-{p}-{next(iter(k.values()))!r}" for n, k, p in INVALID])
def test_each_invalid_parameter_is_named_in_the_error(name, kwargs, param):
    with pytest.raises(ValidationError, match=param):
        make(name, **{**CASES[name].params, **kwargs})
    cls = REGISTRY[name]
    if param in inspect.signature(cls).parameters:  # a real parameter: direct call, same check
        with pytest.raises(ValidationError, match=rf"{cls.__name__}: {param}"):
            cls(**{**CASES[name].params, **kwargs})


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("severity", [-0.1, float("nan"), "0.1", True])
def test_invalid_severity_is_named_in_the_error(name, severity):
    p, data = _fitted(name)
    with pytest.raises(ValidationError, match=r"severity must be"):
        p.apply(data, severity, seed=0)


@pytest.mark.parametrize("name", [n for n in BUILT_IN if REGISTRY[n].max_severity is not None])
def test_severity_above_the_maximum_is_refused(name):
    p, data = _fitted(name)
    top = REGISTRY[name].max_severity
    with pytest.raises(ValidationError, match=rf"severity must be in \[0, {top:g}\]"):
        p.apply(data, top + 1, seed=0)


def test_make_unknown_name_lists_the_known_ones():
    with pytest.raises(ValidationError, match=r"unknown perturbation 'gausian_noise'; known: .*"
                                              r"gaussian_noise"):
        make("gausian_noise")
