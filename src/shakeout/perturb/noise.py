"""Additive and multiplicative noise on numeric features.

Noise is drawn in float32 (twice as fast as float64, and far finer than any severity grid)
and added to the data in its own precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import pandas as pd

from shakeout._validation import check_choice, check_number
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, register


def _spread(X: np.ndarray) -> np.ndarray:
    """Per-feature standard deviation; 0 for constant features (they get no noise)."""
    std = np.nanstd(X, axis=0)
    return np.where(np.isfinite(std), std, 0.0)


def _check_clip(owner: Any, clip: Any) -> tuple[float, float] | None:
    if clip is None:
        return None
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValidationError(f"{type(owner).__name__}: clip must be (low, high), got {clip!r}.") from None
    if not lo < hi:
        raise ValidationError(f"{type(owner).__name__}: clip needs low < high, got {clip!r}.")
    return (lo, hi)


class _AdditiveNoise(Perturbation):
    """Shared by Gaussian and uniform noise: scale learnt at fit, severity is the noise's sigma."""

    def __init__(self, *, relative: bool = True, clip: tuple[float, float] | None = None):
        self.relative = bool(check_choice(self, "relative", relative, (True, False)))
        self.clip = _check_clip(self, clip)

    @property
    def unit(self) -> str:  # type: ignore[override]
        return "sigma (x feature std)" if self.relative else "sigma (absolute)"

    def _fit_array(self, X: np.ndarray) -> None:
        self.scale_ = _spread(X) if self.relative else np.ones(X.shape[1:])

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        noise = self._standard_noise(rng, X.shape)
        noise *= (severity * self.scale_).astype(noise.dtype)  # in place: no float64 temporary
        out = X + noise
        return np.clip(out, *self.clip) if self.clip else out

    def apply_grid(self, X: Any, severities: Any, rng: np.random.Generator, *,
                   reuse: bool = False) -> Any:
        """Every severity from one standard-noise draw, scaled: the same numbers as ``apply``
        with a copy of ``rng``, at the cost of one draw.

        With ``reuse=True`` every severity is written into the same output array (scale and
        add in place, no allocation per severity): the caller must be done with one before
        asking for the next.

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
        noise = scaled = out = None
        for severity in severities:
            if severity == 0:
                yield severity, X
                continue
            if noise is None:
                noise = self._standard_noise(copy, arr.shape)
                scaled = np.empty_like(noise)
            np.multiply(noise, (severity * self.scale_).astype(noise.dtype), out=scaled)
            if out is None or not reuse:
                out = np.empty(arr.shape, dtype=np.result_type(arr, scaled))
            np.add(arr, scaled, out=out)
            if self.clip:
                np.clip(out, *self.clip, out=out)
            yield severity, (out.astype(dtype, copy=False)
                             if np.issubdtype(dtype, np.floating) else out)

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
        return rng.standard_normal(shape, dtype=np.float32)


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
        self.clip = _check_clip(self, clip)

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        out = X * (1.0 + severity * rng.standard_normal(X.shape, dtype=np.float32))
        return np.clip(out, *self.clip) if self.clip else out
