"""Mitigations on the same faults: range restriction lowers the SDC rate of a digits CNN under
activation bit flips; protection masks exactly what it covers."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import NotFittedError, ValidationError
from shakeout.faults import Protection, RangeRestriction, run
from shakeout.faults.mitigations import resolve
from shakeout.models import wrap

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cnn():
    from shakeout.demo import digits_cnn

    t = digits_cnn(epochs=2)
    return t.model, t.X_test[:48], t.y_test[:48]


def test_range_restriction_lowers_sdc_under_activation_flips(cnn):
    net, X, y = cnn
    result = run(net, X, y, where="activation", bits=[30], margin=0.1, confidence=0.95,
                 exhaustive_max=100, mitigations=("range_restriction",), seed=0)
    change = result.select(metric="sdc_rate_change", group="range_restriction")[0]
    before = result.select(metric="sdc_rate", group="campaign")[0]
    after = result.select(metric="sdc_rate", group="range_restriction")[0]
    assert before.details["injections"] == after.details["injections"]  # the same faults
    assert after.value < before.value
    assert change.ci[1] < 0 and change.ci_level == 0.95  # the paired interval excludes 0
    assert change.details["time_overhead"] > -1


def test_range_restriction_keeps_fault_free_outputs_and_needs_fit(cnn):
    net, X, _ = cnn
    model = wrap(net)
    clean = model.predict_proba(X)
    rr = RangeRestriction().fit(model, X)
    with rr.installed(model):
        assert np.array_equal(model.predict_proba(X), clean)
    assert not any(m._forward_pre_hooks for m in net.modules())
    with pytest.raises(NotFittedError, match="call fit"):
        with RangeRestriction().installed(model):
            pass


def test_protection_masks_exactly_the_protected_faults(cnn):
    net, X, y = cnn
    result = run(net, X, y, bits=[22, 30], layers=["0.weight"],
                 mitigations=(Protection(bits=[30]),), seed=0, n_critical=1000)
    critical = result.select(group="critical")
    unprotected_sdc = sum(f.details["outcome"] in ("sdc", "critical_sdc")
                          for f in critical if f.details["bit"] != 30)
    after = result.select(metric="sdc_rate", group="protection")[0]
    assert after.details["count"] == unprotected_sdc
    assert result.select(metric="sdc_rate_change", group="protection")[0].details[
        "protected_share"] == 1 / 32


def test_unknown_or_repeated_mitigations_are_refused():
    with pytest.raises(ValidationError, match="unknown mitigation 'ecc'; choose from"):
        resolve(["ecc"])
    with pytest.raises(ValidationError, match="each mitigation once"):
        resolve(["protection", "protection"])
