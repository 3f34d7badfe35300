"""The soundness check: attack the smoothed classifier inside each certified radius.

A certificate of radius ``R`` for class ``cA`` at ``x`` claims ``P(f(x' + e) = cA) > 1/2`` for
every ``x'`` with ``||x' - x|| < R`` (Cohen et al. 2019, Theorem 1: the bound on ``pA`` at
``x'`` is ``Phi(Phi^-1(pA_lower) - ||x' - x|| / sigma) > 1/2``; for uniform noise and L1 the
same holds with the bound of Yang et al. 2020). The check searches for a counter-example:

1. PGD in the certificate's norm, within each point's radius, on the smoothed classifier:
   the loss is ``-log`` of the Monte Carlo average of the base model's softmax probability
   of ``cA`` over ``samples`` noise draws, redrawn at every step (expectation over
   transformation; the attack of Salman et al. 2019, "Provably robust deep learning via
   adversarially trained smoothed classifiers", NeurIPS). Projections and steepest-ascent
   steps are the attack pillar's.
2. At the point found, ``n`` fresh noisy passes bound ``P(f(x' + e) = cA)`` from above
   (one-sided Clopper-Pearson at ``alpha``); the certificate is broken when that bound is
   below 1/2.

A certificate is wrong with probability at most ``alpha``, and the check calls a sound one
broken with probability at most ``alpha``: more broken certificates than a binomial count
at rate ``2 alpha`` allows point to a bug (a radius formula, a bound) or to floating point
(a model whose outputs change with the batch it runs in). The attack never clips to a valid
input range, as the certificate does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_positive_int
from shakeout.certify.smoothing import Certificates, Smoothing, smoothing
from shakeout.errors import ValidationError


@dataclass(frozen=True)
class Soundness:
    """What the check did to each input.

    Attributes
    ----------
    attacked : numpy.ndarray of bool
        The inputs with a certificate (not abstained), which were attacked.
    broken : numpy.ndarray of bool
        Where the point found shows ``P(f(x' + e) = cA) < 1/2`` at confidence ``1 - alpha``.
    p_upper : numpy.ndarray of float
        The upper bound on that probability at the point found (NaN where not attacked).
    distance : numpy.ndarray of float
        How far the point found is from the input, in the certificate's norm and units.
    """

    attacked: np.ndarray
    broken: np.ndarray
    p_upper: np.ndarray
    distance: np.ndarray


def soundness(model: Any, X: Any, certificates: Certificates, *, steps: int = 20,
              samples: int = 16, n: int = 10_000, batch_size: int = 4096,
              seed: Seed = 0) -> Soundness:
    """Attack each certificate inside its radius and test the point found.

    Parameters
    ----------
    model, X
        The model and inputs the certificates are about (``X`` also gives each feature's
        spread when the certificates' ``sigma`` is relative).
    certificates : Certificates
        What :func:`~shakeout.certify.certify` returned for ``model`` and ``X``.
    steps : int, default=20
        PGD iterations, each of step size ``2.5 * radius / steps`` (Madry et al. 2018).
    samples : int, default=16
        Noise draws per input per step in the Monte Carlo average (fresh at each step).
    n : int, default=10_000
        Noisy passes that bound the top class's probability at the point found.
    batch_size : int, default=4096
        Rows (inputs x noise draws) per forward pass.
    seed : int, Generator or None

    Examples
    --------
    Certificates with radii three times too large are broken; sound ones are not.

    >>> import numpy as np, torch
    >>> from dataclasses import replace
    >>> from shakeout.certify import certify, soundness
    >>> net = torch.nn.Linear(1, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
    >>> X = np.array([[0.3], [0.6], [-0.4]], np.float32)
    >>> cert = certify(net, X, sigma=0.5, n=10_000, seed=0)
    >>> soundness(net, X, cert, seed=1).broken.tolist()
    [False, False, False]
    >>> inflated = replace(cert, radius=3 * cert.radius)
    >>> soundness(net, X, inflated, seed=1).broken.tolist()
    [True, True, True]
    """
    check_positive_int("soundness", "steps", steps)
    check_positive_int("soundness", "samples", samples)
    check_positive_int("soundness", "n", n)
    smooth, x = smoothing(model, X, sigma=certificates.sigma, norm=certificates.norm,
                          relative=certificates.relative, batch_size=batch_size,
                          owner="soundness")
    if len(certificates.prediction) != len(x):
        raise ValidationError(
            f"soundness: the certificates are about {len(certificates.prediction)} inputs but "
            f"X has {len(x)}; pass the X that was certified."
        )
    rng = as_generator(seed, owner="soundness")
    attacked = ~certificates.abstained & (certificates.radius > 0)
    rows = np.flatnonzero(attacked)
    p_upper = np.full(len(x), np.nan)
    distance = np.full(len(x), np.nan)
    if rows.size:
        cls = certificates.prediction[rows]
        delta = _pgd(smooth, x[rows], cls, certificates.radius[rows], steps, samples, rng)
        distance[rows] = np.linalg.norm(delta.reshape(len(rows), -1),
                                        ord=2 if smooth.norm == "l2" else 1, axis=1)
        shift = delta if smooth.scale is None else delta * smooth.scale
        hits = smooth.counts(x[rows] + shift.astype(np.float32), n, rng)[np.arange(len(rows)),
                                                                          cls]
        p_upper[rows] = _upper_bounds(hits, n, certificates.alpha)
    return Soundness(attacked=attacked, broken=attacked & (np.nan_to_num(p_upper, nan=1) < 0.5),
                     p_upper=p_upper, distance=distance)


def _upper_bounds(hits: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """One-sided ``1 - alpha`` Clopper-Pearson upper bounds on ``hits / n``."""
    from shakeout.stats import clopper_pearson

    return np.array([clopper_pearson(int(k), n, 1 - 2 * alpha)[1] for k in hits])


def _pgd(smooth: Smoothing, x: np.ndarray, cls: np.ndarray, radius: np.ndarray, steps: int,
         samples: int, rng: np.random.Generator) -> np.ndarray:
    """PGD on the smoothed classifier's soft probability of ``cls``: the perturbations found
    (in standardized units where the noise is relative), within ``radius`` per row."""
    import torch

    from shakeout.attacks.kernel import ascent, project_ball, rows, session
    from shakeout.attacks.threat import Domain

    model = smooth.model
    noise = smooth.noise()
    per_batch = max(1, smooth.batch_size // samples)
    scale = None if smooth.scale is None else torch.as_tensor(
        smooth.scale[None], dtype=torch.float32, device=model.device)
    out = []
    with session(model, Domain(x.shape[1:], bounds=None, owner="soundness"), rng) as kernel:
        for start in range(0, len(x), per_batch):
            part = slice(start, start + per_batch)
            x0 = model.to_tensor(x[part])
            y = torch.as_tensor(cls[part], device=model.device)
            eps = torch.as_tensor(radius[part], dtype=torch.float32, device=model.device)
            delta = torch.zeros_like(x0)
            for _ in range(steps):
                g = _gradient(kernel, noise, x0, delta, scale, y, samples)
                delta = project_ball(delta + rows(2.5 * eps / steps, delta)
                                     * ascent(g, smooth.norm), smooth.norm, eps)
            out.append(delta.cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def _gradient(kernel: Any, noise: Any, x0: Any, delta: Any, scale: Any, y: Any,
              samples: int) -> Any:
    """The gradient in ``delta`` of ``-log`` of the mean softmax probability of ``y`` over
    ``samples`` fresh noise draws per row."""
    import torch

    delta = delta.detach().requires_grad_(True)
    with torch.enable_grad():
        shifted = x0 + (delta if scale is None else delta * scale)
        noisy = noise(shifted.repeat_interleave(samples, dim=0), kernel.gen)
        proba = torch.softmax(kernel.logits(noisy), dim=1).reshape(len(x0), samples, -1)
        p = proba.mean(dim=1).gather(1, y[:, None]).squeeze(1)
        (g,) = torch.autograd.grad(-torch.log(p.clamp_min(1e-12)).sum(), delta)
    return g


__all__ = ["Soundness", "soundness"]
