"""``compare`` marks a paired-bootstrap p-value at its floor 1/(B+1) as the sweep does."""

from __future__ import annotations

import pytest

from shakeout.stress import compare


@pytest.fixture(scope="module")
def versions():
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    deep = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    return deep, stump, X, y


def test_a_change_whose_bootstrap_p_is_at_the_floor_says_so(versions):
    result = compare(*versions, metrics=["accuracy", "log_loss"], n_bootstrap=50)
    loss = result.select(metric="log_loss_change")[0]
    assert loss.details["test"].startswith("paired bootstrap")
    assert loss.p_value == pytest.approx(1 / 51)
    assert loss.details["p_at_floor"] is True and loss.details["p_floor"] == pytest.approx(1 / 51)
    assert loss.message == ("new model significantly worse (large effect); p at the bootstrap "
                            "floor 1/(B+1) = 0.02: raise n_bootstrap for a smaller p")
    exact = result.select(metric="accuracy_change")[0]  # exact McNemar: no floor
    assert "p_at_floor" not in exact.details and "floor" not in exact.message


def test_more_resamples_lower_the_floor_and_a_p_above_it_is_not_marked(versions):
    deep, _, X, y = versions
    same = compare(deep, deep, X, y, metrics=["log_loss"], n_bootstrap=50)
    assert "p_at_floor" not in same.select(metric="log_loss_change")[0].details
    more = compare(*versions, metrics=["log_loss"], n_bootstrap=400)
    assert more.select(metric="log_loss_change")[0].p_value == pytest.approx(1 / 401)
