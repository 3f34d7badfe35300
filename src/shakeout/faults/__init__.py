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
    from shakeout.faults.inject import Fault, Injector, injected
    from shakeout.faults.sites import Site, find_sites

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.faults.{module}" for module, names in (
    ("inject", ("Fault", "Injector", "injected")),
    ("sites", ("Site", "find_sites")))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["Fault", "Injector", "Site", "find_sites", "injected"]
