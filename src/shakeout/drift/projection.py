"""Drift of images, embeddings and wide tables: reduce the dimension, test each component."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shakeout._validation import check_choice, check_open_interval, check_positive_int
from shakeout.drift._base import (DriftTest, check_thresholds, make_finding, describe_test,
                                  judge_test)
from shakeout.drift._matrix import numeric_matrix
from shakeout.drift.ks import KSTest
from shakeout.errors import ValidationError
from shakeout.report.result import Finding
from shakeout.stats import adjust_p_values, effect_label

CORRECTIONS = ("bonferroni", "holm", "bh")


class ProjectionTest(DriftTest):
    """KS tests on the principal components (or a model's embedding) with one corrected p-value.

    Rows are flattened (images become vectors), optionally mapped by ``embed`` (a model's
    own embedding: any callable from a batch of inputs to an ``(n, d)`` array), then
    projected on the reference's first ``n_components`` principal components. Each component
    gets a :class:`~shakeout.drift.KSTest`; the component p-values are adjusted with
    ``correction`` and the smallest adjusted p-value is the test's p-value (Bonferroni's
    or Holm's bound, or Simes' test for ``"bh"``), so the test keeps its level ``alpha``.
    The value is the largest component KS distance, which is also the effect size.

    Parameters
    ----------
    n_components : int, default=8
        Components kept (at most the number of reference rows minus one and the dimension).
    embed : callable or None, default=None
        Maps raw inputs to features before the projection.
    alpha : float, default=0.05
    correction : {"bonferroni", "holm", "bh"}, default="bonferroni"
    effect_thresholds : (float, float, float), default=(0.05, 0.1, 0.2)
        Largest component ``D`` at which the effect is small, medium and large.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ProjectionTest
    >>> rng = np.random.default_rng(0)
    >>> images = rng.uniform(size=(500, 1, 8, 8))
    >>> test = ProjectionTest(n_components=4).fit(images)
    >>> test.compare(rng.uniform(size=(500, 1, 8, 8))).status
    'pass'
    >>> test.compare(rng.uniform(size=(500, 1, 8, 8)) ** 2).status  # darker images
    'fail'
    """

    group = metric = "projection"
    multivariate = True

    def __init__(self, *, n_components: int = 8, embed: Callable[[Any], Any] | None = None,
                 alpha: float = 0.05, correction: str = "bonferroni",
                 effect_thresholds: tuple[float, float, float] = (0.05, 0.1, 0.2)):
        self.n_components = check_positive_int(self, "n_components", n_components, 1)
        if embed is not None and not callable(embed):
            raise ValidationError(f"ProjectionTest: embed must be a callable mapping inputs "
                                  f"to an (n, d) array, got {type(embed).__name__}.")
        self.embed = embed
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.correction = check_choice(self, "correction", correction, CORRECTIONS)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)

    def _features(self, data: Any, role: str) -> np.ndarray:
        if self.embed is not None:
            data = np.asarray(self.embed(data))
        X, _ = numeric_matrix(data, owner="ProjectionTest", role=role, min_rows=2)
        return X

    def fit(self, reference: Any) -> "ProjectionTest":
        """Learn the principal axes of the reference and fit one KS test per component."""
        from sklearn.decomposition import PCA

        X = self._features(reference, "reference")
        k = min(self.n_components, X.shape[1], len(X) - 1)
        self.pca_ = PCA(n_components=k, random_state=0).fit(X)
        self.width_ = X.shape[1]
        Z = self.pca_.transform(X)
        self.tests_ = [KSTest(alpha=self.alpha, effect_thresholds=self.effect_thresholds)
                       .fit(Z[:, j]) for j in range(k)]
        self.fitted_ = True
        return self

    def compare(self, current: Any) -> Finding:
        """Per-component KS tests of ``current`` and their corrected aggregate."""
        self._require_fit()
        X = self._features(current, "current")
        if X.shape[1] != self.width_:
            raise ValidationError(
                f"ProjectionTest: current has {X.shape[1]} features per row, the reference "
                f"{self.width_}; pass inputs of the same shape."
            )
        Z = self.pca_.transform(X)
        parts = [t.compare(Z[:, j]) for j, t in enumerate(self.tests_)]
        raw = np.array([f.p_value for f in parts])
        adjusted = adjust_p_values(raw, self.correction)
        p = float(adjusted.min())
        d = max(f.value for f in parts)
        effect = effect_label(d, self.effect_thresholds)
        worst = int(np.argmin(adjusted))
        text = f"max D={d:.3g} on component {worst + 1} of {len(parts)}"
        details = {"test": "Projection KS", "statistic_text": text,
                   "components": len(parts), "correction": self.correction,
                   "explained_variance": self.pca_.explained_variance_ratio_.tolist(),
                   "component_d": [f.value for f in parts], "component_p": raw.tolist(),
                   "embedding": self.embed is not None,
                   "bands": {"warn": self.effect_thresholds[0],
                             "fail": self.effect_thresholds[1]}}
        return make_finding(self, feature=None, value=d, p_value=p, effect=effect,
                            status=judge_test(p, self.alpha, effect), details=details,
                            message=describe_test("Projection KS", "", text, p, self.alpha,
                                                 effect, self.correction))
