"""Every public test, detector, interval and metric has joined the calibration suite.

Each calibration module names what it calibrates in ``CALIBRATES``. A new drift test or
streaming detector (found by walking the public classes), a new public function of
``shakeout.stats``, a new stress metric, or a new public name of ``shakeout.uncertainty``,
``shakeout.certify``, ``shakeout.faults`` or ``shakeout.poison`` fails this test until a
calibration test names it (or, for a name that is no statistic, ``NOT_STATISTICS`` says why).

The statistical tests of the uncertainty, certify, faults and poison pillars live beside
their other tests (``tests/uncertainty``, ``tests/certify``, ``tests/faults``,
``tests/poison``); their ``CALIBRATES`` is read from the source there, without importing them
(they load torch and fixtures).
"""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import calibration
import shakeout.certify as certify
import shakeout.drift as drift
import shakeout.faults as faults
import shakeout.poison as poison
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
    # shakeout.faults
    "OUTCOMES": "the names of an injection's outcomes (masked, SDC, critical SDC, DUE)",
    "Fault": "one fault: where it strikes and what it writes",
    "FaultsPlan": "the plan section's settings",
    "Injector": "writes faults into a model and puts back exactly what was there",
    "Population": "numbers every single fault; its size is the N the calibrated "
                  "leveugle_sample_size and hypergeometric_interval take",
    "Protection": "a mitigation: masks the faults it covers; its effect is measured by "
                  "stats' paired interval and McNemar test (calibrated)",
    "RangeRestriction": "a mitigation: clips layer values to their fault-free range",
    "RedundantExecution": "a mitigation: turns an output that differs into a detected error",
    "Site": "one place a fault can strike: name, dtype, size",
    "caught": "a drill: the drift suite's calibrated decision searched over windows by "
              "rows_to_alert",
    "find_sites": "lists where faults can strike in a model",
    "injected": "a context manager around Injector",
    "load_golden": "file I/O: reads a golden set",
    "parity": "exact signatures of preprocessing skew on paired rows, within a tolerance: "
              "no sampling, no estimate",
    "read_events": "file I/O: reads an event log",
    "replay": "a fixed-input reproducibility check: today's outputs against stored ones "
              "within a tolerance, no sampling",
    "rows_to_alert": "a search (doubling, then bisection) for the smallest alerting window "
                     "of a caller's alert function",
    "save_golden": "file I/O: writes a golden set",
    # shakeout.poison
    "CATALOG": "the poisoning attacks by name",
    "BaggedModel": "a majority-vote ensemble; its certify() reads vote_bounds and "
                   "certified_radius (calibrated)",
    "CleanLabelBackdoor": "an attack generator (poisons a training set to test with)",
    "Diff": "a container of the rows since() found added, removed or changed",
    "LabelFlip": "an attack generator",
    "Lineage": "a container of a provenance manifest",
    "PatchBackdoor": "an attack generator",
    "PoisonPlan": "the plan section's settings",
    "Poisoned": "a container of a poisoned training set and its ground-truth mask",
    "ScanPlan": "the plan section's settings",
    "ScanResult": "a container: scan's Result and its per-row table",
    "Scanner": "the protocol every scanner follows",
    "Subpopulation": "an attack generator",
    "TabularBackdoor": "an attack generator",
    "bagging": "a training-function builder: bags a user's fit into a BaggedModel",
    "batch_hash": "hashing: one digest of a batch's row digests",
    "make": "builds an attack from its name",
    "quarantine": "file I/O: writes the rows scan removed",
    "quarantined": "a training-function builder: retrains without a scanner's top rows",
    "read_manifest": "file I/O: reads a provenance manifest",
    "representations": "reads a layer's activations from a torch model",
    "row_hashes": "hashing: one digest per row",
    "since": "hashing: the rows added, removed or changed since a manifest",
    "trimmed": "a training-function builder: trimmed-loss training of a torch module",
    "write_manifest": "file I/O: writes a provenance manifest",
    # every pillar: uncertainty, certify, faults, poison
    "run": "a drill: composes the calibrated statistics of its pillar",
}
PILLARS = (uncertainty, certify, faults, poison)
"""Packages whose every public name is a statistic unless NOT_STATISTICS says otherwise."""
PILLAR_TESTS = ("uncertainty", "certify", "faults", "poison")
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
        "under tests/calibration/ (or beside its pillar's tests, for uncertainty, certify, "
        "faults and poison) and name it there; a name that is no statistic goes in "
        "NOT_STATISTICS with a reason.")


def test_calibrates_names_only_what_exists():
    stale = calibrated() - required() - set(ALSO_CALIBRATED)
    assert not stale, f"CALIBRATES names things that no longer exist: {sorted(stale)}"


def test_the_pillars_statistics_are_walked():
    """The walk reaches the uncertainty, certify, faults and poison statistics, and the tests
    beside them."""
    assert {"calibration", "ConformalClassifier", "guaranteed_threshold", "aurc",
            "delong_interval", "certify", "predict", "hypergeometric_interval",
            "leveugle_sample_size", "change_point", "vote_bounds", "certified_radius",
            "confident_joint"} <= required()
    assert {"ece", "guaranteed_threshold", "certify", "hypergeometric_interval",
            "change_point", "vote_bounds", "ConfidentLearning"} <= calibrated()
    assert not {"Selective", "run", "Certificates", "Population", "LabelFlip",
                "row_hashes"} & required()


def test_not_statistics_names_only_what_exists():
    """A reason kept for a name no package exports any more would hide its return."""
    public = {name for p in (stats, *PILLARS) for name in p.__all__}
    assert set(NOT_STATISTICS) <= public, sorted(set(NOT_STATISTICS) - public)


def test_only_the_drills_run_is_shared_between_packages():
    """CALIBRATES and NOT_STATISTICS judge bare names, so a name two walked packages export
    would be judged once for both; today only ``run`` is shared, a drill in each."""
    packages = (stats, drift, *PILLARS)
    shared = {name for i, p in enumerate(packages) for q in packages[i + 1:]
              for name in set(p.__all__) & set(q.__all__)}
    assert shared == {"run"}, f"names exported by two packages: {sorted(shared - {'run'})}"
