"""The soundness check: sound certificates survive an attack on the smoothed classifier,
inflated ones do not, and the finding judges the count against the alpha-rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from shakeout.certify import certify, soundness
from shakeout.certify.findings import soundness_finding
from shakeout.certify.soundness import Soundness
from shakeout.errors import ValidationError

from .conftest import linear

CALIBRATES = ("soundness",)
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

torch = pytest.importorskip("torch")


def test_no_certificate_of_the_digits_cnn_is_broken(digits, noisy_cnn):
    _, X_test, _, y_test = digits
    X = X_test[:40]
    cert = certify(noisy_cnn, X, sigma=0.25, n0=50, n=1_000, seed=0)
    check = soundness(noisy_cnn, X, cert, steps=10, samples=8, n=1_000, seed=1)
    assert check.attacked.sum() >= 30
    assert not check.broken.any()
    assert np.all(check.distance[check.attacked] <= cert.radius[check.attacked] * (1 + 1e-5))
    # the attack moved the points to (about) the edge of their radius
    assert np.median(check.distance[check.attacked] / cert.radius[check.attacked]) > 0.9


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_inflated_certificates_are_broken(plane, norm):
    """Radii doubled beyond a linear model's true distance: the attack crosses the boundary
    and the test at the point found shows the top class below one half."""
    net, on, normal = plane
    t = np.array([0.2, 0.35, -0.3])
    X = (on[None] + t[:, None] * normal[None]).astype(np.float32)
    if norm == "l1":  # a model that reads one coordinate, where L1 distance is exact
        net, X = linear(np.array([1.0, 0.0]), 0.0), np.c_[t, np.zeros(3)].astype(np.float32)
    cert = certify(net, X, sigma=0.5, norm=norm, n=5_000, seed=0)
    assert not soundness(net, X, cert, seed=1).broken.any()
    broken = soundness(net, X, replace(cert, radius=2.5 * cert.radius), seed=1)
    assert broken.broken.all() and np.all(broken.p_upper < 0.5)


def test_relative_noise_is_attacked_in_standardized_units():
    net = linear(np.array([1.0, 0.0]), 0.0)
    X = np.array([[3.0, 0.0], [-6.0, 1.0], [9.0, -1.0]], np.float32)
    cert = certify(net, X, sigma=0.5, relative=True, n=5_000, seed=0)
    assert not soundness(net, X, cert, seed=1).broken.any()
    assert soundness(net, X, replace(cert, radius=2.5 * cert.radius), seed=1).broken.all()


def test_abstentions_are_not_attacked():
    net = linear(np.array([1.0]), 0.0)
    X = np.array([[0.0], [1.0]], np.float32)
    cert = certify(net, X, sigma=0.5, n=2_000, seed=0)
    check = soundness(net, X, cert, seed=0)
    assert check.attacked.tolist() == [False, True] and np.isnan(check.p_upper[0])


def test_certificates_of_other_inputs_are_refused():
    net = linear(np.array([1.0]), 0.0)
    cert = certify(net, np.ones((3, 1), np.float32), sigma=0.5, n=100, seed=0)
    with pytest.raises(ValidationError, match="certificates are about 3 inputs but X has 2"):
        soundness(net, np.ones((2, 1), np.float32), cert)


def _check(broken: int, m: int = 100) -> Soundness:
    hit = np.zeros(m, bool)
    hit[:broken] = True
    return Soundness(np.ones(m, bool), hit, np.full(m, 0.4), np.full(m, 0.1))


def test_the_finding_fails_only_beyond_the_rate_sound_certificates_allow():
    """At alpha=0.001 a sound check breaks each of 100 certificates with probability at most
    0.002: one broken is within that (warn), three are not (fail, p < 0.05)."""
    statuses = [soundness_finding(_check(k), 0.001, 0.95, "u").status for k in (0, 1, 3)]
    assert statuses == ["pass", "warn", "fail"]
    f = soundness_finding(_check(3), 0.001, 0.95, "u")
    from scipy import stats

    assert f.p_value == pytest.approx(stats.binomtest(3, 100, 0.002, "greater").pvalue)
    assert f.details["broken_inputs"] == [0, 1, 2]
