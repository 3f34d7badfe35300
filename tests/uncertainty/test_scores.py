"""Uncertainty scores: closed forms, scipy, MC dropout's law, the ensemble split."""

import numpy as np
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.uncertainty import (confidence, ensemble, entropy, margin, max_probability,
                                  mc_dropout)

CALIBRATES = ("confidence", "max_probability", "margin", "entropy", "mc_dropout",
              "ensemble")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

torch = pytest.importorskip("torch")


def _dirichlet(n=200, k=4, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


def test_scores_match_their_definitions_and_scipy():
    p = _dirichlet()
    ordered = np.sort(p, axis=1)
    np.testing.assert_allclose(max_probability(p), ordered[:, -1])
    np.testing.assert_allclose(margin(p), ordered[:, -1] - ordered[:, -2])
    np.testing.assert_allclose(entropy(p), stats.entropy(p, axis=1))
    np.testing.assert_allclose(confidence(p, "entropy"), -stats.entropy(p, axis=1))


def test_scores_refuse_nan_logits_and_labels():
    with pytest.raises(ValidationError, match="proba contains NaN or inf .1 values, first at "
                                              "row 1"):
        max_probability([[0.5, 0.5], [np.nan, 1.0]])
    with pytest.raises(ValidationError, match="row 0 is not a probability distribution .sum 3"):
        entropy([[1.0, 2.0]])
    with pytest.raises(ValidationError, match=r"shape \(n, n_classes\).*got shape \(3,\)"):
        margin([0, 1, 1])
    with pytest.raises(ValidationError, match="score must be one of 'max_probability'"):
        confidence([[0.5, 0.5]], "variance")


def _dropout_net(p=0.5):
    net = torch.nn.Sequential(torch.nn.Dropout(p), torch.nn.Linear(1, 2, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[-1.0], [1.0]]))
    return net


def test_mc_dropout_averages_to_the_closed_form_of_its_dropout_law():
    # Dropout(0.5) on the input 1 gives 0 or 2, each with probability 1/2: logits (0, 0) or
    # (-2, 2), so the mean probability of class 1 is (0.5 + sigmoid(4)) / 2.
    n = 20_000
    d = mc_dropout(_dropout_net(), np.ones((3, 1), np.float32), n=n, batch_size=7_000, seed=0)
    hi = 1 / (1 + np.exp(-4.0))
    want = (0.5 + hi) / 2
    sd = (hi - 0.5) / 2 / np.sqrt(n)
    assert np.all(np.abs(d.proba[:, 1] - want) < 4.5 * sd)
    h_low, h_high = np.log(2), stats.entropy([1 - hi, hi])
    assert np.all(np.abs(d.aleatoric - (h_low + h_high) / 2) < 4.5 * (h_low - h_high) / 2
                  / np.sqrt(n))
    np.testing.assert_allclose(d.total, stats.entropy(d.proba, axis=1))
    np.testing.assert_allclose(d.aleatoric + d.epistemic, d.total)
    assert np.all(d.epistemic > 0.05)


def test_mc_dropout_is_seeded_and_leaves_the_model_and_global_seed_alone():
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8),
                              torch.nn.Dropout(0.3), torch.nn.Linear(8, 2)).train()
    running = net[1].running_mean.clone()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    before = torch.random.get_rng_state()
    a = mc_dropout(net, x, n=40, batch_size=33, seed=3)
    b = mc_dropout(net, x, n=40, batch_size=33, seed=3)
    c = mc_dropout(net, x, n=40, batch_size=33, seed=4)
    assert np.array_equal(a.proba, b.proba) and not np.array_equal(a.proba, c.proba)
    assert torch.equal(torch.random.get_rng_state(), before)
    # batch-norm stayed in eval mode: its running statistics were used, not updated
    assert torch.equal(net[1].running_mean, running)
    assert net.training and net[2].training and net[1].training


def test_mc_dropout_refuses_a_model_without_dropout_and_a_regressor():
    with pytest.raises(ValidationError, match="mc_dropout needs dropout layers, but Linear has "
                                              "none"):
        mc_dropout(torch.nn.Linear(2, 2), np.ones((1, 2), np.float32))
    with pytest.raises(ValidationError, match="mc_dropout needs class probabilities, but "
                                              "Sequential is a regressor"):
        mc_dropout(wrap(_dropout_net(), task="regression"), np.ones((1, 1), np.float32))
    with pytest.raises(ValidationError, match="mc_dropout needs a torch model"):
        mc_dropout(wrap(lambda X: np.tile([0.5, 0.5], (len(X), 1)), task="classification"),
                   np.ones((1, 1)))
    with pytest.raises(ValidationError, match="n must be in \\[2, inf\\]"):
        mc_dropout(_dropout_net(), np.ones((1, 1), np.float32), n=1)


def _constant(row, classes=None):
    return wrap(lambda X: np.tile(row, (len(X), 1)), task="classification", classes=classes)


def test_ensemble_splits_entropy_into_expected_entropy_and_mutual_information():
    members = [_constant(p) for p in ([0.9, 0.1], [0.6, 0.4], [0.2, 0.8])]
    d = ensemble(members, np.zeros((2, 1)))
    rows = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    mean = rows.mean(axis=0)
    expected = stats.entropy(rows, axis=1).mean()
    np.testing.assert_allclose(d.proba, [mean, mean])
    np.testing.assert_allclose(d.aleatoric, expected)
    np.testing.assert_allclose(d.epistemic, stats.entropy(mean) - expected)
    same = ensemble([_constant([0.7, 0.3])] * 3, np.zeros((1, 1)))
    np.testing.assert_allclose(same.epistemic, 0.0, atol=1e-12)
    np.testing.assert_allclose(same.aleatoric, stats.entropy([0.7, 0.3]))


def test_ensemble_refuses_too_few_or_mismatched_members():
    with pytest.raises(ValidationError, match="ensemble needs a list of at least 2 models"):
        ensemble([_constant([0.5, 0.5])], np.zeros((1, 1)))
    with pytest.raises(ValidationError, match=r"member 1 \(<lambda>\) has classes \['0', '1', "
                                              r"'2'\] but member 0 has \['0', '1'\]"):
        ensemble([_constant([0.5, 0.5]), _constant([0.2, 0.3, 0.5])], np.zeros((1, 1)))
    with pytest.raises(ValidationError, match="same classes in the same order"):
        ensemble([_constant([0.5, 0.5], ["a", "b"]), _constant([0.5, 0.5], ["b", "a"])],
                 np.zeros((1, 1)))
    with pytest.raises(ValidationError, match="member 1's probabilities contains NaN"):
        ensemble([_constant([0.5, 0.5]), _constant([np.nan, 0.5])], np.zeros((1, 1)))


def test_repeat_proba_averages_noisy_passes_to_the_closed_form():
    # a steep threshold at 0: under noise of sd 1 the input 1 is class 1 with Phi(1)
    from shakeout.models.runtime import gaussian, repeat_forward, repeat_proba

    net = torch.nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-500.0], [500.0]]))
        net.bias.zero_()
    n, x = 20_000, np.ones((2, 1), np.float32)
    mean, ent = repeat_proba(wrap(net), x, n, noise=gaussian(1.0), batch_size=3_000, seed=0)
    p = stats.norm.cdf(1.0)
    assert np.all(np.abs(mean[:, 1] - p) < 4.5 * np.sqrt(p * (1 - p) / n))
    assert np.all(ent < 0.01) and np.allclose(mean.sum(axis=1), 1.0)
    counts = repeat_forward(wrap(net), x, n, noise=gaussian(1.0), batch_size=3_000, seed=0)
    assert np.allclose(mean, counts / n, atol=2e-3)  # the same draws, counted or averaged
