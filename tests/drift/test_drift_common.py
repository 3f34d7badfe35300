"""Checks every drift class must pass: verbs, pickling, seeds, parameter messages, examples."""

import pickle
import sys

import numpy as np
import pytest

from shakeout import drift
from shakeout.drift import (ADWIN, DDM, PSI, ADTest, Chi2Test, ClassifierTest, JSDivergence,
                            KLDivergence, KSTest, MMDTest, PageHinkley, ProjectionTest,
                            Wasserstein)
from shakeout.errors import MissingDependencyError, NotFittedError, ValidationError

UNIVARIATE = [KSTest, ADTest, PSI, KLDivergence, JSDivergence, Wasserstein, Chi2Test]
MULTIVARIATE = [MMDTest, ClassifierTest, ProjectionTest]
INVALID = {KSTest: {"alpha": 0}, ADTest: {"alpha": 2}, PSI: {"smoothing": 0},
           KLDivergence: {"method": "kde"}, JSDivergence: {"n_bins": 0},
           Wasserstein: {"scale": "mad"}, Chi2Test: {"kind": "text"},
           MMDTest: {"device": "tpu"}, ClassifierTest: {"test_fraction": 1},
           ProjectionTest: {"correction": "fdr"}, ADWIN: {"delta": 1.5},
           PageHinkley: {"mode": "sideways"}, DDM: {"drift_threshold": 1.0}}


def _data(cls, rng, shift=0.0):
    if cls in MULTIVARIATE:
        return rng.normal(shift, 1, size=(120, 3))
    return rng.normal(shift, 1, size=300)


@pytest.mark.parametrize("cls", UNIVARIATE + MULTIVARIATE)
def test_compare_before_fit_says_how_to_fix(cls):
    with pytest.raises(NotFittedError, match=r"fit\(reference\)"):
        cls().compare(_data(cls, np.random.default_rng(0)))


@pytest.mark.parametrize("cls", UNIVARIATE + MULTIVARIATE)
def test_pickle_round_trip_and_same_numbers(cls):
    rng = np.random.default_rng(1)
    ref, cur = _data(cls, rng), _data(cls, rng, 0.3)
    test = cls().fit(ref)
    again = pickle.loads(pickle.dumps(test))
    a, b = test.compare(cur), again.compare(cur)
    assert (a.value, a.p_value, a.status) == (b.value, b.p_value, b.status)
    assert a.drill == "drift" and a.group == cls.group and a.message


@pytest.mark.parametrize("cls,params", list(INVALID.items()))
def test_each_invalid_parameter_is_named(cls, params):
    name = next(iter(params))
    with pytest.raises(ValidationError, match=name):
        cls(**params)


@pytest.mark.parametrize("name", drift.__all__)
def test_public_names_have_docstrings_with_examples(name):
    obj = getattr(drift, name)
    if isinstance(obj, tuple):
        return
    assert obj.__doc__ and ">>>" in obj.__doc__


def test_streaming_detectors_find_changes_and_stay_quiet_on_stable_streams():
    rng = np.random.default_rng(2)
    stable = rng.normal(size=3000)
    for det in (ADWIN(), PageHinkley()):  # at most one false alarm in 3,000 stable values
        assert len(drift.streaming.detections(det, stable)) <= 1
    down = np.r_[rng.normal(3, 1, 1000), rng.normal(0, 1, 1000)]  # a decrease
    assert drift.streaming.detections(PageHinkley(), down)  # both directions by default
    errors = np.r_[rng.random(2000) < 0.05, rng.random(500) < 0.5].astype(int)
    found = drift.streaming.detections(DDM(), errors)
    assert any(2000 <= i < 2200 for i in found)  # caught within 200 rows of the change
    with pytest.raises(ValidationError, match="0 \\(right\\) or 1"):
        DDM().update(0.5)
    with pytest.raises(ValidationError, match="finite"):
        ADWIN().update(float("nan"))


def test_streaming_without_river_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(MissingDependencyError, match=r"shakeout\[stream\]"):
        ADWIN().update(1.0)


def test_mmd_cuda_without_gpu_says_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValidationError, match="no GPU"):
        MMDTest(device="cuda").fit(np.zeros((4, 2))).compare(np.ones((4, 2)))
