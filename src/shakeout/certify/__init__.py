"""Certified robustness by randomized smoothing: L2 certificates under Gaussian noise (Cohen
et al. 2019), L1 certificates under uniform noise (Yang et al. 2020).

:func:`certify` and :func:`predict` are the smoothed classifier's CERTIFY and PREDICT;
:func:`soundness` attacks certificates to check them; :func:`run` is the drill (certified
accuracy against radius with exact intervals, the median certified radius, the soundness
check). Torch is imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.certify.plan import CertifyPlan
    from shakeout.certify.run import run
    from shakeout.certify.smoothing import Certificates, certify, predict
    from shakeout.certify.soundness import soundness

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.certify.{module}" for module, names in (
    ("plan", ("CertifyPlan",)),
    ("run", ("run",)),
    ("smoothing", ("Certificates", "certify", "predict")),
    ("soundness", ("soundness",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["Certificates", "CertifyPlan", "certify", "predict", "run", "soundness"]
