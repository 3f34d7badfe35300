"""Randomized smoothing: PREDICT and CERTIFY for L2 (Gaussian noise) and L1 (uniform noise).

The smoothed classifier ``g(x) = argmax_c P(f(x + e) = c)`` of a base classifier ``f`` is
robust by construction: when the top class ``cA`` has probability ``pA`` under the noise,
``g`` keeps answering ``cA`` within a radius that depends only on ``pA`` and the noise.

- Gaussian noise ``e ~ N(0, sigma^2 I)``: L2 radius ``sigma * Phi^-1(pA)`` (Cohen, Rosenfeld
  & Kolter 2019, "Certified adversarial robustness via randomized smoothing", ICML,
  Theorem 1 with ``pB = 1 - pA``).
- Uniform noise on ``[-sigma, sigma]^d`` (``sigma`` is the half-width lambda): L1 radius
  ``2 * sigma * (pA - 1/2)`` (Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized
  smoothing of all shapes and sizes", ICML, the uniform-noise L1 bound).

``pA`` is not known; CERTIFY picks ``cA`` from ``n0`` noisy passes, then bounds ``pA`` from
below with a one-sided Clopper-Pearson bound at ``alpha`` over ``n`` fresh passes, and
abstains when that bound is at most 1/2. Each certificate is then wrong with probability at
most ``alpha``. PREDICT answers ``cA`` only when a two-sided binomial test of the top two
counts rejects a tie at ``alpha`` (Cohen et al. 2019, Algorithm PREDICT).

Noise is never clipped to a valid input range: the guarantee is about the smoothed
classifier over all of R^d, and clipping the noisy inputs would make it another classifier
whose probabilities the bound does not describe. A model that needs inputs in a range must
handle out-of-range values itself.

Examples
--------
A one-feature classifier that says class 1 when ``x > 0``: at ``x = 0.5`` under Gaussian noise
of standard deviation 0.5, ``pA = Phi(1)`` and the exact radius is 0.5.

>>> import numpy as np, torch
>>> from shakeout.certify import certify
>>> net = torch.nn.Linear(1, 2)
>>> with torch.no_grad():
...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
>>> cert = certify(net, np.array([[0.5], [0.0]], np.float32), sigma=0.5, n=100_000,
...                batch_size=50_000, seed=0)
>>> cert.prediction.tolist(), round(float(cert.radius[0]), 3), bool(cert.abstained[1])
([1, -1], 0.496, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._validation import (Seed, as_finite_array, as_generator, check_choice,
                                  check_number, check_open_interval, check_positive_int)
from shakeout.campaign import Campaign, Unit
from shakeout.errors import ValidationError
from shakeout.models import Model, wrap
from shakeout.models.runtime import Noise, gaussian, repeat_forward, uniform

NORMS = ("l2", "l1")
NOISES = {"l2": "Gaussian", "l1": "uniform"}
"""The noise that certifies each norm."""
SHARD = "certify"
"""The label of the campaign's units (input shards) and of their progress bar."""


@dataclass(frozen=True)
class Certificates:
    """What CERTIFY says about each input.

    Attributes
    ----------
    prediction : numpy.ndarray of int
        The smoothed classifier's class index (a column of ``predict_proba``), ``-1`` where
        it abstained.
    p_lower : numpy.ndarray of float
        The one-sided ``1 - alpha`` lower confidence bound on ``pA``.
    radius : numpy.ndarray of float
        The certified radius in ``norm``, ``0`` where it abstained.
    norm, sigma, relative, alpha
        The certificate's norm, noise scale, whether ``sigma`` is relative to each feature's
        spread, and the failure probability of each certificate.
    """

    prediction: np.ndarray
    p_lower: np.ndarray
    radius: np.ndarray
    norm: str
    sigma: float
    relative: bool
    alpha: float

    @property
    def abstained(self) -> np.ndarray:
        """Where the smoothed classifier abstained."""
        return self.prediction < 0

    @property
    def unit(self) -> str:
        """The unit of the radii: norm, space and noise, e.g. ``"l2 radius, input units
        (Gaussian noise, sigma=0.25)"``."""
        return unit(self.norm, self.sigma, self.relative)


def unit(norm: str, sigma: float, relative: bool) -> str:
    """The unit of a certified radius, naming its norm, its space and the noise.

    >>> unit("l1", 0.5, True)
    'l1 radius, standardized units (each feature / its std) (uniform noise on [-0.5, 0.5]^d)'
    """
    space = "standardized units (each feature / its std)" if relative else "input units"
    noise = (f"Gaussian noise, sigma={sigma:g}" if norm == "l2"
             else f"uniform noise on [-{sigma:g}, {sigma:g}]^d")
    return f"{norm} radius, {space} ({noise})"


class Smoothing:
    """A base classifier smoothed by noise: the noise, its radius formula, counted passes.

    Parameters
    ----------
    model : Model
        A wrapped torch classifier.
    sigma : float
        Noise scale: the Gaussian's standard deviation (``norm="l2"``) or the uniform's
        half-width lambda (``norm="l1"``); in input units, or with ``scale`` in units of
        each feature's spread.
    norm : {"l2", "l1"}
    scale : array of one input's shape or None
        Per-value multiplier of ``sigma`` (each feature's standard deviation for relative
        noise); None for isotropic noise.
    batch_size : int
        Rows per noisy forward pass.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.models import wrap
    >>> net = wrap(torch.nn.Linear(3, 2))
    >>> l2 = Smoothing(net, sigma=0.5, norm="l2", scale=None, batch_size=64)
    >>> l1 = Smoothing(net, sigma=0.5, norm="l1", scale=None, batch_size=64)
    >>> l2.radius(np.array([0.4, 0.8413])).round(3).tolist(), l1.radius(np.array([0.9])).tolist()
    ([0.0, 0.5], [0.4])
    """

    def __init__(self, model: Model, *, sigma: float, norm: str, scale: np.ndarray | None,
                 batch_size: int):
        self.model = model
        self.sigma = float(sigma)
        self.norm = norm
        self.scale = scale
        self.batch_size = batch_size

    def noise(self) -> Noise:
        """The noise as the torch runtime takes it: ``noise(batch, generator)``, Gaussian of
        standard deviation ``sigma`` (L2) or uniform of half-width ``sigma`` (L1), times
        ``scale`` per value."""
        size = self.sigma if self.scale is None else self.sigma * self.scale
        return gaussian(size) if self.norm == "l2" else uniform(size)

    def counts(self, x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Winning classes of ``n`` noisy passes per input, ``(m, n_classes)``."""
        return repeat_forward(self.model, x, n, noise=self.noise(), batch_size=self.batch_size,
                              seed=rng)

    def radius(self, p_lower: np.ndarray) -> np.ndarray:
        """The certified radius for lower bounds ``p_lower`` (0 where ``p_lower <= 1/2``)."""
        from scipy import stats

        p = np.asarray(p_lower, dtype=np.float64)
        if self.norm == "l2":
            r = self.sigma * stats.norm.ppf(np.clip(p, 0.5, 1.0))
        else:
            r = 2 * self.sigma * (p - 0.5)
        return np.where(p > 0.5, r, 0.0)


def smoothing(model: Any, X: Any, *, sigma: float, norm: str, relative: bool, batch_size: int,
              owner: str) -> tuple[Smoothing, np.ndarray]:
    """Check the settings and inputs; the smoothing and the inputs as a float32 array."""
    check_number(owner, "sigma", sigma, 0, low_open=True)
    check_choice(owner, "norm", norm, NORMS)
    check_choice(owner, "relative", relative, (True, False))
    check_positive_int(owner, "batch_size", batch_size)
    model = wrap(model)
    if model.capabilities.module is None:
        raise ValidationError(
            f"{owner}: randomized smoothing runs many noisy forward passes on a torch model; "
            f"{model.name} is not one. Wrap an nn.Module or load a TorchScript .pt file."
        )
    if model.task != "classification":
        raise ValidationError(f"{owner}: smoothing certifies classifiers; {model.name} is a "
                              "regressor.")
    x = inputs(X)
    scale = x.astype(np.float64).std(axis=0) if relative else None
    return Smoothing(model, sigma=sigma, norm=norm, scale=scale, batch_size=batch_size), x


def inputs(X: Any) -> np.ndarray:
    """``X`` (an array of any shape, or a numeric DataFrame) as float32 rows.

    >>> inputs([1.0, 2.0]).shape
    (2, 1)
    """
    values = X.to_numpy() if hasattr(X, "to_numpy") else X
    x = as_finite_array(values, name="X", dtype=np.float32)
    return x.reshape(-1, 1) if x.ndim == 1 else x


def check_counts(owner: str, n0: int, n: int, alpha: float) -> None:
    """``n0`` and ``n`` positive with ``n0 <= n``, ``alpha`` in (0, 1)."""
    check_positive_int(owner, "n0", n0)
    check_positive_int(owner, "n", n)
    check_open_interval(owner, "alpha", alpha, 0, 1)
    if n0 > n:
        raise ValidationError(
            f"{owner}: n0 (noisy passes that pick the class) must be at most n (passes that "
            f"bound its probability), got n0={n0} > n={n}. Use n0=100 and n=100000 as Cohen "
            "et al. (2019)."
        )


def certify(model: Any, X: Any, *, sigma: float, norm: str = "l2", relative: bool = False,
            n0: int = 100, n: int = 100_000, alpha: float = 0.001, batch_size: int = 4096,
            shard_size: int = 100, seed: Seed = 0, quiet: bool = True) -> Certificates:
    """CERTIFY each input of ``X`` (Cohen et al. 2019; Yang et al. 2020 for L1).

    Parameters
    ----------
    model : a torch classifier (an ``nn.Module`` or a wrapped one)
    X : array of shape ``(m, ...)`` or numeric DataFrame
        Inputs in the model's input space, any shape.
    sigma : float
        Noise scale, > 0: the Gaussian's standard deviation (L2) or the half-width lambda
        of the uniform noise on ``[-lambda, lambda]^d`` (L1). In input units, or relative
        to each feature's standard deviation over ``X`` with ``relative=True``; the radii
        are then in the same standardized units (a feature of zero spread gets no noise and
        cannot move within the certified region).
    norm : {"l2", "l1"}, default="l2"
        ``"l2"``: Gaussian noise; ``"l1"``: uniform noise.
    relative : bool, default=False
    n0 : int, default=100
        Noisy passes per input that pick the top class.
    n : int, default=100_000
        Fresh noisy passes per input that bound its probability; ``n0 <= n``.
    alpha : float, default=0.001
        Each certificate is wrong with probability at most ``alpha``.
    batch_size : int, default=4096
        Rows per noisy forward pass: memory is bounded by it, not by ``n``.
    shard_size : int, default=100
        Inputs per unit of work; each unit draws its noise from its own stream, so the same
        seed, ``shard_size`` and ``batch_size`` give the same certificates.
    seed : int, Generator or None
    quiet : bool, default=True
        Hide the progress bar (one step per shard).

    Returns
    -------
    Certificates
    """
    check_counts("certify", n0, n, alpha)
    check_positive_int("certify", "shard_size", shard_size)
    smooth, x = smoothing(model, X, sigma=sigma, norm=norm, relative=relative,
                          batch_size=batch_size, owner="certify")

    def work(shard: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        top = smooth.counts(x[shard], n0, rng).argmax(axis=1)
        hits = smooth.counts(x[shard], n, rng)[np.arange(len(shard)), top]
        return top, hits

    top, hits = _sharded(work, len(x), shard_size, seed, quiet)
    p_lower = lower_bounds(hits, n, alpha)
    certified = p_lower > 0.5
    return Certificates(prediction=np.where(certified, top, -1), p_lower=p_lower,
                        radius=smooth.radius(p_lower), norm=norm, sigma=float(sigma),
                        relative=relative, alpha=alpha)


def lower_bounds(hits: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """One-sided ``1 - alpha`` Clopper-Pearson lower bounds on ``hits / n`` (the lower end of
    the two-sided ``1 - 2 alpha`` interval).

    >>> lower_bounds(np.array([50, 100]), 100, 0.05).round(4).tolist()
    [0.4136, 0.9705]
    """
    from shakeout.stats import clopper_pearson

    return np.array([clopper_pearson(int(k), n, 1 - 2 * alpha)[0] for k in hits])


def predict(model: Any, X: Any, *, sigma: float, norm: str = "l2", relative: bool = False,
            n: int = 100_000, alpha: float = 0.001, batch_size: int = 4096,
            shard_size: int = 100, seed: Seed = 0, quiet: bool = True) -> np.ndarray:
    """PREDICT: the smoothed classifier's class index per input, ``-1`` where it abstains
    (Cohen et al. 2019).

    The top two classes of ``n`` noisy passes are compared by a two-sided exact binomial test
    of a tie (the sign test); the answer is the top class when the p-value is at most
    ``alpha``, so a wrong answer (one that is not ``g(x)``) comes with probability at most
    ``alpha``. Parameters as :func:`certify`.

    >>> import numpy as np, torch
    >>> net = torch.nn.Linear(1, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
    >>> predict(net, np.array([[-1.0], [0.0], [1.0]], np.float32), sigma=0.5, n=1_000).tolist()
    [0, -1, 1]
    """
    from shakeout.stats import mcnemar_exact  # the exact two-sided sign test of b vs c

    check_positive_int("predict", "n", n)
    check_open_interval("predict", "alpha", alpha, 0, 1)
    check_positive_int("predict", "shard_size", shard_size)
    smooth, x = smoothing(model, X, sigma=sigma, norm=norm, relative=relative,
                          batch_size=batch_size, owner="predict")

    def work(shard: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        counts = smooth.counts(x[shard], n, rng)
        order = np.argsort(-counts, axis=1, kind="stable")[:, :2]
        top_two = np.take_along_axis(counts, order, axis=1)
        p = np.array([mcnemar_exact(int(a), int(b)) for a, b in top_two])
        return order[:, 0], p

    top, p = _sharded(work, len(x), shard_size, seed, quiet)
    return np.where(p <= alpha, top, -1)


def _sharded(work: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]],
             m: int, shard_size: int, seed: Seed,
             quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    """``work(rows, rng)`` on each shard of ``shard_size`` inputs (a campaign unit with its
    own stream), the two per-input results concatenated."""
    shards = [np.arange(s, min(s + shard_size, m)) for s in range(0, m, shard_size)]
    units = [Unit(SHARD, shard=i, index=i) for i in range(len(shards))]
    rng = as_generator(seed, owner="certify")
    done = Campaign(units, seed=rng, quiet=quiet).run(
        lambda u, child: work(shards[u.shard], child))
    first, second = zip(*(d.value for d in done))
    return np.concatenate(first), np.concatenate(second)


__all__ = ["NORMS", "Certificates", "Smoothing", "certify", "lower_bounds", "predict", "unit"]
