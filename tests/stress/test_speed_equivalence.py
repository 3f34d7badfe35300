"""The fast paths of the stress sweep give the numbers of the plain computations."""

import numpy as np
import pytest
from scipy import stats

from shakeout import wrap
from shakeout.perturb import GaussianNoise
from shakeout.perturb.noise import standard_normal
from shakeout.stats import BootstrapPlan
from shakeout.stress import Sweep, run, sweep
from shakeout.stress.metrics import top_class


@pytest.mark.parametrize("n, n_boot, max_rows", [(5, 10, 10_000), (3000, 37, 500),
                                                  (20_000, 200, 1000)])
def test_resample_counts_are_the_drawn_rows_counted(n, n_boot, max_rows):
    plan = BootstrapPlan(n=n, n_boot=n_boot, seed=4, max_rows=max_rows)
    counts = plan.counts().toarray()
    by_hand = np.stack([np.bincount(idx, minlength=n) for idx in plan._draw()])
    np.testing.assert_array_equal(counts, by_hand)
    assert plan.counts().format == "csc"


@pytest.mark.parametrize("k", [2, 3, 4, 7])
def test_top_class_is_argmax_with_ties_and_nan(k):
    out = np.round(np.random.default_rng(k).random((5000, k)), 1)  # many ties
    np.testing.assert_array_equal(top_class(out), out.argmax(axis=1))
    out[::7, k - 1] = np.nan
    np.testing.assert_array_equal(top_class(out), out.argmax(axis=1))


def test_box_muller_noise_is_standard_normal_and_independent():
    z = standard_normal(np.random.default_rng(0), (100_001,)).astype(np.float64)
    assert z.shape == (100_001,)
    assert stats.kstest(z, "norm").pvalue > 0.01
    assert abs(stats.kurtosis(z)) < 0.05
    pairs = z[:50_000], z[50_001:]  # the cos and sin halves of the same uniforms
    assert abs(np.corrcoef(*pairs)[0, 1]) < 0.02
    assert abs(np.corrcoef(pairs[0] ** 2, pairs[1] ** 2)[0, 1]) < 0.02


def test_sweep_numbers_do_not_depend_on_how_far_ahead_batches_are_drawn(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.random((700, 3))
    y = (X[:, 0] > 0.5).astype(int)
    model = wrap(lambda Z: np.column_stack([1 - Z[:, 0].clip(0, 1), Z[:, 0].clip(0, 1)]),
                 task="classification")

    def numbers():
        result = run(model, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1, 0.3))],
                     batch_size=128, n_bootstrap=50, sensitivity=False, seed=2)
        return [(f.name, f.value, f.ci, f.p_value) for f in result.findings]

    monkeypatch.setattr(sweep, "PREFETCH", 1)
    one = numbers()
    monkeypatch.setattr(sweep, "PREFETCH", 4)
    assert numbers() == one


def _blas_threads():
    from threadpoolctl import threadpool_info

    return min(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


def test_noise_sweep_leaves_the_noise_thread_a_core_and_restores_blas():
    import os

    before = _blas_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = max(1, min(cores - 1, before))
    X = np.random.default_rng(0).random((300, 2))
    y = (X[:, 0] > 0.5).astype(int)
    during = []

    def proba(Z):
        during.append(_blas_threads())
        p = np.clip(np.asarray(Z)[:, 0], 0, 1)
        return np.column_stack([1 - p, p])

    run(wrap(proba, task="classification"), X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1))],
        batch_size=128, n_bootstrap=50, sensitivity=False, seed=0, repeats=5)
    noisy = 3 * 5  # 300 rows in batches of 128, 5 draws; before them, the clean calls
    assert during[-noisy:] == [limit] * noisy
    assert set(during[:-noisy]) == {before}
    assert _blas_threads() == before


def test_spares_hand_back_only_their_own_arrays_once_the_outputs_are_done():
    spares = sweep.Spares()
    a = spares.empty((4, 2), np.float64)
    spares.give_back(a, a[:, 0])  # the outputs are a view of the batch: never written again
    assert spares.empty((4, 2), np.float64) is not a
    stranger = np.zeros((4, 2))
    spares.give_back(stranger, np.zeros(4))  # not lent: X, or a perturbation's own array
    assert spares.empty((4, 2), np.float64) is not stranger
    b = spares.empty((4, 2), np.float64)
    spares.give_back(b, np.zeros(4))
    assert spares.empty((4, 3), np.float64) is not b  # another shape
    assert spares.empty((4, 2), np.float64) is b


def test_sweep_numbers_do_not_depend_on_reused_batches(monkeypatch):
    """Recycled perturbed batches give the numbers of fresh ones, for a model whose outputs
    are a view of its inputs too."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(900, 2))
    y = X[:, 0] + rng.normal(size=900) * 0.1

    def numbers(predict):
        result = run(wrap(predict, task="regression"), X, y,
                     sweeps=[Sweep(GaussianNoise(), (0, 0.2, 0.5))], batch_size=128,
                     n_bootstrap=50, sensitivity=False, seed=4, repeats=2)
        return [(f.name, f.value, f.ci, f.p_value) for f in result.findings]

    recycled = numbers(lambda Z: Z[:, 0].copy())
    assert numbers(lambda Z: Z[:, 0]) == recycled
    monkeypatch.setattr(sweep.Spares, "give_back", lambda self, batch, outputs: None)
    assert numbers(lambda Z: Z[:, 0].copy()) == recycled  # every batch a new array
