"""WeightBitFlips: each stored bit flips independently with probability ``severity``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.perturb import WeightBitFlips, make
from shakeout.stress.plan import PerturbationSpec


def _net() -> torch.nn.Module:
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 10), torch.nn.ReLU(), torch.nn.Linear(10, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net.eval()


def _flipped_bits(net: torch.nn.Module, other: torch.nn.Module) -> np.ndarray:
    """A 0/1 array over every stored bit of the parameters: 1 where the two nets differ."""
    words = [(a.detach().numpy().view(np.uint32) ^ b.detach().numpy().view(np.uint32)).ravel()
             for a, b in zip(net.parameters(), other.parameters())]
    return np.unpackbits(np.concatenate(words).view(np.uint8), bitorder="little")


def test_the_count_of_flipped_bits_is_binomial_and_positions_are_uniform() -> None:
    net = _net()
    total = sum(p.numel() for p in net.parameters()) * 32           # 243 weights, 7,776 bits
    rate = 2e-3
    flips = np.array([_flipped_bits(net, WeightBitFlips().apply(net, rate, seed=s).module)
                      for s in range(400)])
    counts = flips.sum(axis=1)
    # The total over 400 draws is Binomial(400 total, rate): inside its 99.9% band.
    low, high = stats.binom.interval(0.999, 400 * total, rate)
    assert low <= counts.sum() <= high
    # Per draw, the variance of a binomial count, not of a fixed number of flips.
    dispersion = ((counts - total * rate) ** 2 / (total * rate * (1 - rate))).sum()
    assert stats.chi2.ppf(5e-4, 399) < dispersion < stats.chi2.ppf(1 - 5e-4, 399)
    # Each bit position within a word (0-31) is hit equally often.
    by_bit = flips.reshape(400, -1, 32).sum(axis=(0, 1))
    assert stats.chisquare(by_bit).pvalue > 1e-3


def test_severity_zero_is_the_same_module_and_the_input_is_untouched() -> None:
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    assert WeightBitFlips().apply(net, 0.0, seed=0).module is net
    out = WeightBitFlips().apply(net, 1e-2, seed=0).module
    assert out is not net and _flipped_bits(net, out).sum() > 0
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))


def test_reduced_precision_weights_flip_in_their_own_width() -> None:
    net = _net().to(torch.bfloat16)
    out = WeightBitFlips().apply(net, 5e-3, seed=1).module
    words = [(a.detach().view(torch.int16) ^ b.detach().view(torch.int16)).numpy().ravel()
             for a, b in zip(net.parameters(), out.parameters())]
    changed = np.unpackbits(np.concatenate(words).view(np.uint8)).sum()
    # 243 weights x 16 bits x 5e-3: about 19 flips expected
    assert 0 < changed < 60 and {p.dtype for p in out.parameters()} == {torch.bfloat16}


def test_higher_bit_error_rates_hurt_more_on_average() -> None:
    net = _net()
    X = np.random.default_rng(0).normal(size=(200, 20)).astype(np.float32)
    clean = net(torch.from_numpy(X)).argmax(1).detach().numpy()

    def flipped_share(rate: float) -> float:
        return float(np.mean([(WeightBitFlips().apply(net, rate, seed=s).predict(X) != clean).mean()
                              for s in range(20)]))

    assert flipped_share(1e-5) < flipped_share(1e-2)


def test_registered_for_plans_and_checked() -> None:
    sweep = PerturbationSpec(name="weight_bit_flips", severities=[0, 1e-4]).to_sweep()
    assert isinstance(sweep.perturbation, WeightBitFlips)
    assert make("weight_bit_flips").kind == "model"
    with pytest.raises(ValidationError, match=r"severity must be in \[0, 0.01\]"):
        WeightBitFlips().apply(_net(), 0.5, seed=0)
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression().fit(np.eye(2), [0, 1])
    with pytest.raises(ValidationError, match="not a torch module"):
        WeightBitFlips().apply(linear, 1e-3, seed=0)
