"""System faults: bit flips and other fault models in weights and activations, campaigns,
golden replay, diagnosis.

:func:`find_sites` lists where a fault can hit (torch parameters and layer outputs,
scikit-learn coefficient and tree arrays, ONNX initializers); :class:`Fault` is one fault,
:class:`Injector` / :func:`injected` write faults into a model and put back exactly what was
there. Torch and the modules behind these names are imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.faults.campaign import fleet_failure, run
    from shakeout.faults.caught import caught, rows_to_alert
    from shakeout.faults.changepoint import ChangePoint, change_point
    from shakeout.faults.diagnose import diagnose, read_events
    from shakeout.faults.golden import load_golden, replay, save_golden
    from shakeout.faults.inject import Fault, Injector, injected
    from shakeout.faults.mitigations import Protection, RangeRestriction, RedundantExecution
    from shakeout.faults.outcomes import OUTCOMES
    from shakeout.faults.parity import parity
    from shakeout.faults.plan import FaultsPlan
    from shakeout.faults.population import (Population, hypergeometric_interval,
                                            leveugle_sample_size)
    from shakeout.faults.sites import Site, find_sites

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.faults.{module}" for module, names in (
    ("campaign", ("fleet_failure", "run")),
    ("caught", ("caught", "rows_to_alert")),
    ("changepoint", ("ChangePoint", "change_point")),
    ("diagnose", ("diagnose", "read_events")),
    ("golden", ("load_golden", "replay", "save_golden")),
    ("inject", ("Fault", "Injector", "injected")),
    ("mitigations", ("Protection", "RangeRestriction", "RedundantExecution")),
    ("outcomes", ("OUTCOMES",)),
    ("parity", ("parity",)),
    ("plan", ("FaultsPlan",)),
    ("population", ("Population", "hypergeometric_interval", "leveugle_sample_size")),
    ("sites", ("Site", "find_sites")))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["OUTCOMES", "ChangePoint", "Fault", "FaultsPlan", "Injector", "Population",
           "Protection", "RangeRestriction", "RedundantExecution", "Site", "caught",
           "change_point", "diagnose", "find_sites", "fleet_failure", "hypergeometric_interval",
           "injected", "leveugle_sample_size", "load_golden", "parity", "read_events", "replay",
           "rows_to_alert", "run", "save_golden"]
