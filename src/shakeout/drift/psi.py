"""Population Stability Index: a symmetric divergence between binned proportions."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.drift._base import in_band
from shakeout.drift._binning import N_DRAWS, BinnedDistance, proportions

BANDS = ((0.1, "negligible", "negligible"), (0.2, "minor", "small"),
         (0.25, "moderate", "medium"), (np.inf, "major", "large"))
"""PSI bands: (upper limit, band name, effect label). < 0.1 monitor, 0.1-0.2 investigate,
0.2-0.25 consider retraining, >= 0.25 retrain."""
EDGES = tuple(limit for limit, _, _ in BANDS[:-1])
"""The PSI band edges, for printing values on the right side of them."""


def psi_text(value: float) -> str:
    """A PSI value printed so that it reads in its own band.

    >>> psi_text(0.2496), psi_text(0.31)
    ('0.2496', '0.31')
    """
    return in_band(value, EDGES)


def psi_band(value: float) -> tuple[str, str]:
    """The band name and effect label of a PSI value.

    >>> psi_band(0.05), psi_band(0.22), psi_band(0.4)
    (('negligible', 'negligible'), ('moderate', 'medium'), ('major', 'large'))
    """
    for limit, band, effect in BANDS:
        if value < limit:
            return band, effect
    return BANDS[-1][1], BANDS[-1][2]


class PSI(BinnedDistance):
    """Population Stability Index of one feature, numeric or categorical.

    ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` over bins learned from the reference, with
    ``r_i`` and ``c_i`` the reference and current proportions (unitless, >= 0; it is the sum
    of the two KL divergences). Numeric features use ``n_bins`` bins (exactly that many:
    reference deciles by default); categories are their own bins, with a bin for categories
    unseen in the reference and one for missing values. An empty bin's proportion is set to
    ``smoothing`` inside the logarithm, so PSI stays finite when the current sample leaves a
    bin empty or fills an unseen category; a bin empty in both samples adds nothing.

    PSI carries no p-value, but small samples inflate it: ``details`` give the PSI that
    samples of these sizes exceed one time in twenty without any drift (``chance_p95``)
    and the chance of a PSI this large (``chance_p_value``): from the chi-square law
    (:func:`~shakeout.drift._binning.chance_law`) where every bin of the smaller sample
    expects 50 rows, else from ``n_permutations`` tables drawn without drift
    (:func:`~shakeout.drift._binning.null_tables`); the message warns when ``chance_p95``
    reaches the ``warn`` band. The bands stay the verdict.

    Parameters
    ----------
    n_bins : int, default=10
        Value bins of a numeric feature.
    binning : {"quantile", "uniform"}, default="quantile"
        Reference quantiles (equal reference mass per bin) or equal widths.
    kind : {"auto", "numeric", "categorical"}, default="auto"
        How to bin; ``auto`` bins numeric dtypes by value and anything else by category.
    smoothing : float, default=1e-8
        Proportion given to an empty bin inside the logarithm (common practice).
    warn, fail : float, default=0.1, 0.25
        Bands: below 0.1 negligible, 0.1-0.2 minor, 0.2-0.25 moderate, from 0.25 major.
    n_permutations : int, default=2000
        Tables drawn without drift for the chance level on small windows.
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import PSI
    >>> rng = np.random.default_rng(0)
    >>> psi = PSI().fit(rng.normal(size=5_000))
    >>> f = psi.compare(rng.normal(0.5, 1.0, size=5_000))
    >>> round(f.value, 3), f.status, f.details["band"]
    (0.266, 'fail', 'major')
    """

    group = metric = "psi"
    chance_factor = 1.0

    def __init__(self, *, n_bins: int = 10, binning: str = "quantile", kind: str = "auto",
                 smoothing: float = 1e-8, warn: float = 0.1, fail: float = 0.25,
                 n_permutations: int = N_DRAWS, seed: Any = 0):
        super().__init__(n_bins=n_bins, binning=binning, kind=kind, smoothing=smoothing,
                         warn=warn, fail=fail, n_permutations=n_permutations, seed=seed)

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> Any:
        """PSI between two count vectors of one layout (bins on the last axis)."""
        _, r = proportions(reference_counts, self.smoothing)
        _, c = proportions(current_counts, self.smoothing)
        return np.sum((c - r) * np.log(c / r), axis=-1)

    def extra_details(self, value: float) -> dict:
        return {"band": psi_band(value)[0]}

    def effect(self, value: float) -> str:
        return psi_band(value)[1]

    def describe(self, feature: str, value: float) -> str:
        band = psi_band(value)[0]
        advice = {"negligible": "monitor", "minor": "investigate",
                  "moderate": "consider retraining", "major": "retrain"}[band]
        return f"PSI on {feature!r} is {psi_text(value)}: {band} shift ({advice})."
