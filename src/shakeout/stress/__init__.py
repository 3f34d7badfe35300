"""Stress testing: degradation under perturbation, with intervals, tests and sensitivity."""

from shakeout.stress.compare import compare
from shakeout.stress.metrics import METRICS
from shakeout.stress.run import run
from shakeout.stress.sobol import morris, sobol
from shakeout.stress.sweep import Sweep

__all__ = ["METRICS", "Sweep", "compare", "morris", "run", "sobol"]
