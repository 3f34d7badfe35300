"""The torch runtime: the inference context restores state, generators are seeded, repeated
forward passes count what the closed form says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from shakeout.errors import ValidationError  # noqa: E402
from shakeout.models import wrap  # noqa: E402
from shakeout.models.runtime import (gaussian, inference, repeat_forward,  # noqa: E402
                                     repeat_proba, torch_generator, uniform, with_module)


def _threshold_net(bias: float = 0.0):
    """Logits ``(-x, x + bias)``: class 1 when ``2x + bias > 0``."""
    net = torch.nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-1.0], [1.0]]))
        net.bias.copy_(torch.tensor([0.0, bias]))
    return net


def test_inference_sets_the_asked_state_and_restores_it():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))
    net.train()
    net[0].eval()  # a submodule in its own mode gets it back
    net[2].bias.requires_grad_(False)  # one frozen by the caller: stays frozen
    model = wrap(net)
    with inference(model, grad=True) as module:
        assert module is net and not net.training and torch.is_grad_enabled()
        assert not any(p.requires_grad for p in net.parameters())
    with inference(model, train=True, grad=False):
        assert net.training and not torch.is_grad_enabled()
    with inference(model, grad=True, freeze=False):
        assert net[0].weight.requires_grad
    assert net.training and torch.is_grad_enabled()
    assert [layer.training for layer in net] == [False, True, True]
    assert [p.requires_grad for p in net.parameters()] == [True, True, True, False]


def test_inference_restores_state_after_an_exception():
    net = torch.nn.Linear(3, 2).train()
    with pytest.raises(RuntimeError, match="boom"):
        with inference(wrap(net), grad=True):
            raise RuntimeError("boom")
    assert net.training and net.weight.requires_grad and net.bias.requires_grad
    assert torch.is_grad_enabled()
    net.eval()
    with pytest.raises(RuntimeError):  # a forward that fails inside the context
        with inference(wrap(net), train=True) as module:
            module(torch.zeros(2, 5))
    assert not net.training


def test_inference_needs_a_torch_model():
    with pytest.raises(ValidationError, match="inference needs a torch model; got <lambda>"):
        with inference(wrap(lambda X: X, task="regression")):
            pass


def test_torch_generator_is_seeded_by_one_draw_of_the_numpy_generator():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    a, b = torch_generator(rng_a), torch_generator(rng_b)
    assert torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))
    assert rng_a.integers(100) == rng_b.integers(100)  # both streams moved on by one draw
    c = torch_generator(np.random.default_rng(6))
    assert not torch.equal(torch.randn(4, generator=torch_generator(np.random.default_rng(5))),
                           torch.randn(4, generator=c))


def test_with_module_keeps_the_wrapping():
    model = wrap(torch.nn.Linear(2, 3), classes=["a", "b", "c"], batch_size=7)
    other = with_module(model, torch.nn.Linear(2, 3))
    assert other.module is not model.module
    assert (other.task, other.classes_.tolist(), other.batch_size, other.device) == \
        ("classification", ["a", "b", "c"], 7, model.device)


@pytest.mark.parametrize("batch_size", [1000, 4096])
def test_repeat_forward_counts_are_binomial_with_the_closed_form_rate(batch_size):
    """Class 1 when ``x + noise > 0``: an input at ``m`` wins with probability Phi(m / sigma)."""
    sigma, n = 0.5, 20_000
    margins = np.array([-0.5, -0.1, 0.0, 0.2, 0.6], dtype=np.float32)
    counts = repeat_forward(wrap(_threshold_net()), margins[:, None], n,
                            noise=gaussian(sigma), batch_size=batch_size, seed=0)
    assert counts.shape == (5, 2) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts.sum(axis=1), n)
    p = stats.norm.cdf(margins / sigma)
    pvalues = [stats.binomtest(int(k), n, q).pvalue for k, q in zip(counts[:, 1], p)]
    assert min(pvalues) > 0.001 / len(p), pvalues  # Bonferroni over the five inputs


def test_repeat_forward_chi_square_against_the_closed_form_over_many_inputs():
    rng = np.random.default_rng(1)
    margins = rng.uniform(-1, 1, size=200).astype(np.float32)
    n = 500
    counts = repeat_forward(wrap(_threshold_net()), margins[:, None], n, noise=gaussian(1.0),
                            batch_size=3000, seed=2)
    p = stats.norm.cdf(margins)
    expected = n * p
    chi2 = float(np.sum((counts[:, 1] - expected) ** 2 / (expected * (1 - p))))
    assert stats.chi2.sf(chi2, len(margins)) > 0.001


def test_repeat_forward_is_seeded_and_needs_no_global_seed():
    x = np.zeros((3, 1), dtype=np.float32)
    model = wrap(_threshold_net())
    state = torch.random.get_rng_state()
    a = repeat_forward(model, x, 5000, noise=gaussian(1.0), batch_size=999, seed=7)
    b = repeat_forward(model, x, 5000, noise=gaussian(1.0), batch_size=999, seed=7)
    c = repeat_forward(model, x, 5000, noise=gaussian(1.0), batch_size=999, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(state, torch.random.get_rng_state())


def test_repeat_forward_without_noise_is_deterministic_for_a_deterministic_model():
    counts = repeat_forward(wrap(_threshold_net()), np.array([[-1.0], [2.0]], np.float32), 10,
                            seed=0)
    assert counts.tolist() == [[10, 0], [0, 10]]


def test_repeat_forward_mc_dropout_matches_the_drop_rate():
    """Dropout on one input of 1: the value is 0 (class 0) with probability p, else 1/(1-p)
    (class 1, as the threshold sits at 0.5)."""
    p, n = 0.3, 10_000
    net = torch.nn.Sequential(torch.nn.Dropout(p), _threshold_net(bias=-1.0)).eval()
    state = torch.random.get_rng_state()
    counts = repeat_forward(wrap(net), np.ones((2, 1), np.float32), n, dropout=True, seed=0)
    again = repeat_forward(wrap(net), np.ones((2, 1), np.float32), n, dropout=True, seed=0)
    np.testing.assert_array_equal(counts, again)
    assert not net.training  # eval mode back
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's global stream too
    for k in counts[:, 1]:
        assert stats.binomtest(int(k), n, 1 - p).pvalue > 0.001


def test_repeat_forward_single_logit_binary_model():
    net = torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.zero_()
    counts = repeat_forward(wrap(net), np.array([[-3.0], [3.0]], np.float32), 100, seed=0)
    assert counts.tolist() == [[100, 0], [0, 100]]


def test_repeat_forward_refuses_what_it_cannot_count():
    with pytest.raises(ValidationError, match="repeat_forward needs a torch model"):
        repeat_forward(wrap(lambda X: X, task="classification"), np.ones((1, 2)), 10)
    with pytest.raises(ValidationError, match="repeat_forward counts classes, but Linear is a "
                                              "regressor"):
        repeat_forward(wrap(torch.nn.Linear(1, 1), task="regression"), np.ones((1, 1)), 10)
    with pytest.raises(ValidationError, match="n must be"):
        repeat_forward(wrap(_threshold_net()), np.ones((1, 1)), 0)
    with pytest.raises(ValidationError, match="sigma must be"):
        gaussian(-1.0)


def _batch_norm_net(p: float):
    """Linear, batch-norm (running statistics far from any batch's), dropout ``p``, linear."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4),
                                  torch.nn.Dropout(p), torch.nn.Linear(4, 3))
    bn = net[1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([2.0, -1.5, 1.0, -2.5]))
        bn.running_var.copy_(torch.tensor([0.2, 3.0, 0.5, 4.0]))
    bn.num_batches_tracked.fill_(7)
    return net.eval()


def _bn_state(net):
    return [t.clone() for t in (net[1].running_mean, net[1].running_var,
                                net[1].num_batches_tracked)]


def test_mc_dropout_leaves_batch_norm_in_eval_mode_with_its_running_statistics():
    """Only the dropout layers run in train mode: batch-norm normalises with its running
    statistics (not the batch's) and does not update them, so with dropout p=0 every pass
    is the eval-mode forward."""
    net = _batch_norm_net(0.0)
    x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    model = wrap(net)
    before = _bn_state(net)
    eval_class = model.predict_proba(x).argmax(axis=1)
    counts = repeat_forward(model, x, 50, dropout=True, batch_size=64, seed=0)
    mean, _ = repeat_proba(model, x, 50, dropout=True, batch_size=64, seed=0)
    assert counts[np.arange(6), eval_class].tolist() == [50] * 6
    np.testing.assert_allclose(mean, model.predict_proba(x), rtol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_state(net)))
    assert not any(layer.training for layer in net.modules())
    # batch statistics would have answered otherwise: the test can tell the two apart
    with torch.no_grad():
        batch_class = net.train()(torch.as_tensor(x)).argmax(dim=1).numpy()
    assert not np.array_equal(batch_class, eval_class)


def test_mc_dropout_with_batch_norm_keeps_running_statistics_and_modes():
    net = _batch_norm_net(0.5)
    net[2].train()  # a layer the caller left in train mode gets its mode back
    before = _bn_state(net)
    counts = repeat_forward(wrap(net), np.ones((3, 2), np.float32), 2_000, dropout=True,
                            batch_size=500, seed=0)
    assert counts.sum() == 6_000 and np.count_nonzero(counts) > 3  # dropout did vary the class
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_state(net)))
    assert [layer.training for layer in net] == [False, False, True, False]


@pytest.mark.parametrize("noise, law", [
    (gaussian, lambda s: stats.norm(0, s)),
    (uniform, lambda s: stats.uniform(-s, 2 * s)),
])
def test_noise_scale_per_feature_follows_its_law(noise, law):
    """An array scale gives each feature its own spread; a zero scale adds nothing."""
    scale = np.array([0.5, 2.0, 0.0])
    out = noise(scale)(torch.zeros(20_000, 3), torch_generator(np.random.default_rng(0)))
    assert out.shape == (20_000, 3) and out.dtype == torch.float32
    for j in (0, 1):
        assert stats.kstest(out[:, j].numpy(), law(scale[j]).cdf).pvalue > 0.001
    assert torch.all(out[:, 2] == 0)


def test_uniform_noise_stays_within_its_half_width():
    out = uniform(0.3)(torch.zeros(50_000), torch_generator(np.random.default_rng(1)))
    assert float(out.abs().max()) <= 0.3 and float(out.abs().max()) > 0.29


def test_noise_scale_broadcasts_to_one_input():
    """A scale per channel ``(c, 1, 1)`` spreads over an image's pixels; the draws come from
    the generator given: the same seed gives the same noise, the global stream is untouched."""
    scale = np.array([0.1, 1.0])[:, None, None]
    state = torch.random.get_rng_state()
    a = gaussian(scale)(torch.zeros(4_000, 2, 3, 3), torch_generator(np.random.default_rng(2)))
    b = gaussian(scale)(torch.zeros(4_000, 2, 3, 3), torch_generator(np.random.default_rng(2)))
    assert torch.equal(a, b) and torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_allclose(a.std(dim=(0, 2, 3)).numpy(), [0.1, 1.0], rtol=0.03)


def test_an_array_scale_draws_as_its_number_would():
    """A constant array scale and the number give the same noise from the same stream."""
    x = torch.zeros(100, 4)
    for noise in (gaussian, uniform):
        a = noise(0.7)(x, torch_generator(np.random.default_rng(3)))
        b = noise(np.full(4, 0.7))(x, torch_generator(np.random.default_rng(3)))
        assert torch.equal(a, b)


@pytest.mark.parametrize("make, scale, match", [
    (gaussian, -1.0, r"gaussian: sigma must be in \[0, inf\], got -1.0"),
    (uniform, float("nan"), "uniform: half_width must be a number, got nan"),
    (gaussian, np.array([0.5, -0.2]), r"gaussian: sigma must be at least 0 everywhere, got "
                                      r"-0.2 at index \(1,\)"),
    (uniform, np.array([0.5, np.inf]), "uniform: half_width contains NaN or inf"),
    (gaussian, np.array(-0.5), "gaussian: sigma must be in"),
])
def test_bad_noise_scales_are_refused(make, scale, match):
    with pytest.raises(ValidationError, match=match):
        make(scale)


def test_a_scale_that_does_not_fit_one_input_is_refused():
    gen = torch_generator(np.random.default_rng(0))
    with pytest.raises(ValidationError, match=r"gaussian: sigma of shape \(3,\) does not "
                                              r"broadcast to one input of shape \(2,\)"):
        gaussian(np.ones(3))(torch.zeros(5, 2), gen)
    with pytest.raises(ValidationError, match=r"uniform: half_width of shape \(5, 1\) does not "
                                              r"broadcast to one input of shape \(2,\)"):
        uniform(np.ones((5, 1)))(torch.zeros(5, 2), gen)  # per row, not per feature
