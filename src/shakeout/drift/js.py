"""Jensen-Shannon divergence: a symmetric, bounded divergence between binned proportions."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_open_interval
from shakeout.drift._binning import N_DRAWS, BinnedDistance, proportions


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``sum p ln(p / m)`` over the last axis; bins where ``p`` is 0 add nothing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.where(m > 0, m, 1.0)),
                         0.0)
    return np.sum(terms, axis=-1)


class JSDivergence(BinnedDistance):
    """Jensen-Shannon divergence in nats, between 0 and ln 2 (about 0.693).

    ``JS = KL(r || m) / 2 + KL(c || m) / 2`` with ``m = (r + c) / 2`` over the reference
    bins of :class:`~shakeout.drift.PSI`. It needs no smoothing: the mixture is never zero
    where either sample has mass. ``sqrt(JS / ln 2)`` is the Jensen-Shannon distance in
    [0, 1] (``details["distance"]``), as ``scipy.spatial.distance.jensenshannon``.

    A band on JS is not a calibrated threshold: without drift, JS is about an eighth of the
    Pearson statistic ``sum (c - r)^2 / r`` and grows as windows shrink. Each finding
    carries its chance p-value as ``p_value`` (the chi-square law where every bin expects
    50 rows, else a simulated null, as for PSI) and passes when the divergence is within
    chance (``p >= alpha``): measured null false-alarm rates are in the calibration suite
    (``tests/calibration/test_drift_binned_calibration.py``).

    Parameters
    ----------
    n_bins, binning, kind
        As for :class:`~shakeout.drift.PSI`.
    warn, fail : float, default=0.05, 0.1
        Bands on the divergence in nats (heuristics; 0.1 nats is about distance 0.38).
    alpha : float, default=0.05
        Level of the chance test that gates the bands.
    n_permutations : int, default=2000
        Tables drawn without drift on small windows.
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import JSDivergence
    >>> js = JSDivergence(kind="categorical").fit(np.array(["a"] * 50 + ["b"] * 50))
    >>> f = js.compare(np.array(["c"] * 100))  # disjoint support: ln 2
    >>> round(f.value, 4), f.p_value < 0.001, f.status
    (0.6931, True, 'fail')
    """

    group = metric = "js"
    chance_factor = 0.125
    judged_by_chance = True

    def __init__(self, *, n_bins: int = 10, binning: str = "quantile", kind: str = "auto",
                 warn: float = 0.05, fail: float = 0.1, alpha: float = 0.05,
                 n_permutations: int = N_DRAWS, seed: Any = 0):
        super().__init__(n_bins=n_bins, binning=binning, kind=kind, warn=warn, fail=fail,
                         n_permutations=n_permutations, seed=seed)
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> Any:
        """JS divergence between two count vectors of one layout (bins on the last axis)."""
        r, _ = proportions(reference_counts, self.smoothing)
        c, _ = proportions(current_counts, self.smoothing)
        m = (r + c) / 2
        return np.minimum(0.5 * _kl_to_mixture(r, m) + 0.5 * _kl_to_mixture(c, m), np.log(2))

    def extra_details(self, value: float) -> dict:
        return {"distance": float(np.sqrt(max(value, 0.0) / np.log(2)))}
