"""Outcomes of one injection: the worst over the inputs, DUE for NaN/inf or a raised pass."""

from __future__ import annotations

import numpy as np

from shakeout.faults.outcomes import OUTCOMES, counts, is_sdc, judge

CLEAN = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 1.0, 5.0]])
TOP = CLEAN.argmax(1)
LABELS = np.array([0, 0, 2])  # input 1 is wrong before any fault


def test_each_outcome_by_definition():
    assert OUTCOMES[judge(TOP, LABELS, CLEAN, CLEAN).code] == "masked"
    wrong_to_other = CLEAN.copy()
    wrong_to_other[1] = [0.0, 0.0, 4.0]  # a wrong input changes: SDC, not critical
    o = judge(TOP, LABELS, wrong_to_other, CLEAN)
    assert OUTCOMES[o.code] == "sdc" and o.changed == 1 / 3
    right_to_wrong = CLEAN.copy()
    right_to_wrong[0] = [0.0, 9.0, 0.0]
    assert OUTCOMES[judge(TOP, LABELS, right_to_wrong, CLEAN).code] == "critical_sdc"


def test_worst_outcome_wins_and_due_for_nan_inf_or_an_exception():
    both = CLEAN.copy()
    both[0] = [0.0, 9.0, 0.0]
    both[2, 2] = np.nan
    assert OUTCOMES[judge(TOP, LABELS, both, CLEAN).code] == "due"
    inf = CLEAN.copy()
    inf[1, 0] = np.inf
    assert OUTCOMES[judge(TOP, LABELS, inf).code] == "due"
    assert OUTCOMES[judge(TOP, LABELS, None).code] == "due"


def test_differs_sees_changes_that_keep_the_top_class():
    nudged = CLEAN + 1e-3
    o = judge(TOP, LABELS, nudged, CLEAN)
    assert OUTCOMES[o.code] == "masked" and o.differs and o.changed == 0.0


def test_counts_put_critical_sdcs_among_sdcs():
    codes = np.array([0, 0, 1, 2, 2, 3])
    assert counts(codes) == {"sdc": 3, "critical_sdc": 2, "due": 1, "masked": 2}
    assert is_sdc(codes).sum() == 3
