"""Every public test, detector, interval and metric has joined the calibration suite.

Each calibration module names what it calibrates in ``CALIBRATES``. A new drift test or
streaming detector (found by walking the public classes), a new public function of
``shakeout.stats`` or a new stress metric fails this test until a calibration test names it.
"""

import importlib
import inspect
import pkgutil

import calibration
import shakeout.drift as drift
import shakeout.stats as stats
from shakeout.drift._base import DriftTest
from shakeout.drift.streaming import StreamDetector
from shakeout.stress.metrics import METRICS

NOT_STATISTICS = {
    "METHODS": "the names of the multiple-testing corrections",
    "BootstrapPlan": "a plan of resample indices; the intervals built on it are calibrated",
    "effect_label": "a label from thresholds, not an estimate",
    "p_floor": "the smallest p-value B resamples can give, 1/(B+1): arithmetic, not an estimate",
}


def calibrated() -> set[str]:
    names: set[str] = set()
    for info in pkgutil.iter_modules(calibration.__path__):
        if info.name.startswith("test_") and info.name != "test_registry":
            module = importlib.import_module(f"calibration.{info.name}")
            names |= set(getattr(module, "CALIBRATES", ()))
    return names


def required() -> set[str]:
    public = [getattr(drift, name) for name in drift.__all__]
    tests = {c.__name__ for c in public
             if inspect.isclass(c) and issubclass(c, (DriftTest, StreamDetector))}
    functions = {name for name in stats.__all__ if name not in NOT_STATISTICS}
    return tests | functions | {"decide"} | {f"metric:{m}" for m in METRICS}


def test_every_test_interval_and_metric_is_calibrated():
    missing = required() - calibrated()
    assert not missing, (
        f"not in any calibration module's CALIBRATES: {sorted(missing)}. Add a calibration "
        "test (null size in its binomial band, coverage, or agreement with scipy/scikit-learn) "
        "under tests/calibration/ and name it there.")


def test_calibrates_names_only_what_exists():
    stale = calibrated() - required() - {"auc_interval", "stress intervals"}
    assert not stale, f"CALIBRATES names things that no longer exist: {sorted(stale)}"
