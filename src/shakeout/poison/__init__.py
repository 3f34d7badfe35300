"""Poisoning: attacks to test with, the poison drill (clean accuracy and attack success
against the poisoning rate), scanners, robust training, provenance.

:class:`LabelFlip`, :class:`PatchBackdoor`, :class:`TabularBackdoor`,
:class:`CleanLabelBackdoor` and :class:`Subpopulation` poison a training set and return a
:class:`Poisoned` with the ground-truth mask; :func:`run` trains a training function on clean
and poisoned data and measures what the poison did. :func:`scan` scores every training
row with the scanners (:class:`Scanner`), ranks them and, with a simulation's mask, measures
each scanner's precision and recall; :func:`quarantine` writes the rows to remove. The
modules behind these names are imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.poison.attacks import (CATALOG, CleanLabelBackdoor, LabelFlip, PatchBackdoor,
                                         Poisoned, Subpopulation, TabularBackdoor, make)
    from shakeout.poison.influence import influence, tracin
    from shakeout.poison.labels import (ConfidentLearning, KNNLabels, OutOfFoldProbability,
                                        confident_joint)
    from shakeout.poison.plan import PoisonPlan
    from shakeout.poison.provenance import (Diff, Lineage, batch_hash, read_manifest,
                                            row_hashes, since, write_manifest)
    from shakeout.poison.representation import (ActivationClustering, SpectralSignature,
                                                activation_clustering, representations,
                                                spectral_signature)
    from shakeout.poison.robust import (BaggedModel, bagging, certified_radius, quarantined,
                                        trimmed, vote_bounds)
    from shakeout.poison.scan import ScanResult, quarantine, scan
    from shakeout.poison.scan_plan import ScanPlan
    from shakeout.poison.scanners import (IsolationForestScanner, LOFScanner, RobustMahalanobis,
                                          RobustZScore, Scanner, TukeyIQR)
    from shakeout.poison.simulate import run

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.poison.{module}" for module, names in (
    ("attacks", ("CATALOG", "CleanLabelBackdoor", "LabelFlip", "PatchBackdoor", "Poisoned",
                 "Subpopulation", "TabularBackdoor", "make")),
    ("influence", ("influence", "tracin")),
    ("labels", ("ConfidentLearning", "KNNLabels", "OutOfFoldProbability", "confident_joint")),
    ("plan", ("PoisonPlan",)),
    ("provenance", ("Diff", "Lineage", "batch_hash", "read_manifest", "row_hashes", "since",
                    "write_manifest")),
    ("representation", ("ActivationClustering", "SpectralSignature", "activation_clustering",
                        "representations", "spectral_signature")),
    ("robust", ("BaggedModel", "bagging", "certified_radius", "quarantined", "trimmed",
                "vote_bounds")),
    ("scan", ("ScanResult", "quarantine", "scan")),
    ("scan_plan", ("ScanPlan",)),
    ("scanners", ("IsolationForestScanner", "LOFScanner", "RobustMahalanobis", "RobustZScore",
                  "Scanner", "TukeyIQR")),
    ("simulate", ("run",)))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["CATALOG", "ActivationClustering", "BaggedModel", "CleanLabelBackdoor",
           "ConfidentLearning", "Diff", "IsolationForestScanner", "KNNLabels", "LOFScanner",
           "LabelFlip", "Lineage", "OutOfFoldProbability", "PatchBackdoor", "PoisonPlan",
           "Poisoned", "RobustMahalanobis", "RobustZScore", "ScanPlan", "ScanResult", "Scanner",
           "SpectralSignature", "Subpopulation", "TabularBackdoor", "TukeyIQR",
           "activation_clustering", "bagging", "batch_hash", "certified_radius",
           "confident_joint", "influence", "make", "quarantine", "quarantined",
           "read_manifest", "representations", "row_hashes", "run", "scan", "since",
           "spectral_signature", "tracin", "trimmed", "vote_bounds", "write_manifest"]
