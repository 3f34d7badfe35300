"""Can this answer be trusted? Uncertainty scores, calibration and selective prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.uncertainty.calibration import calibration, debiased_ece, ece
    from shakeout.uncertainty.scores import (Decomposition, confidence, ensemble, entropy,
                                             margin, max_probability, mc_dropout)
    from shakeout.uncertainty.temperature import TemperatureScaled

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.uncertainty.{module}" for module, names in (
    ("calibration", ("calibration", "debiased_ece", "ece")),
    ("scores", ("Decomposition", "confidence", "ensemble", "entropy", "margin",
                "max_probability", "mc_dropout")),
    ("temperature", ("TemperatureScaled",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["Decomposition", "TemperatureScaled", "calibration", "confidence", "debiased_ece", "ece",
           "ensemble", "entropy", "margin", "max_probability", "mc_dropout"]
