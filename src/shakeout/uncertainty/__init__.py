"""Can this answer be trusted? Uncertainty scores, calibration, conformal sets and selective
prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.uncertainty.calibration import calibration, debiased_ece, ece
    from shakeout.uncertainty.conformal import (ConformalClassifier, ConformalRegressor,
                                                coverage_at, coverage_findings,
                                                coverage_under_stress, min_calibration_size)
    from shakeout.uncertainty.detection import delong_interval, detection_findings, fpr_at_tpr
    from shakeout.uncertainty.run import run
    from shakeout.uncertainty.risk import (Guarantee, aurc, guaranteed_threshold, risk_coverage,
                                           selective_findings)
    from shakeout.uncertainty.scores import (Decomposition, confidence, ensemble, entropy,
                                             margin, max_probability, mc_dropout)
    from shakeout.uncertainty.selective import Selective
    from shakeout.uncertainty.temperature import TemperatureScaled

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.uncertainty.{module}" for module, names in (
    ("calibration", ("calibration", "debiased_ece", "ece")),
    ("conformal", ("ConformalClassifier", "ConformalRegressor", "coverage_at",
                   "coverage_findings", "coverage_under_stress", "min_calibration_size")),
    ("detection", ("delong_interval", "detection_findings", "fpr_at_tpr")),
    ("risk", ("Guarantee", "aurc", "guaranteed_threshold", "risk_coverage",
              "selective_findings")),
    ("run", ("run",)),
    ("scores", ("Decomposition", "confidence", "ensemble", "entropy", "margin",
                "max_probability", "mc_dropout")),
    ("selective", ("Selective",)),
    ("temperature", ("TemperatureScaled",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["ConformalClassifier", "ConformalRegressor", "Decomposition", "Guarantee", "Selective",
           "TemperatureScaled", "aurc", "calibration", "confidence", "coverage_at",
           "coverage_findings", "coverage_under_stress", "debiased_ece", "delong_interval",
           "detection_findings", "ece", "ensemble", "entropy", "fpr_at_tpr",
           "guaranteed_threshold", "margin", "max_probability", "mc_dropout",
           "min_calibration_size", "risk_coverage", "run", "selective_findings"]
