"""Every public test, detector, interval and metric has joined the calibration suite.

Each calibration module names what it calibrates in ``CALIBRATES``. A new drift test or
streaming detector (found by walking the public classes), a new public function of
``shakeout.stats``, a new stress metric, or a new public name of ``shakeout.uncertainty`` or
``shakeout.certify`` fails this test until a calibration test names it (or, for a name that
is no statistic, ``NOT_STATISTICS`` says why).

The statistical tests of the uncertainty and certify pillars live beside their other tests
(``tests/uncertainty``, ``tests/certify``); their ``CALIBRATES`` is read from the source
there, without importing them (they load torch and fixtures).
"""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import calibration
import shakeout.certify as certify
import shakeout.drift as drift
import shakeout.stats as stats
import shakeout.uncertainty as uncertainty
from shakeout.drift._base import DriftTest
from shakeout.drift.streaming import StreamDetector
from shakeout.stress.metrics import METRICS

NOT_STATISTICS = {
    "METHODS": "the names of the multiple-testing corrections",
    "BootstrapPlan": "a plan of resample indices; the intervals built on it are calibrated",
    "effect_label": "a label from thresholds, not an estimate",
    "p_floor": "the smallest p-value B resamples can give, 1/(B+1): arithmetic, not an estimate",
    # shakeout.uncertainty
    "Decomposition": "a container of per-row scores (total, aleatoric, epistemic)",
    "Guarantee": "a container of what guaranteed_threshold found",
    "Selective": "a wrapper that answers at guaranteed_threshold's threshold (calibrated)",
    "min_calibration_size": "arithmetic: the smallest n with ceil((n+1)(1-alpha)) <= n",
    # shakeout.certify
    "Certificates": "a container of certify's per-input answers",
    "CertifyPlan": "the plan section's settings",
    # both
    "run": "a drill: composes the calibrated statistics of its pillar",
}
PILLARS = (uncertainty, certify)
"""Packages whose every public name is a statistic unless NOT_STATISTICS says otherwise."""
PILLAR_TESTS = ("uncertainty", "certify")
"""Test folders beside tests/calibration whose modules may name what they calibrate."""
ALSO_CALIBRATED = {
    "auc_interval": "the classifier drift test's AUC interval (private)",
    "stress intervals": "the stress drill's intervals, end to end",
    "exchangeability_p": "the exact test behind coverage_findings' verdict (private)",
}
"""Names a CALIBRATES may hold that no public name requires."""


def _named(tree: ast.Module) -> set[str]:
    """The literal ``CALIBRATES = (...)`` of a module's source, or nothing."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CALIBRATES" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def calibrated() -> set[str]:
    names: set[str] = set()
    for info in pkgutil.iter_modules(calibration.__path__):
        if info.name.startswith("test_") and info.name != "test_registry":
            module = importlib.import_module(f"calibration.{info.name}")
            names |= set(getattr(module, "CALIBRATES", ()))
    tests = Path(calibration.__file__).parents[1]
    for folder in PILLAR_TESTS:
        for path in sorted((tests / folder).glob("test_*.py")):
            names |= _named(ast.parse(path.read_text(encoding="utf-8")))
    return names


def required() -> set[str]:
    public = [getattr(drift, name) for name in drift.__all__]
    tests = {c.__name__ for c in public
             if inspect.isclass(c) and issubclass(c, (DriftTest, StreamDetector))}
    functions = {name for name in stats.__all__ if name not in NOT_STATISTICS}
    pillars = {name for p in PILLARS for name in p.__all__ if name not in NOT_STATISTICS}
    return tests | functions | pillars | {"decide"} | {f"metric:{m}" for m in METRICS}


def test_every_test_interval_and_metric_is_calibrated():
    missing = required() - calibrated()
    assert not missing, (
        f"not in any calibration module's CALIBRATES: {sorted(missing)}. Add a calibration "
        "test (null size in its binomial band, coverage, or agreement with scipy/scikit-learn) "
        "under tests/calibration/ (or beside its pillar's tests, for uncertainty and certify) "
        "and name it there; a name that is no statistic goes in NOT_STATISTICS with a reason.")


def test_calibrates_names_only_what_exists():
    stale = calibrated() - required() - set(ALSO_CALIBRATED)
    assert not stale, f"CALIBRATES names things that no longer exist: {sorted(stale)}"


def test_the_pillars_statistics_are_walked():
    """The walk reaches the uncertainty and certify statistics, and the tests beside them."""
    assert {"calibration", "ConformalClassifier", "guaranteed_threshold", "aurc",
            "delong_interval", "certify", "predict"} <= required()
    assert {"ece", "guaranteed_threshold", "certify"} <= calibrated()
    assert not {"Selective", "run", "Certificates"} & required()
