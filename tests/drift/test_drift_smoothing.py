"""The drift smoothing constant is ``smoothing`` (it was ``eps``, the attack budget's name)."""

import numpy as np
import pandas as pd
import pytest

from shakeout import drift
from shakeout.drift import DriftPlan
from shakeout.errors import ValidationError
from shakeout.plan import load_plan


def _unseen():
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    cur = pd.DataFrame({"c": ["a"] * 450 + ["b"] * 450 + ["new"] * 100})
    return ref, cur


def test_a_plan_that_still_says_eps_gets_one_line_naming_smoothing(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("drift:\n  eps: 0.001\n")
    with pytest.raises(ValidationError) as info:
        load_plan(path)
    message = str(info.value)
    assert "\n" not in message
    assert message == ("plan file 'plan.yaml' is invalid: drift: eps is now called smoothing "
                       "(eps means the attack budget); write smoothing: 0.001.")
    path.write_text("drift:\n  smoothing: 0.001\n")
    assert load_plan(path).drift.smoothing == 0.001


def test_smoothing_reaches_every_binned_distance_from_the_plan():
    ref, cur = _unseen()
    options = DriftPlan.model_validate({"smoothing": 1e-3, "multivariate": [],
                                        "categorical_tests": ["psi", "kl"]}).suite_options()
    smoothed = drift.run(ref, cur, **options)
    default = drift.run(ref, cur, **(options | {"smoothing": 1e-8}))
    for group in ("psi", "kl"):
        f, g = smoothed.select(group=group)[0], default.select(group=group)[0]
        assert f.details["smoothing"] == 1e-3 and g.details["smoothing"] == 1e-8
        assert f.value < g.value  # a larger share for the unseen bin: a smaller log ratio
    psi = drift.PSI(smoothing=1e-3).fit(ref["c"]).compare(cur["c"])
    assert psi.value == smoothed.select(group="psi")[0].value
    # a and b: 0.5 -> 0.45 each; the unseen bin: 1e-3 (smoothed) -> 0.1
    expected = 2 * (0.45 - 0.5) * np.log(0.45 / 0.5) + (0.1 - 1e-3) * np.log(0.1 / 1e-3)
    assert psi.value == pytest.approx(expected, rel=1e-12)
    assert smoothed.manifest.parameters["smoothing"] == 1e-3


def test_the_default_is_unchanged():
    assert drift.PSI().smoothing == drift.KLDivergence().smoothing == 1e-8
    assert DriftPlan().smoothing == drift.DriftSuite().smoothing == 1e-8
