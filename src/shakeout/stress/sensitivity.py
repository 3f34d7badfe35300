"""Which features the model is sensitive to: the sensitivity part of the stress drill."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.models._base import Model
from shakeout.report.result import Finding
from shakeout.stress.features import DEFAULT_SHIFT, feature_sensitivity, permutation_importance
from shakeout.stress.metrics import Metric
from shakeout.stress.sobol import morris, sobol

MAX_SOBOL_FEATURES = 20
"""Above this many features, Morris screening replaces Sobol indices (cost n (d + 2))."""


def sensitivity_findings(model: Model, X: Any, y: np.ndarray, *, metric: Metric, top_k: int,
                         level: float, rng: np.random.Generator, images: bool,
                         sobol_n: int = 1024, shift: float = DEFAULT_SHIFT) -> list[Finding]:
    """Per-feature ranking, permutation importance and Sobol or Morris indices.

    ``shift`` is the per-feature shift up and down of the ranking, as a fraction of each
    feature's range (see :func:`~shakeout.stress.features.feature_sensitivity`).

    Images skip the per-feature ranking and permutation importance (single pixels are not
    meaningful features) and get Morris screening over pixels.
    """
    found: list[Finding] = []
    n_features = int(np.prod(np.shape(X)[1:]))
    if not images:
        found += feature_sensitivity(model, X, y, shift=shift, top_k=top_k, level=level,
                                     rng=rng)
        found += permutation_importance(model, X, y, metric, level=level, rng=rng)
    if not images and n_features <= MAX_SOBOL_FEATURES:
        found += sobol(model, X, n=sobol_n, level=level, seed=rng)
    else:
        found += morris(model, X, level=level, seed=rng)
    return found
