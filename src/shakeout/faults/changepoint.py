"""Change-point tests on a monitored series: a step, a gradual change, or none.

One value per window (a PSI, an accuracy, a decision level) makes a short series. Two
questions are asked of it:

1. **Did it change?** The statistic is the largest between-segment sum of squares over the
   split points ``k`` (the first ``k`` windows against the rest),
   ``max_k k (n - k) / n * (mean_after - mean_before)^2``, which is the squared
   standardised CUSUM (Page 1954) and, for a Gaussian series, the likelihood-ratio
   statistic of one change in mean at an unknown point (Hinkley 1970); the split that
   maximises it is the estimated change point. Its p-value is a permutation p-value:
   without a change the windows are exchangeable, so the statistic of the series is
   ranked among those of ``n_permutations`` seeded reorderings of it,
   ``(1 + #{null >= observed}) / (1 + n_permutations)``, which is never below the true
   size (Pitman 1937), whatever the series' distribution. A short series has few distinct
   orderings, so the smallest attainable p-value is large: with 6 windows no split can
   reach 0.05 (the most extreme order has a 1 in 10 chance), from about 8 windows a clear
   change can be found.
2. **A step or a gradual change?** A one-break step model (two means) against a linear
   trend (intercept and slope), through the ratio of their residual sums of squares
   ``RSS_linear / RSS_step``. Its p-value tests "a linear trend explains the series": the
   trend's fit plus a seeded permutation of its residuals gives the null (the residual
   permutation of Freedman & Lane 1983, approximate because regression residuals are only
   nearly exchangeable; its size is checked in the tests). A small p-value means a step.

References: E. S. Page (1954), "Continuous inspection schemes", Biometrika 41; D. V.
Hinkley (1970), "Inference about the change-point in a sequence of random variables",
Biometrika 57; D. Freedman & D. Lane (1983), "A nonstochastic interpretation of reported
significance levels", J. Business & Economic Statistics 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shakeout._validation import as_finite_1d, as_generator, check_open_interval, \
    check_positive_int
from shakeout.errors import ValidationError

MIN_WINDOWS = 4
"""The shortest series tested: the step model needs two residual degrees of freedom."""
SHAPES = ("none", "step", "gradual")


@dataclass(frozen=True)
class ChangePoint:
    """One series' change-point test.

    ``index`` is the first window after the estimated break (0-based, 1 to ``n - 1``);
    ``before`` and ``after`` the means on either side; ``p_value`` tests "no change";
    ``step_p_value`` tests "a linear trend explains it" (small: a step); ``slope`` is the
    linear trend's change per window.
    """

    n: int
    statistic: float
    p_value: float
    index: int
    before: float
    after: float
    step_p_value: float
    rss_step: float
    rss_linear: float
    slope: float

    @property
    def change(self) -> float:
        """The step's size: mean after the break minus mean before, in the series' units."""
        return self.after - self.before

    def shape(self, alpha: float = 0.05, p_value: float | None = None) -> str:
        """``"none"`` (no change at ``alpha``), ``"step"`` or ``"gradual"``.

        ``p_value`` replaces the test's own (an adjusted one, when many series are tested).

        >>> cp = change_point([0.0, 0.1, -0.1, 0.05, 3.0, 3.1, 2.9, 3.05], n_permutations=199)
        >>> cp.shape(0.05), cp.shape(0.05, p_value=0.2)
        ('step', 'none')
        """
        check_open_interval("ChangePoint.shape", "alpha", alpha, 0, 1)
        if (self.p_value if p_value is None else p_value) > alpha:
            return "none"
        return "step" if self.step_p_value <= alpha else "gradual"


def _between(values: np.ndarray) -> np.ndarray:
    """Between-segment sums of squares of every split, along the last axis (``n - 1`` splits):
    ``S_k^2 n / (k (n - k))`` with ``S_k`` the cumulative sum of the centred series."""
    n = values.shape[-1]
    centred = values - values.mean(axis=-1, keepdims=True)
    cusum = np.cumsum(centred, axis=-1)[..., :-1]
    k = np.arange(1, n)
    return cusum**2 * n / (k * (n - k))


def _total(values: np.ndarray) -> np.ndarray:
    """Total sum of squares along the last axis."""
    return ((values - values.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def _linear(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line against the window index: residual sum of squares, residuals,
    slope (along the last axis)."""
    n = values.shape[-1]
    t = np.arange(n) - (n - 1) / 2
    centred = values - values.mean(axis=-1, keepdims=True)
    slope = centred @ t / (t @ t)
    residuals = centred - slope[..., None] * t
    return (residuals**2).sum(axis=-1), residuals, slope


def _step_ratio(values: np.ndarray) -> np.ndarray:
    """``RSS_linear / RSS_step`` along the last axis (inf for a noiseless step)."""
    rss_linear = _linear(values)[0]
    rss_step = np.maximum(_total(values) - _between(values).max(axis=-1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rss_step > 0, rss_linear / np.where(rss_step > 0, rss_step, 1.0),
                        np.where(rss_linear > 0, np.inf, 1.0))


def _permutation_p(observed: float, null: np.ndarray) -> float:
    """``(1 + #{null >= observed}) / (1 + B)``; values equal up to rounding count as ties."""
    tie = 1e-12 * abs(observed) if np.isfinite(observed) else 0.0
    return float((1 + np.count_nonzero(null >= observed - tie)) / (1 + null.size))


def change_point(values: object, *, n_permutations: int = 999, seed: object = 0) -> ChangePoint:
    """Test one series for a change in mean and say whether it is a step or gradual.

    Parameters
    ----------
    values : sequence of float
        One value per window, in time order; at least 4 windows.
    n_permutations : int, default=999
        Reorderings of the series (and of the trend's residuals) for the two p-values;
        with ``alpha * (n_permutations + 1)`` a whole number the test's size is exactly
        ``alpha``.
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> step = np.r_[np.zeros(10), np.full(10, 3.0)] + rng.normal(0, 0.5, 20)
    >>> cp = change_point(step)
    >>> cp.index, round(cp.change, 2), cp.p_value, cp.shape()
    (10, 2.73, 0.002, 'step')
    >>> change_point(np.linspace(0, 3, 20) + rng.normal(0, 0.5, 20)).shape()
    'gradual'
    >>> change_point(rng.normal(size=20)).shape()
    'none'
    """
    series = as_finite_1d(values, name="change_point: values")
    n = series.size
    if n < MIN_WINDOWS:
        raise ValidationError(f"change_point: a series needs at least {MIN_WINDOWS} windows, "
                              f"got {n}; monitor more windows before testing for a change.")
    check_positive_int("change_point", "n_permutations", n_permutations)
    rng = as_generator(seed, owner="change_point")
    between = _between(series)
    k = int(np.argmax(between)) + 1
    rss_linear, residuals, slope = _linear(series)
    total = float(_total(series))
    if total <= 1e-300 * n:  # a constant series: nothing changed
        mean = float(series.mean())
        return ChangePoint(n, 0.0, 1.0, k, mean, mean, 1.0, 0.0, 0.0, 0.0)
    shuffled = rng.permuted(np.broadcast_to(series, (n_permutations, n)), axis=1)
    p_value = _permutation_p(float(between[k - 1]), _between(shuffled).max(axis=-1))
    trend = series - residuals
    under_trend = trend + rng.permuted(np.broadcast_to(residuals, (n_permutations, n)), axis=1)
    ratio = float(_step_ratio(series))
    step_p = _permutation_p(ratio, _step_ratio(under_trend))
    return ChangePoint(n=n, statistic=float(between[k - 1]), p_value=p_value, index=k,
                       before=float(series[:k].mean()), after=float(series[k:].mean()),
                       step_p_value=step_p, rss_step=max(total - float(between[k - 1]), 0.0),
                       rss_linear=float(rss_linear), slope=float(slope))


__all__ = ["MIN_WINDOWS", "SHAPES", "ChangePoint", "change_point"]
