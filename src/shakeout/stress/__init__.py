"""Stress testing: degradation under perturbation, with intervals, tests and sensitivity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.stress.compare import compare
    from shakeout.stress.metrics import METRICS
    from shakeout.stress.run import run
    from shakeout.stress.sobol import morris, sobol
    from shakeout.stress.sweep import Sweep

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.stress.{module}" for module, names in (
    ("compare", ("compare",)),
    ("metrics", ("METRICS",)),
    ("run", ("run",)),
    ("sobol", ("morris", "sobol")),
    ("sweep", ("Sweep",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["METRICS", "Sweep", "compare", "morris", "run", "sobol"]
