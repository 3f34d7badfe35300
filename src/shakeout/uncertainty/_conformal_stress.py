"""A fitted conformal predictor's coverage and set size as stress metrics.

The stress drill (:func:`shakeout.stress.run`) computes every metric from per-row columns of
the model's outputs, summed over perturbation draws, with intervals over rows and draws
together. Whether a row's set holds its label, and how many labels the set holds, are such
per-row quantities once the calibration threshold is fixed: the set of a row is
``{j : score_j(p) <= q}`` (Vovk, Gammerman & Shafer 2005; Lei et al. 2018), a function of
that row's probabilities ``p`` alone for LAC (Sadinle, Lei & Wasserman 2019), Mondrian
thresholds per class, and non-randomised APS (Romano, Sesia & Candes 2020). Randomised APS
(a ``u`` drawn per row) and weighted conformal under covariate shift (a threshold per row
from its features, Tibshirani et al. 2019) are not, and are refused: for those,
:func:`shakeout.uncertainty.conformal.coverage_under_stress` perturbs the rows itself.

Coverage is a proportion (``proportion=True``): the drill gives it the Wilson (1927) interval
of its per-row hits over rows x draws and the exact McNemar / sign-flip test of its drop,
which stay honest on few rows and when every row is covered.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from shakeout.errors import ValidationError
from shakeout.stress.metrics import Metric, row_mean

ELSEWHERE = ("use coverage_under_stress(predictor, X, y, perturbation, severities), which "
             "perturbs the rows and predicts the sets itself")


def _sets(predictor: Any, limit: Any, out: np.ndarray) -> np.ndarray:
    """The boolean sets ``(n, k)`` of probabilities ``out`` under the fitted threshold."""
    if out.ndim != 2 or out.shape[1] != predictor.n_classes_:
        raise ValidationError(
            f"{predictor.name}: calibrated on a model with {predictor.n_classes_} classes, but "
            f"the stress model outputs shape {out.shape}; pass stress.run the model the "
            "predictor was calibrated on.")
    return predictor._all_scores(out, None) <= limit


def _set_covered(predictor: Any, limit: Any, y: np.ndarray, out: np.ndarray,
                 pred: np.ndarray | None = None) -> np.ndarray:
    return _sets(predictor, limit, out)[np.arange(len(y)), y].astype(np.float64)[:, None]


def _set_size(predictor: Any, limit: Any, y: np.ndarray, out: np.ndarray,
              pred: np.ndarray | None = None) -> np.ndarray:
    return _sets(predictor, limit, out).sum(axis=1, dtype=np.float64)[:, None]


def _interval_covered(limit: float, y: np.ndarray, out: np.ndarray,
                      pred: np.ndarray | None = None) -> np.ndarray:
    return ((out - limit <= y) & (y <= out + limit)).astype(np.float64)[:, None]


def _refuse_shift(predictor: Any) -> None:
    predictor._fitted()
    if predictor.shift is not None:
        raise ValidationError(
            f"{predictor.name}: a weighted (shift=...) predictor has one threshold per row, "
            "from the row's features through the likelihood ratio, which a stress metric "
            f"(computed from the model's outputs) does not see; {ELSEWHERE}.")


def _what(predictor: Any) -> str:
    return (f"{predictor.score.upper()}, alpha={predictor.alpha:g}, "
            f"{len(predictor.scores_)} calibration rows")


def classifier_metrics(predictor: Any) -> list[Metric]:
    """``[coverage, set_size]`` of a fitted ``ConformalClassifier`` (see the module)."""
    _refuse_shift(predictor)
    if predictor.randomized:
        raise ValidationError(
            f"{predictor.name}: randomized APS draws a u per row, so its sets are not a "
            "function of the probabilities alone; fit a predictor with randomized=False for "
            f"stress metrics, or {ELSEWHERE}.")
    limit = np.copy(predictor.threshold_)  # one number, or one per class (Mondrian)
    what = _what(predictor) + (", per class" if predictor.mondrian else "")
    return [
        Metric("coverage", "classification", True, partial(_set_covered, predictor, limit),
               row_mean, f"share of rows whose conformal set ({what}) holds the true class",
               proportion=True),
        Metric("set_size", "classification", False, partial(_set_size, predictor, limit),
               row_mean, f"mean number of classes in the conformal set ({what})",
               bounded=False),
    ]


def regressor_metrics(predictor: Any) -> list[Metric]:
    """``[coverage]`` of a fitted ``ConformalRegressor`` with ``score="absolute"``."""
    _refuse_shift(predictor)
    if predictor.score != "absolute":
        raise ValidationError(
            f"{predictor.name}: score={predictor.score!r} intervals come from the quantile "
            "models, not from the stress model's predictions; stress metrics need "
            f"score='absolute', or {ELSEWHERE}.")
    return [Metric("coverage", "regression", True,
                   partial(_interval_covered, float(predictor.threshold_)), row_mean,
                   f"share of rows whose conformal interval ({_what(predictor)}) holds the "
                   "true value", proportion=True)]
