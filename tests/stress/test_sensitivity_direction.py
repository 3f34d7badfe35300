"""Per-feature sensitivity: the direction that fails is chosen by failures, not by movement,
and the shift's own effect on the prediction is reported; checked against hand-written loops."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.models import wrap
from shakeout.stress.features import DEFAULT_SHIFT, feature_sensitivity


def threshold_proba(X):
    """P(class 1): 0.499 below 0, and 0.501 + 4 x0 (capped at 1) from 0 up.

    Rows just above 0 flip when x0 goes down (a small change of probability), while going up
    moves their probability a lot without flipping any: movement says up, failures say down.
    """
    x0 = np.asarray(X)[:, 0]
    p = np.where(x0 >= 0, np.minimum(0.501 + 4 * x0, 1.0), 0.499)
    return np.column_stack([1 - p, p])


def threshold_data():
    rng = np.random.default_rng(0)
    x0 = np.r_[rng.uniform(0.0, 0.05, 160), rng.uniform(-1.0, -0.9, 40)]
    X = np.column_stack([x0, rng.normal(size=200)])
    y = threshold_proba(X).argmax(axis=1)
    return X, y


def by_feature(findings):
    return {f.feature: f for f in findings}


def hand_loop(proba, X, y, feature, shift):
    """Flip rate, accuracy and mean |change in P(clean class)| for x +- shift * range, row by row."""
    amount = shift * (X[:, feature].max() - X[:, feature].min())
    out = {}
    for how, sign in (("up", 1), ("down", -1)):
        flips = right = change = 0.0
        for row, label in zip(X, y):
            moved = row.copy()
            moved[feature] += sign * amount
            before, after = proba(row[None])[0], proba(moved[None])[0]
            clean_class = int(np.argmax(before))
            flips += int(np.argmax(after)) != clean_class
            right += int(np.argmax(after)) == label
            change += abs(after[clean_class] - before[clean_class])
        out[how] = (flips / len(X), right / len(X), change / len(X))
    return out


def test_direction_follows_failures_not_probability_movement():
    X, y = threshold_data()
    model = wrap(threshold_proba, task="classification")
    found = by_feature(feature_sensitivity(model, X, y, rng=np.random.default_rng(0)))
    d = found["x0"].details
    loop = hand_loop(threshold_proba, X, y, 0, DEFAULT_SHIFT)
    assert d["flip_rate_shift_up"] == pytest.approx(loop["up"][0])
    assert d["flip_rate_shift_down"] == pytest.approx(loop["down"][0])
    assert d["accuracy_shift_up"] == pytest.approx(loop["up"][1])
    assert d["accuracy_shift_down"] == pytest.approx(loop["down"][1])
    assert d["change_shift_up"] == pytest.approx(loop["up"][2])
    assert d["change_shift_down"] == pytest.approx(loop["down"][2])
    assert d["change_shift"] == pytest.approx((loop["up"][2] + loop["down"][2]) / 2)
    # going up moves the probability four times more, but only going down flips rows
    assert d["change_shift_up"] > 3 * d["change_shift_down"]
    assert d["accuracy_shift_down"] == pytest.approx(0.2) and d["accuracy_shift_up"] == 1.0
    assert d["worst_direction"] == "down"
    assert d["direction_p_value"] < 1e-6
    assert "fails mostly when it goes down" in found["x0"].message
    assert d["shift"] == DEFAULT_SHIFT == 0.1


def test_equal_failures_both_ways_read_alike():
    x0 = np.linspace(-1, 1, 200)  # symmetric around the threshold: a shift flips as many rows
    X = np.column_stack([x0, np.zeros(200)])

    def proba(X):
        p = 1 / (1 + np.exp(-10 * np.asarray(X)[:, 0]))
        return np.column_stack([1 - p, p])

    y = proba(X).argmax(axis=1)
    found = by_feature(feature_sensitivity(wrap(proba, task="classification"), X, y,
                                           rng=np.random.default_rng(0)))
    d = found["x0"].details
    loop = hand_loop(proba, X, y, 0, DEFAULT_SHIFT)
    assert d["accuracy_shift_up"] == pytest.approx(loop["up"][1])
    assert d["accuracy_shift_down"] == pytest.approx(loop["down"][1]) == pytest.approx(
        loop["up"][1])
    assert d["worst_direction"] == "alike"
    assert "fails alike whichever way it moves" in found["x0"].message


def test_regression_direction_by_error_and_shift_size_parameter():
    """A model that underestimates by 1: going up removes the error, going down doubles it,
    while its prediction moves by the same amount both ways."""
    X = np.column_stack([np.linspace(0, 1, 100), np.linspace(1, 0, 100)])

    def predict(X):
        return 10 * np.asarray(X)[:, 0]

    y = predict(X) + 1.0
    model = wrap(predict, task="regression")
    for shift in (0.1, 0.05):
        d = by_feature(feature_sensitivity(model, X, y, shift=shift,
                                           rng=np.random.default_rng(0)))["x0"].details
        moved = 10 * shift * 1.0  # the range of x0 is 1
        assert d["change_shift_up"] == pytest.approx(moved)
        assert d["change_shift_down"] == pytest.approx(moved)
        assert d["abs_error_shift_up"] == pytest.approx(abs(moved - 1))
        assert d["abs_error_shift_down"] == pytest.approx(moved + 1)
        assert d["worst_direction"] == "down"
        assert d["shift"] == shift


def test_shift_must_be_a_fraction_of_the_range():
    X, y = threshold_data()
    model = wrap(threshold_proba, task="classification")
    from shakeout.errors import ValidationError

    with pytest.raises(ValidationError, match=r"shift must be in \(0, 1\]"):
        feature_sensitivity(model, X, y, shift=0.0, rng=np.random.default_rng(0))
