"""Likelihood ratios for weighted conformal prediction under covariate shift.

Tibshirani, Barber, Candes & Ramdas (2019), "Conformal prediction under covariate shift",
NeurIPS, section 4: a classifier that tells calibration rows (label 0) from target rows
(label 1) estimates the likelihood ratio ``dP_target / dP_cal (x)`` as its odds
``p(1 | x) / p(0 | x)`` times ``n_cal / n_target``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError, first_line

TINY = np.finfo(np.float64).tiny
"""Smallest positive float: keeps an odds ratio finite when a classifier says 0 or 1."""


class DomainWeights:
    """The likelihood ratio of each row from a fitted domain classifier (a callable).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> ratio = DomainWeights(LogisticRegression(), rng.normal(0, 1, (2000, 1)),
    ...                       rng.normal(1, 1, (2000, 1)))
    >>> ratio(np.array([[-1.0], [0.5], [2.0]])).round(1).tolist()  # truth: 0.2, 1.0, 4.5
    [0.2, 1.0, 4.8]
    """

    def __init__(self, classifier: Any, reference: Any, target: Any):
        from sklearn.base import clone

        both = (pd.concat([reference, target], ignore_index=True)
                if isinstance(reference, pd.DataFrame) else np.concatenate([reference, target]))
        side = np.r_[np.zeros(len(reference)), np.ones(len(target))]
        try:
            self.classifier_ = clone(classifier).fit(both, side)
        except Exception as exc:  # noqa: BLE001 - any estimator's failure, quoted
            raise ValidationError(
                f"the domain classifier {type(classifier).__name__} could not be fitted on "
                f"calibration against target rows ({first_line(exc)}). Pass a "
                "domain_classifier that accepts these columns (e.g. a pipeline that encodes "
                "categories)."
            ) from None
        self.prior_ = len(reference) / len(target)

    def __call__(self, X: Any) -> np.ndarray:
        proba = np.asarray(self.classifier_.predict_proba(X), dtype=np.float64)[:, 1]
        return np.maximum(proba, TINY) / np.maximum(1.0 - proba, TINY) * self.prior_


def likelihood_ratio(owner: str, shift: Any, classifier: Any, X: Any, target: Any) -> Any:
    """The callable giving each row's likelihood ratio: ``shift`` itself, or a domain
    classifier (default: logistic regression) fitted on ``X`` against ``target``."""
    if callable(shift):
        return shift
    if target is None:
        raise ValidationError(
            f"{owner}: shift='domain' needs target rows (unlabelled rows of the distribution "
            "to predict on) to fit the domain classifier; pass fit(X, y, target=X_target)."
        )
    if len(target) == 0:
        raise ValidationError(f"{owner}: target is empty; pass at least one row.")
    if classifier is None:
        from sklearn.linear_model import LogisticRegression

        classifier = LogisticRegression(max_iter=1000)
    return DomainWeights(classifier, X, target)


def row_weights(owner: str, ratio: Any, X: Any) -> np.ndarray:
    """``ratio(X)`` checked: one finite, non-negative weight per row."""
    w = np.asarray(ratio(X), dtype=np.float64).reshape(-1)
    if len(w) != len(X) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValidationError(
            f"{owner}: the likelihood ratio must give one finite, non-negative weight per row; "
            f"got {len(w)} values for {len(X)} rows (min {np.nanmin(w) if len(w) else 'none'})."
        )
    return w
