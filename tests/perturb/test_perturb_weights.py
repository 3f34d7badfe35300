"""Model-side perturbations: the original model is untouched, the scale and rate are right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from perturb_data import dropout_net  # noqa: E402
from shakeout.errors import ValidationError  # noqa: E402
from shakeout.models import wrap  # noqa: E402
from shakeout.perturb import ActiveDropout, WeightNoise  # noqa: E402

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)


def _state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_weight_noise_leaves_the_original_module_untouched():
    net = dropout_net()
    before = _state(net)
    clean = wrap(net).predict_proba(X)
    noisy = WeightNoise().apply(net, 0.2, seed=0)
    assert noisy.module is not net
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    np.testing.assert_array_equal(wrap(net).predict_proba(X), clean)
    assert not np.allclose(noisy.predict_proba(X), clean)


@pytest.mark.parametrize("severity", [0.01, 0.1, 0.5])
def test_weight_noise_relative_scale_matches_per_tensor(severity):
    net = torch.nn.Linear(300, 200)
    noisy = WeightNoise().apply(net, severity, seed=1).module
    for (name, w), (_, w2) in zip(net.named_parameters(), noisy.named_parameters()):
        w, w2 = w.detach().double(), w2.detach().double()
        n = w.numel()
        ratio = float((w2 - w).std() / w.std()) / severity
        lo, hi = np.sqrt(stats.chi2.ppf([0.00025, 0.99975], n - 1) / (n - 1))
        assert lo < ratio < hi, (name, ratio)


def test_weight_noise_keeps_task_classes_and_batch_size():
    m = wrap(dropout_net(), classes=["a", "b", "c"], batch_size=16)
    noisy = WeightNoise().apply(m, 0.1, seed=0)
    assert noisy.task == "classification"
    assert noisy.classes_.tolist() == ["a", "b", "c"]
    assert noisy.batch_size == 16


def test_weight_noise_refuses_a_model_without_weights_to_perturb():
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, np.arange(len(X)) % 2)
    with pytest.raises(ValidationError, match=r"WeightNoise perturbs the weights of a torch "
                                              r"model; got LogisticRegression"):
        WeightNoise().apply(clf, 0.1, seed=0)


def test_active_dropout_is_reproducible_with_the_same_seed_and_differs_across_seeds():
    net = dropout_net()
    a = ActiveDropout().apply(net, 0.5, seed=0).predict_proba(X)
    b = ActiveDropout().apply(net, 0.5, seed=0).predict_proba(X)
    c = ActiveDropout().apply(net, 0.5, seed=1).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # and the draws go on: two calls on one perturbed model see different masks
    m = ActiveDropout().apply(net, 0.5, seed=0)
    assert not np.allclose(m.predict_proba(X), m.predict_proba(X))


def test_active_dropout_leaves_the_original_module_untouched():
    net = dropout_net()
    clean = wrap(net).predict_proba(X)
    ActiveDropout().apply(net, 0.5, seed=0).predict_proba(X)
    assert all(not m._forward_hooks for m in net.modules())
    assert not net.training
    np.testing.assert_array_equal(wrap(net).predict_proba(X), clean)


@pytest.mark.parametrize("severity", [0.1, 0.5])
def test_active_dropout_drops_at_the_requested_rate_and_keeps_the_mean(severity):
    net = torch.nn.Sequential(torch.nn.Dropout(0.9))  # trained rate is replaced by severity
    n = 50_000
    out = ActiveDropout().apply(wrap(net, task="regression"), severity, seed=0).predict(
        np.ones((n, 1), dtype=np.float32))
    dropped = int((out == 0).sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, severity)
    assert lo <= dropped <= hi
    np.testing.assert_allclose(out[out != 0], 1 / (1 - severity), rtol=1e-6)  # inverted dropout


def test_active_dropout_on_a_model_without_dropout_says_what_to_use():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(ValidationError, match=r"ActiveDropout: Sequential has no dropout layers "
                                              r"to keep active; use weight_noise"):
        ActiveDropout().apply(net, 0.2, seed=0)


def test_active_dropout_rate_is_capped():
    with pytest.raises(ValidationError, match=r"severity must be in \[0, 0.95\], got 1.0"):
        ActiveDropout().apply(dropout_net(), 1.0, seed=0)


def test_weight_perturbations_are_of_kind_model():
    assert WeightNoise.kind == ActiveDropout.kind == "model"

