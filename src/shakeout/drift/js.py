"""Jensen-Shannon divergence: a symmetric, bounded divergence between binned proportions."""

from __future__ import annotations

import numpy as np

from shakeout.drift._binning import BinnedDistance, proportions


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / m[mask])))


class JSDivergence(BinnedDistance):
    """Jensen-Shannon divergence in nats, between 0 and ln 2 (about 0.693).

    ``JS = KL(r || m) / 2 + KL(c || m) / 2`` with ``m = (r + c) / 2`` over the reference
    bins of :class:`~shakeout.drift.PSI`. It needs no smoothing: the mixture is never zero
    where either sample has mass. ``sqrt(JS / ln 2)`` is the Jensen-Shannon distance in
    [0, 1] (``details["distance"]``).

    Parameters
    ----------
    n_bins, binning, kind
        As for :class:`~shakeout.drift.PSI`.
    warn, fail : float, default=0.05, 0.1
        Bands on the divergence in nats (heuristics; 0.1 nats is about distance 0.38).

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import JSDivergence
    >>> js = JSDivergence(kind="categorical").fit(np.array(["a"] * 50 + ["b"] * 50))
    >>> round(js.compare(np.array(["c"] * 100)).value, 4)  # disjoint support: ln 2
    0.6931
    """

    group = metric = "js"

    def __init__(self, *, n_bins: int = 10, binning: str = "quantile", kind: str = "auto",
                 warn: float = 0.05, fail: float = 0.1):
        super().__init__(n_bins=n_bins, binning=binning, kind=kind, warn=warn, fail=fail)

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
        """JS divergence between two count vectors of one layout."""
        r, _ = proportions(reference_counts, self.eps)
        c, _ = proportions(current_counts, self.eps)
        m = (r + c) / 2
        return float(min(0.5 * _kl_to_mixture(r, m) + 0.5 * _kl_to_mixture(c, m), np.log(2)))

    def extra_details(self, value: float) -> dict:
        return {"distance": float(np.sqrt(max(value, 0.0) / np.log(2)))}
