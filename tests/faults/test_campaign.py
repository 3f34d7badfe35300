"""The campaign drill: exhaustive rates equal a hand enumeration of every flip, sampled
intervals cover the exact rate, critical faults, fleet arithmetic, the model left untouched,
DUEs counted, bad input refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.faults import fleet_failure, run
from calibration.bands import coverage_band

CALIBRATES = ("fleet_failure",)
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

torch = pytest.importorskip("torch")


def _linear(seed: int = 0) -> "torch.nn.Linear":
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Linear(3, 3)
    with torch.no_grad():
        net.weight.copy_(torch.randn(3, 3, generator=gen))
        net.bias.copy_(torch.randn(3, generator=gen) * 0.1)
    return net


def _data(seed: int = 0, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    return X, rng.integers(0, 3, size=n)


def _hand_rates(net: "torch.nn.Linear", X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Every single bit flip of every weight and bias, by numpy views, with a float32 forward
    written out term by term: the outcome of each by the definitions."""
    W = net.weight.detach().numpy().copy()
    b = net.bias.detach().numpy().copy()

    def forward(W: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.stack([sum(X[:, j] * W[i, j] for j in range(3)) + b[i]
                             for i in range(3)], axis=1).astype(np.float32)

    clean_top = forward(W, b).argmax(1)
    tally = {"sdc": 0, "critical_sdc": 0, "due": 0, "masked": 0}
    total = 0
    for array in (W, b):
        for index in range(array.size):
            for bit in range(32):
                flat = array.reshape(-1)
                saved = flat[index]
                flat[index:index + 1] = (flat[index:index + 1].view(np.uint32)
                                         ^ np.uint32(1 << bit)).view(np.float32)
                out = forward(W, b)
                flat[index] = saved
                total += 1
                if not np.isfinite(out).all():
                    tally["due"] += 1
                    continue
                moved = out.argmax(1) != clean_top
                if not moved.any():
                    tally["masked"] += 1
                    continue
                tally["sdc"] += 1
                tally["critical_sdc"] += bool(np.any(moved & (clean_top == y)))
    return {k: v / total for k, v in tally.items()}


def _rate(result, metric: str, group: str = "campaign"):
    return result.select(metric=metric, group=group)[0]


def test_exhaustive_campaign_equals_the_hand_enumeration_of_every_flip():
    net, (X, y) = _linear(), _data()
    hand = _hand_rates(net, X, y)
    result = run(net, X, y, seed=0)
    for rate in ("sdc", "critical_sdc", "due", "masked"):
        f = _rate(result, f"{rate}_rate")
        assert f.value == pytest.approx(hand[rate], abs=1e-12), rate
        assert f.ci is None and f.details["sampling"] == "exhaustive: exact"
    assert _rate(result, "sdc_rate").details["injections"] == 12 * 32
    assert 0 < hand["sdc"] < 1 and hand["due"] > 0


@pytest.mark.parametrize("level", [0.9])
def test_sampled_interval_covers_the_exact_rate_at_its_level_over_seeds(level):
    net, (X, y) = _linear(), _data()
    exact = _hand_rates(net, X, y)["sdc"]
    trials, covered = 120, 0
    for seed in range(trials):
        f = _rate(run(net, X, y, margin=0.1, confidence=level, exhaustive_max=1, seed=seed),
                  "sdc_rate")
        assert f.details["injections"] < 12 * 32 and f.ci_level == level
        covered += f.ci[0] <= exact <= f.ci[1]
    lo, _ = coverage_band(trials, level)
    assert covered >= lo, f"{covered} of {trials} covered; the exact interval needs >= {lo}"


def test_top_exponent_flip_is_critical_and_bit_0_is_masked():
    net, (X, y) = _linear(), _data()
    result = run(net, X, y, bits=[0, 30], seed=0)
    critical = result.select(group="critical")
    assert critical and all(f.details["bit"] == 30 for f in critical)
    assert {f.details["field"] for f in critical} == {"exponent"}
    assert _rate(result, "sdc_rate", "bit").severity == 0.0  # listed first: bit 0
    by_bit = {f.severity: f for f in result.select(metric="sdc_rate", group="bit")}
    assert by_bit[0.0].value == 0.0 and by_bit[0.0].details["count"] == 0
    assert by_bit[30.0].value > 0.5


def test_the_model_is_bit_for_bit_unchanged_also_with_mitigations():
    net, (X, y) = _linear(), _data()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    run(net, X, y, bits=[30, 31, 22], kinds=("flip", "stuck_at_1"),
        mitigations=("range_restriction", "redundant_execution", "protection"), seed=0)
    after = net.state_dict()
    assert all(before[k].numpy().tobytes() == after[k].numpy().tobytes() for k in before)
    assert not net._forward_hooks and not net._forward_pre_hooks


class _Guarded(torch.nn.Module):
    """Raises on a huge weight: a fault that crashes the forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = _linear()

    def forward(self, x):
        if self.fc.weight.abs().max() > 1e30:
            raise RuntimeError("weight out of range")
        return self.fc(x)


def test_due_outcomes_are_counted_not_crashes():
    X, y = _data()
    result = run(_Guarded(), X, y, bits=[30], layers=["fc.weight"], seed=3)
    weight = _linear().weight.detach().numpy().reshape(-1)
    flipped = (weight.view(np.uint32) ^ np.uint32(1 << 30)).view(np.float32)
    huge = int(np.sum(np.abs(flipped) > 1e30))  # these raise; NaN/inf weights give NaN out
    huge += int(np.sum(~np.isfinite(flipped)))
    assert 0 < huge and _rate(result, "due_rate").details["count"] == huge
    total = sum(_rate(result, f"{r}_rate").details["count"] for r in ("sdc", "due", "masked"))
    assert total == 9


def test_fleet_arithmetic_by_hand_and_through_the_interval():
    assert fleet_failure(0.001, 1000) == pytest.approx(1 - 0.999 ** 1000, rel=1e-12)
    assert fleet_failure(1e-12, 10) == pytest.approx(1e-11, rel=1e-6)  # no cancellation
    lo, hi = fleet_failure([1e-4, 3e-4], 5000)
    assert (lo, hi) == (pytest.approx(1 - (1 - 1e-4) ** 5000), pytest.approx(1 - (1 - 3e-4) ** 5000))
    net, (X, y) = _linear(), _data()
    result = run(net, X, y, margin=0.1, confidence=0.95, exhaustive_max=1,
                 fault_probability=1e-5, fleet=10_000, seed=0)
    sdc, fleet = _rate(result, "sdc_rate"), _rate(result, "fleet_failure")
    assert fleet.value == pytest.approx(1 - (1 - 1e-5 * sdc.value) ** 10_000)
    assert fleet.ci == pytest.approx((1 - (1 - 1e-5 * sdc.ci[0]) ** 10_000,
                                      1 - (1 - 1e-5 * sdc.ci[1]) ** 10_000))
    with pytest.raises(ValidationError, match="p must be in"):
        fleet_failure(1.5, 3)


def test_transient_faults_strike_one_input_and_redundant_execution_detects_them():
    net, (X, y) = _linear(), _data(n=4)
    result = run(net, X, y, bits=[30], transient=True,
                 mitigations=("redundant_execution",), seed=0)
    assert _rate(result, "sdc_rate").details["population"] == 12 * 4
    after = _rate(result, "sdc_rate", "redundant_execution")
    assert after.value == 0.0 and _rate(result, "sdc_rate").value > 0
    permanent = run(net, X, y, bits=[30], mitigations=("redundant_execution",), seed=0)
    assert (_rate(permanent, "sdc_rate", "redundant_execution").value
            == _rate(permanent, "sdc_rate").value)  # both executions see a permanent fault


def test_bad_input_is_refused_clearly():
    net, (X, y) = _linear(), _data()
    with pytest.raises(ValidationError, match="'nope'"):
        run(net, X, y, layers=["nope"])
    with pytest.raises(ValidationError, match="bit position 40 is outside weight .float32, bits "
                                              "0 to 31"):
        run(net, X, y, bits=[40])
    with pytest.raises(ValidationError, match="unknown mitigation 'ecc'"):
        run(net, X, y, mitigations=["ecc"])


def test_same_seed_same_numbers():
    net, (X, y) = _linear(), _data()
    a = run(net, X, y, margin=0.1, exhaustive_max=1, kinds=("random_value", "flip"), seed=4)
    b = run(net, X, y, margin=0.1, exhaustive_max=1, kinds=("random_value", "flip"), seed=4)
    assert [f.value for f in a.findings] == [f.value for f in b.findings]
    assert not math.isnan(_rate(a, "sdc_rate").value)
