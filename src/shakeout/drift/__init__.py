"""Drift: has production data moved away from the reference, how much, does it matter, what to do.

Tests compare one feature (``KSTest``, ``ADTest``, ``Chi2Test``) or all features at once
(``MMDTest``, ``ClassifierTest``, ``ProjectionTest``); distances measure how far (``PSI``,
``KLDivergence``, ``JSDivergence``, ``Wasserstein``); ``UnitChange`` names a feature that
arrives multiplied by a power of ten. ``run`` applies them to a table, with
multiple-testing control, output, label and performance drift, and ends with a decision.
``ProfileSpec`` / ``Profile`` compare data larger than memory; ``ADWIN``, ``PageHinkley``
and ``DDM`` watch streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.data.parquet import sample_parquet
    from shakeout.drift.anderson import ADTest
    from shakeout.drift.chi2 import Chi2Test
    from shakeout.drift.classifier import ClassifierTest
    from shakeout.drift.decision import ACTIONS, DecisionPolicy, decide
    from shakeout.drift.importance import feature_importance
    from shakeout.drift.js import JSDivergence
    from shakeout.drift.kl import KLDivergence
    from shakeout.drift.ks import KSTest
    from shakeout.drift.mmd import MMDTest
    from shakeout.drift.plan import DriftPlan
    from shakeout.drift.profile import Profile, ProfileSpec, compare_profiles
    from shakeout.drift.projection import ProjectionTest
    from shakeout.drift.psi import PSI
    from shakeout.drift.run import run
    from shakeout.drift.streaming import ADWIN, DDM, PageHinkley
    from shakeout.drift.suite import DriftSuite
    from shakeout.drift.units import UnitChange
    from shakeout.drift.wasserstein import Wasserstein

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.drift.{module}" for module, names in (
    ("anderson", ("ADTest",)),
    ("chi2", ("Chi2Test",)),
    ("classifier", ("ClassifierTest",)),
    ("decision", ("ACTIONS", "DecisionPolicy", "decide")),
    ("importance", ("feature_importance",)),
    ("js", ("JSDivergence",)),
    ("kl", ("KLDivergence",)),
    ("ks", ("KSTest",)),
    ("mmd", ("MMDTest",)),
    ("plan", ("DriftPlan",)),
    ("profile", ("Profile", "ProfileSpec", "compare_profiles")),
    ("projection", ("ProjectionTest",)),
    ("psi", ("PSI",)),
    ("run", ("run",)),
    ("streaming", ("ADWIN", "DDM", "PageHinkley")),
    ("suite", ("DriftSuite",)),
    ("units", ("UnitChange",)),
    ("wasserstein", ("Wasserstein",)))
    for name in names} | {"sample_parquet": "shakeout.data.parquet"}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["ACTIONS", "ADTest", "ADWIN", "Chi2Test", "ClassifierTest", "DDM", "DecisionPolicy",
           "DriftPlan", "DriftSuite", "JSDivergence", "KLDivergence", "KSTest", "MMDTest", "PSI",
           "PageHinkley", "Profile", "ProfileSpec", "ProjectionTest", "UnitChange", "Wasserstein",
           "compare_profiles", "decide", "feature_importance", "run", "sample_parquet"]
