"""Additive and multiplicative noise on numeric features.

Standard noise is drawn in float32 (twice as fast as float64, and far finer than any
severity grid), scaled and added in float64, and stored in the data's float precision.
Gaussian noise is the Box-Muller transform of float32 uniforms (:func:`standard_normal`),
over twice as fast as numpy's float32 ziggurat.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import check_choice, check_number
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, check_clip, clip_note, register
from shakeout.perturb.image import valid_range


NOISE_BLOCK = 32_768
"""Values scaled and added per step of :meth:`_AdditiveNoise._noisy`: a block of data, its
noise and its result (about 0.6 MB) stay in a core's cache."""


def _spread(X: np.ndarray) -> np.ndarray:
    """Per-feature standard deviation; 0 for constant features (they get no noise)."""
    std = np.nanstd(X, axis=0)
    return np.where(np.isfinite(std), std, 0.0)


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent standard-normal float32 numbers, by the Box-Muller transform.

    Pairs of float32 uniforms ``u, v`` give ``sqrt(-2 log(1 - u)) * (cos, sin)(2 pi v)``,
    two exact normals per pair (Box & Muller 1958, Ann. Math. Statist. 29(2)); with 24-bit
    uniforms the largest magnitude is 5.8 (a normal exceeds it with probability 7e-9).
    Numpy's own float32 normals (a ziggurat) cost over twice as much, and the noise is the
    stress sweep's largest cost after the model.

    >>> z = standard_normal(np.random.default_rng(0), (200_000,))
    >>> round(float(z.mean()), 2), round(float(z.std()), 2), z.dtype
    (0.0, 1.0, dtype('float32'))
    """
    size = math.prod(shape)
    half = (size + 1) // 2
    u = rng.random(2 * half, dtype=np.float32)
    radius, angle = u[:half], u[half:]
    np.subtract(np.float32(1), radius, out=radius)  # in (0, 1]: the log is finite
    np.log(radius, out=radius)
    radius *= np.float32(-2)
    np.sqrt(radius, out=radius)
    angle *= np.float32(2 * np.pi)
    z = np.empty(2 * half, dtype=np.float32)
    np.cos(angle, out=z[:half])
    np.sin(angle, out=z[half:])
    z[:half] *= radius
    z[half:] *= radius
    return z[:size].reshape(shape)


class _AdditiveNoise(Perturbation):
    """Shared by Gaussian and uniform noise: scale learnt at fit, severity is the noise's sigma."""

    def __init__(self, *, relative: bool = True, clip: tuple[float, float] | None = None):
        self.relative = bool(check_choice(self, "relative", relative, (True, False)))
        self.clip = check_clip(self, clip)

    @property
    def unit(self) -> str:  # type: ignore[override]
        return "sigma (x feature std)" if self.relative else "sigma (absolute)"

    def _fit_array(self, X: np.ndarray) -> None:
        self.scale_ = _spread(X) if self.relative else np.ones(X.shape[1:])
        # images (n, h, w[, c]) stay in their valid range unless told otherwise
        self.clip_ = self.clip if self.clip is not None or X.ndim < 3 else valid_range(X)

    def __repr__(self) -> str:
        text = super().__repr__()
        bounds = getattr(self, "clip_", None)
        return text if bounds is None else f"{text} {clip_note(bounds, given=bool(self.clip))}"

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        return self._noisy(X, self._standard_noise(rng, X.shape), severity,
                           np.empty(X.shape))

    def apply_grid(self, X: Any, severities: Any, rng: np.random.Generator, *,
                   empty: Any = np.empty) -> Any:
        """Every severity from one standard-noise draw, scaled: the same numbers as ``apply``
        with a copy of ``rng``, at the cost of one draw and one pass per severity
        (:meth:`_noisy`), written into ``empty(shape, dtype)`` arrays.

        >>> X = np.zeros((3, 2))
        >>> noise = GaussianNoise(relative=False).fit(X)
        >>> outs = dict(noise.apply_grid(X, (0.1, 0.2), np.random.default_rng(0)))
        >>> bool(np.allclose(2 * outs[0.1], outs[0.2]))
        True
        """
        if isinstance(X, pd.DataFrame) or not getattr(self, "fitted_", False):
            yield from super().apply_grid(X, severities, rng)
            return
        for severity in severities:
            check_number(self, "severity", severity, 0.0, self.max_severity)
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = rng.bit_generator.state
        arr = np.asarray(X, dtype=np.float64)
        dtype = np.asarray(X).dtype
        dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
        z = None
        for severity in severities:
            if severity == 0:
                yield severity, X
                continue
            if z is None:  # drawn at the first noisy severity, shared by the others
                z = self._standard_noise(copy, arr.shape)
            yield severity, self._noisy(arr, z, severity, empty(arr.shape, dtype))

    def _noisy(self, X: np.ndarray, z: np.ndarray, severity: float,
               out: np.ndarray) -> np.ndarray:
        """``X + z * severity * scale`` into ``out``, computed in float64 and stored in
        ``out``'s dtype.

        One block of rows at a time (about :data:`NOISE_BLOCK` values), so the product stays
        in the core's cache while the data is added and the result clipped: one pass over
        memory per severity, where whole-array steps (multiply, add, clip) make three.
        """
        coef = np.float64(severity) * self.scale_
        step = max(1, NOISE_BLOCK // max(1, math.prod(X.shape[1:])))
        for start in range(0, len(X), step):
            rows = slice(start, start + step)
            target = out[rows]
            work = target if target.dtype == np.float64 else np.empty(target.shape)
            np.multiply(z[rows], coef, out=work)
            work += X[rows]
            if self.clip_:
                np.clip(work, *self.clip_, out=work)
            if work is not target:  # computed in float64, stored in out's dtype
                target[...] = work
        return out

    def _standard_noise(self, rng: np.random.Generator,
                        shape: tuple[int, ...]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@register
class GaussianNoise(_AdditiveNoise):
    """Add Gaussian noise with standard deviation ``severity``.

    Parameters
    ----------
    relative : bool, default=True
        Severity is in units of each feature's standard deviation (learnt at ``fit``;
        constant features get none). With ``relative=False`` it is absolute, in the units
        of the inputs (e.g. pixel intensity).
    clip : (low, high) or None
        Clip the result to a valid range (this lowers the realised sigma near the edges).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(20_000, 2)) * [1.0, 10.0]
    >>> noise = GaussianNoise().fit(X)
    >>> np.round((noise.apply(X, 0.5, seed=1) - X).std(axis=0) / X.std(axis=0), 1)
    array([0.5, 0.5])
    """

    name = "gaussian_noise"

    def _standard_noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return standard_normal(rng, shape)


@register
class UniformNoise(_AdditiveNoise):
    """Add uniform noise whose standard deviation is ``severity`` (half-width ``sqrt(3) * severity``).

    Defined by its sigma so that it is comparable with :class:`GaussianNoise` at the same
    severity; ``relative`` and ``clip`` as there.

    >>> X = np.zeros((50_000, 1))
    >>> noise = UniformNoise(relative=False).fit(X)
    >>> round(float(noise.apply(X, 0.2, seed=0).std()), 3)
    0.2
    """

    name = "uniform_noise"

    def _standard_noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(2 * np.sqrt(3.0))


@register
class Scaling(Perturbation):
    """Multiplicative noise: each value times ``1 + e`` with ``e ~ Normal(0, severity)``.

    Models gain and calibration errors of a sensor or a pipeline: the error grows with the
    magnitude of the value. Severity is the standard deviation of the relative factor
    (0.1 means values are typically off by 10%).

    >>> X = np.full((40_000, 1), 5.0)
    >>> out = Scaling().fit(X).apply(X, 0.1, seed=0)
    >>> round(float(out.std() / 5.0), 2)
    0.1
    """

    name = "scaling"
    unit = "relative factor sigma"
    default_severities = (0.0, 0.05, 0.1, 0.2, 0.5)

    def __init__(self, *, clip: tuple[float, float] | None = None):
        self.clip = check_clip(self, clip)

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        out = X * (1.0 + severity * rng.standard_normal(X.shape, dtype=np.float32))
        return np.clip(out, *self.clip) if self.clip else out
