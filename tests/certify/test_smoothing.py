"""CERTIFY and PREDICT on linear classifiers, where smoothing has a closed form.

Under Gaussian noise of standard deviation sigma a linear classifier's smoothed top-class
probability is ``Phi(d / sigma)`` at L2 distance ``d`` from its boundary, so the exact
certified radius is ``d``; under uniform noise on ``[-lambda, lambda]^d`` a classifier that
reads one coordinate has ``pA = 1/2 + t / (2 lambda)`` at distance ``t <= lambda``, and the
exact L1 radius is ``t``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from shakeout.certify import certify, predict
from shakeout.certify.smoothing import lower_bounds
from shakeout.errors import ValidationError

from .conftest import linear

CALIBRATES = ("certify", "predict")
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""

torch = pytest.importorskip("torch")
SIGMA = 0.5


def _at(plane, t: np.ndarray) -> np.ndarray:
    """Points at signed distances ``t`` from the plane's boundary."""
    _, on, normal = plane
    return (on[None] + t[:, None] * normal[None]).astype(np.float32)


def test_l2_radii_never_exceed_the_distance_and_are_within_5_percent_of_it(plane):
    t = SIGMA * np.array([0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 2.9, -0.7, -2.5])
    cert = certify(plane[0], _at(plane, t), sigma=SIGMA, n=100_000, batch_size=100_000, seed=0)
    d = np.abs(t)
    right = (t > 0).astype(int)
    assert np.all((cert.prediction == right) | (cert.abstained & (d < 0.1 * SIGMA)))
    # (n0=100 passes may pick the wrong class at d = 0.025, where pA is 0.52: it abstains)
    assert np.all(cert.radius <= d)
    # from sigma/2 the bound's slack (z_alpha sqrt(pA (1 - pA) / n)) costs under 3%; closer
    # to the boundary it is most of a small radius (6% at sigma/4), but at most 5% of sigma
    far = d >= 0.5 * SIGMA
    assert np.all(cert.radius[far] >= 0.95 * d[far])
    gap = (d - cert.radius)[~cert.abstained]
    assert np.all(gap <= 0.05 * np.maximum(d, SIGMA)[~cert.abstained])
    assert np.all(cert.p_lower <= stats.norm.cdf(d / SIGMA))


def test_a_certificate_is_wrong_at_most_at_rate_alpha():
    """P(p_lower > pA) <= alpha: 500 inputs at the same distance, alpha=0.1, n=200; the
    count of bounds above the true pA stays under the 99.9% binomial band of rate 0.1."""
    net = linear(np.array([1.0]), 0.0)
    X = np.full((500, 1), 0.25, np.float32)
    cert = certify(net, X, sigma=SIGMA, n0=20, n=200, alpha=0.1, seed=3)
    wrong = int(np.sum(cert.p_lower > stats.norm.cdf(0.25 / SIGMA)))
    assert wrong <= stats.binom.ppf(0.999, 500, 0.1)
    assert wrong == int(np.sum(cert.radius > 0.25))  # a wrong bound certifies too far


def test_l1_uniform_radii_match_the_closed_form_on_a_linear_model():
    lam = 0.4
    net = linear(np.array([1.0, 0.0, 0.0]), 0.0)
    t = lam * np.array([0.1, 0.4, 0.8, 1.5])
    X = np.c_[t, np.ones((4, 2))].astype(np.float32)
    cert = certify(net, X, sigma=lam, norm="l1", n=100_000, batch_size=100_000, seed=0)
    exact = np.minimum(t, lam)  # beyond lambda every noisy pass wins: the radius tops at lambda
    assert np.all(cert.radius <= t)
    assert np.allclose(cert.radius, exact, atol=0.02 * lam)
    assert cert.unit == "l1 radius, input units (uniform noise on [-0.4, 0.4]^d)"


def test_uniform_noise_stays_inside_its_box():
    """The L1 noise is uniform on [-lambda, lambda]: a model that says class 1 only beyond
    lambda never sees it from 0."""
    net = linear(np.array([1.0]), -0.3)  # class 1 where x > 0.3
    cert = certify(net, np.zeros((2, 1), np.float32), sigma=0.3, norm="l1", n=5_000, seed=1)
    assert cert.prediction.tolist() == [0, 0]
    assert np.allclose(cert.p_lower, lower_bounds(np.array([5_000]), 5_000, 0.001)[0])


def test_relative_sigma_certifies_in_standardized_units():
    net = linear(np.array([1.0, 0.0]), 0.0)
    rng = np.random.default_rng(0)
    X = np.c_[rng.choice([-0.6, 0.3, 0.9], size=60) * 10, rng.normal(size=60)].astype(np.float32)
    spread = X[:, 0].astype(np.float64).std()
    cert = certify(net, X[:3], sigma=SIGMA, relative=True, n=100_000, batch_size=100_000,
                   seed=0)
    cert_all = certify(net, X, sigma=SIGMA, relative=True, n=20_000, batch_size=100_000, seed=0)
    d = np.abs(X[:, 0]) / spread
    assert np.all(cert_all.radius <= d)
    assert cert.unit.startswith("l2 radius, standardized units")
    # the spread is that of the X certified: three rows have their own
    d3 = np.abs(X[:3, 0]) / X[:3, 0].astype(np.float64).std()
    assert np.all(cert.radius <= d3)


def test_inputs_on_the_boundary_abstain():
    net = linear(np.array([1.0, -1.0]), 0.0)  # the boundary is x0 = x1
    X = (np.full((5, 2), 0.2) * np.arange(5)[:, None]).astype(np.float32)
    cert = certify(net, X, sigma=SIGMA, n=10_000, seed=0)
    assert cert.abstained.all() and np.all(cert.radius == 0)
    assert predict(net, X, sigma=SIGMA, n=10_000, seed=0).tolist() == [-1] * 5


def test_predict_answers_a_tie_at_most_at_rate_alpha():
    net = linear(np.array([1.0]), 0.0)
    answered = predict(net, np.zeros((500, 1), np.float32), sigma=SIGMA, n=200, alpha=0.1,
                       seed=5)
    assert np.sum(answered >= 0) <= stats.binom.ppf(0.999, 500, 0.1)


def test_predict_answers_clear_inputs():
    net = linear(np.array([1.0]), 0.0)
    got = predict(net, np.array([[-1.0], [2.0]], np.float32), sigma=SIGMA, n=1_000, seed=0)
    assert got.tolist() == [0, 1]


def test_lower_bounds_are_scipy_one_sided_exact_bounds():
    hits = np.array([0, 3, 50, 97, 100])
    want = [stats.binomtest(int(k), 100, alternative="greater").proportion_ci(0.99).low
            for k in hits]
    assert np.allclose(lower_bounds(hits, 100, 0.01), want)


def test_the_same_seed_gives_the_same_certificates(plane):
    X = _at(plane, SIGMA * np.array([0.3, 1.0, -1.2]))
    a = certify(plane[0], X, sigma=SIGMA, n=2_000, seed=7)
    b = certify(plane[0], X, sigma=SIGMA, n=2_000, seed=7)
    c = certify(plane[0], X, sigma=SIGMA, n=2_000, seed=8)
    assert np.array_equal(a.p_lower, b.p_lower) and np.array_equal(a.radius, b.radius)
    assert not np.array_equal(a.p_lower, c.p_lower)


def test_shards_draw_their_own_streams(plane):
    """A shard's certificates depend on its own stream only: certifying the first shard
    alone gives the same numbers."""
    X = _at(plane, SIGMA * np.linspace(-2, 2, 6))
    whole = certify(plane[0], X, sigma=SIGMA, n=1_000, shard_size=3, seed=2)
    first = certify(plane[0], X[:3], sigma=SIGMA, n=1_000, shard_size=3, seed=2)
    assert np.array_equal(whole.p_lower[:3], first.p_lower)


def test_images_of_any_shape_are_certified():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    X = np.random.default_rng(0).random((4, 3, 2, 2)).astype(np.float32)
    cert = certify(net, X, sigma=0.1, n=500, seed=0)
    assert cert.radius.shape == (4,)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": 0.0}, r"sigma must be in \(0, inf\], got 0.0"),
    ({"sigma": -1.0}, "sigma must be in"),
    ({"n0": 200, "n": 100}, r"n0 .* must be at most n .* got n0=200 > n=100"),
    ({"alpha": 0.0}, r"alpha must be in \(0, 1\)"),
    ({"alpha": 1.0}, r"alpha must be in \(0, 1\)"),
    ({"norm": "linf"}, "norm must be one of 'l2', 'l1'"),
    ({"n": 0}, "n must be"),
    ({"batch_size": 0}, "batch_size must be"),
])
def test_bad_settings_are_refused_with_a_clear_message(plane, kwargs, match):
    settings = {"sigma": SIGMA, **kwargs}
    with pytest.raises(ValidationError, match=match):
        certify(plane[0], np.zeros((2, 5), np.float32), **settings)


def test_a_model_without_torch_is_refused_naming_what_to_pass():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 2))
    clf = LogisticRegression().fit(X, X[:, 0] > 0)
    with pytest.raises(ValidationError, match="certify: randomized smoothing .* torch model; "
                                              "LogisticRegression is not one"):
        certify(clf, X, sigma=SIGMA)
    with pytest.raises(ValidationError, match="predict: .* torch model"):
        predict(clf, X, sigma=SIGMA)


def test_predict_refuses_a_bad_alpha():
    with pytest.raises(ValidationError, match=r"predict: alpha must be in \(0, 1\)"):
        predict(linear(np.array([1.0]), 0.0), np.zeros((1, 1)), sigma=SIGMA, alpha=1.5)


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_smoothing_noise_is_the_runtime_noise_of_sigma_times_the_spread(norm):
    """Relative noise is the runtime's Gaussian (L2) or uniform (L1) noise at ``sigma`` times
    each feature's spread, drawn from the generator given: one noise source for training,
    certification and the soundness attack."""
    from shakeout.certify.smoothing import smoothing
    from shakeout.models.runtime import gaussian, torch_generator, uniform

    X = np.random.default_rng(0).normal(size=(50, 3)) * [1.0, 4.0, 0.0]
    smooth, x = smoothing(linear(np.ones(3), 0.0), X, sigma=SIGMA, norm=norm, relative=True,
                          batch_size=64, owner="certify")
    batch = torch.as_tensor(x)
    got = smooth.noise()(batch, torch_generator(np.random.default_rng(1)))
    runtime = gaussian if norm == "l2" else uniform
    want = runtime(SIGMA * X.std(axis=0))(batch, torch_generator(np.random.default_rng(1)))
    assert torch.equal(got, want)
    assert torch.equal(got[:, 2], batch[:, 2])  # a constant feature gets no noise
