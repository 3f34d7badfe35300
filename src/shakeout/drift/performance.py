"""Model performance on labelled windows: the score with its interval and its degradation.

Accuracy for classifiers (Clopper-Pearson interval), mean absolute error for regressors
(normal interval). Degradation is relative to the reference score: 0.03 means the model
lost 3% of its reference accuracy, or its error grew by 3%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from shakeout.drift._base import DRILL, in_band
from shakeout.models import Model
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding
from shakeout.stats import clopper_pearson

GROUP = "performance"
VERDICTS = ("significant and material", "significant but small", "not significant")
"""What a degradation finding says, and what the decision repeats: a loss whose interval
excludes zero and that exceeds the threshold, one that excludes zero below it, or none."""


def verdict(value: float, ci: tuple[float, float], threshold: float) -> str:
    """The verdict on a relative performance loss ``value`` with interval ``ci``.

    >>> verdict(0.05, (0.02, 0.08), 0.03), verdict(0.026, (0.01, 0.04), 0.03)
    ('significant and material', 'significant but small')
    >>> verdict(0.05, (-0.01, 0.11), 0.03)
    'not significant'
    """
    if not ci[0] > 0:
        return VERDICTS[2]
    return VERDICTS[0] if value > threshold else VERDICTS[1]


@dataclass(frozen=True)
class Score:
    """A performance estimate from per-row values (1/0 correctness, or absolute errors)."""

    metric: str
    rows: np.ndarray

    @property
    def value(self) -> float:
        return float(self.rows.mean())

    @property
    def se(self) -> float:
        return float(self.rows.std(ddof=1) / np.sqrt(len(self.rows))) if len(self.rows) > 1 else 0.0

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson for accuracy, a normal interval for an error."""
        if self.metric == "accuracy":
            return clopper_pearson(int(self.rows.sum()), len(self.rows), level)
        half = stats.norm.ppf(0.5 + level / 2) * self.se
        return (self.value - half, self.value + half)


def score(model: Model, X: Any, y: Any) -> Score:
    """Per-row correctness (classifier) or absolute error (regressor) of ``model`` on ``(X, y)``.

    >>> from shakeout.models import wrap
    >>> m = wrap(lambda X: np.tile([0.3, 0.7], (len(X), 1)), task="classification")
    >>> score(m, np.zeros((4, 1)), [1, 1, 0, 1]).value
    0.75
    """
    if model.task == "classification":
        # through the model's classes: labels read as text still match classes fitted as numbers
        right = model.predict_proba(X).argmax(axis=1) == model.encode_labels(y)
        return Score("accuracy", right.astype(np.float64))
    err = np.abs(model.predict(X) - np.asarray(y, dtype=np.float64))
    return Score("mae", err)


def degradation(reference: Score, current: Score,
                level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Relative loss of performance and its delta-method interval (positive is worse).

    >>> a = Score("accuracy", np.r_[np.ones(900), np.zeros(100)])
    >>> b = Score("accuracy", np.r_[np.ones(800), np.zeros(200)])
    >>> round(degradation(a, b)[0], 3)
    0.111
    """
    r, c = reference.value, current.value
    if r == 0:
        return 0.0, (0.0, 0.0)
    if reference.metric == "accuracy":
        value = (r - c) / r
    else:
        value = (c - r) / r
    ratio = c / r
    se = abs(ratio) * np.sqrt((current.se / c) ** 2 + (reference.se / r) ** 2) if c else (
        current.se / r)
    half = float(stats.norm.ppf(0.5 + level / 2) * se)
    return float(value), (float(value - half), float(value + half))


def performance_findings(reference: Score, current: Score, *, max_degradation: float,
                         baseline: str = "reference") -> list[Finding]:
    """The current score (with interval) and its degradation against the baseline score.

    The degradation fails when it exceeds ``max_degradation`` and its interval excludes
    zero, warns when it exceeds it without significance. ``baseline`` names the labelled
    rows the reference score comes from (``"reference"`` or ``"holdout"``).
    """
    lo, hi = current.interval()
    name = current.metric
    score_finding = Finding(
        name=finding_name(DRILL, GROUP, name), metric=name, value=current.value, ci=(lo, hi),
        ci_level=0.95, status="info", drill=DRILL, group=GROUP,
        message=(f"{name} on current data: {current.value:.4g} [{lo:.4g}, {hi:.4g}], "
                 f"{baseline} {reference.value:.4g} ({len(current.rows)} labelled rows)."),
        details={"reference": reference.value, "reference_ci": list(reference.interval()),
                 "n_current": len(current.rows), "n_reference": len(reference.rows),
                 "baseline": baseline})
    value, ci = degradation(reference, current)
    significant = ci[0] > 0
    said = verdict(value, ci, max_degradation)
    if value > max_degradation:
        status = "fail" if significant else "warn"
    else:
        status = "pass"
    shown = in_band(value, (max_degradation,), 1, percent=True)
    drop = Finding(
        name=finding_name(DRILL, GROUP, "degradation"), metric="degradation", value=value, ci=ci,
        ci_level=0.95, status=status, drill=DRILL, group=GROUP, unit="relative",
        message=(f"Performance degradation {shown} [{ci[0]:.1%}, {ci[1]:.1%}] of the "
                 f"{baseline} {name}: {said} (threshold {max_degradation:.0%})."),
        details={"bands": {"warn": max_degradation / 2, "fail": max_degradation},
                 "metric": name, "reference": reference.value, "current": current.value,
                 "significant": significant, "verdict": said, "threshold": max_degradation,
                 "baseline": baseline})
    return [score_finding, drop]
