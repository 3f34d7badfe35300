"""Work beside the model: the same results on any number of cores, errors raised, order kept."""

import numpy as np
import pandas as pd
import pytest

from shakeout import _cores
from shakeout.models import wrap


@pytest.fixture(params=[1, 2], ids=["one core", "two cores"])
def n_cores(request, monkeypatch):
    monkeypatch.setattr(_cores, "cores", lambda: request.param)
    return request.param


def test_beside_consumes_every_item_in_order(n_cores):
    seen = []
    _cores.beside(iter(range(50)), seen.append)
    assert seen == list(range(50))


def test_beside_raises_the_consumers_error_and_stops_making_items(n_cores):
    made = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    def consume(i):
        if i == 3:
            raise RuntimeError("bad item 3")

    with pytest.raises(RuntimeError, match="bad item 3"):
        _cores.beside(items(), consume)
    assert len(made) <= 7  # at most two waiting beyond the failed one and the one in hand


def test_in_parallel_runs_every_piece_and_raises_the_first_error(n_cores):
    out = np.zeros(20)
    _cores.in_parallel(range(20), lambda i: out.__setitem__(i, i + 1))
    assert out.tolist() == list(range(1, 21))

    def fail(i):
        if i == 5:
            raise ValueError("piece 5")

    with pytest.raises(ValueError, match="piece 5"):
        _cores.in_parallel(range(20), fail)


@pytest.mark.parametrize("overlap", [True, False])
@pytest.mark.parametrize("frame", [False, True])
def test_each_batch_hands_every_batch_of_outputs_once(n_cores, overlap, frame):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(103, 3))
    model = wrap(lambda Z: np.asarray(Z) @ [1.0, 2.0, 3.0], task="regression", batch_size=10)
    got = np.full(len(X), np.nan)

    def consume(rows, y):
        assert np.isnan(got[rows]).all()  # no row twice
        got[rows] = y

    data = pd.DataFrame(X) if frame else X
    model.each_batch(data, consume, overlap=overlap)
    np.testing.assert_array_equal(got, model.predict(data))


def test_each_batch_of_a_classifier_checks_its_probabilities(n_cores):
    from shakeout.errors import ValidationError

    model = wrap(lambda Z: np.ones(len(Z)), task="classification", batch_size=4)
    with pytest.raises(ValidationError, match=r"shape \(n, n_classes\)"):
        model.each_batch(np.zeros((9, 2)), lambda rows, p: None)
    with pytest.raises(ValidationError, match="X is empty"):
        model.each_batch(np.zeros((0, 2)), lambda rows, p: None)
