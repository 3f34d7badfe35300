"""Poisoning: attacks to test with, the poison drill (clean accuracy and attack success
against the poisoning rate), scanners, robust training, provenance.

:class:`LabelFlip`, :class:`PatchBackdoor`, :class:`TabularBackdoor`,
:class:`CleanLabelBackdoor` and :class:`Subpopulation` poison a training set and return a
:class:`Poisoned` with the ground-truth mask; :func:`run` trains a training function on clean
and poisoned data and measures what the poison did. The modules behind these names are
imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.poison.attacks import (CATALOG, CleanLabelBackdoor, LabelFlip, PatchBackdoor,
                                         Poisoned, Subpopulation, TabularBackdoor, make)
    from shakeout.poison.plan import PoisonPlan
    from shakeout.poison.provenance import (Diff, Lineage, batch_hash, read_manifest,
                                            row_hashes, since, write_manifest)
    from shakeout.poison.simulate import run

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.poison.{module}" for module, names in (
    ("attacks", ("CATALOG", "CleanLabelBackdoor", "LabelFlip", "PatchBackdoor", "Poisoned",
                 "Subpopulation", "TabularBackdoor", "make")),
    ("plan", ("PoisonPlan",)),
    ("provenance", ("Diff", "Lineage", "batch_hash", "read_manifest", "row_hashes", "since",
                    "write_manifest")),
    ("simulate", ("run",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["CATALOG", "CleanLabelBackdoor", "Diff", "LabelFlip", "Lineage", "PatchBackdoor",
           "Poisoned", "PoisonPlan", "Subpopulation", "TabularBackdoor", "batch_hash", "make",
           "read_manifest", "row_hashes", "run", "since", "write_manifest"]
