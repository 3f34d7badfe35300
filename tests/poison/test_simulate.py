"""The poison drill: point estimates equal scikit-learn's and scipy's, the drop's interval
covers, label flips cost a logistic model accuracy with rate, a backdoor shows in the attack
success rate, slices, trials, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from shakeout.errors import ValidationError
from shakeout.poison import LabelFlip, Subpopulation, TabularBackdoor, run
from shakeout.poison.simulate import _drop

LOGISTIC = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def logistic(X, y):
    return clone(LOGISTIC).fit(X, y)


def tree(X, y):
    return DecisionTreeClassifier(random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def split(cancer):
    X, y = cancer.drop(columns="target"), cancer["target"].to_numpy()
    return X.iloc[::2], y[::2], X.iloc[1::2], y[1::2]


def test_clean_accuracy_and_its_interval_equal_scikit_learn_and_scipy(split):
    X, y, X_test, y_test = split
    result = run(logistic, X, y, X_test, y_test, rates=(0, 0.2), seed=0)
    f = result.select(metric="clean_accuracy", severity=0)[0]
    expected = accuracy_score(y_test, logistic(X, y).predict(X_test))
    assert f.value == expected and f.drill == "poison" and f.group == "label_flip"
    k = f.details["correct"]
    exact = stats.binomtest(k, len(y_test)).proportion_ci(0.95, method="exact")
    assert f.ci == pytest.approx((exact.low, exact.high), abs=1e-12)
    poisoned = LabelFlip().apply(X, y, 0.2, seed=np.random.default_rng(0).spawn(2)[1])
    after = result.select(metric="clean_accuracy", severity=0.2)[0]
    assert after.value == accuracy_score(y_test, logistic(poisoned.X, poisoned.y).predict(X_test))
    assert after.details["poisoned_rows"] == round(0.2 * len(y))


def test_the_drop_is_paired_on_the_same_rows_with_the_exact_mcnemar_p_value(split):
    X, y, X_test, y_test = split
    result = run(logistic, X, y, X_test, y_test, rates=(0, 0.3), seed=1)
    before = result.select(metric="clean_accuracy", severity=0)[0]
    after = result.select(metric="clean_accuracy", severity=0.3)[0]
    drop = result.select(metric="accuracy_drop")[0]
    assert drop.value == pytest.approx(before.value - after.value, abs=1e-12)
    lost, gained = drop.details["lost"], drop.details["gained"]
    assert (lost - gained) / len(y_test) == pytest.approx(drop.value, abs=1e-12)
    assert drop.p_value == pytest.approx(stats.binomtest(lost, lost + gained).pvalue)
    assert drop.ci[0] <= drop.value <= drop.ci[1] and drop.effect is not None


def test_the_drop_interval_covers_the_true_difference_at_its_level():
    rng = np.random.default_rng(0)
    n, trials, p_before, p_after = 200, 1000, 0.9, 0.8
    covered = 0
    for _ in range(trials):  # correlated pairs: P(both right) = 0.75
        u = rng.uniform(size=n)
        before, after = u < p_before, (u < 0.75) | ((u >= p_before) & (u < p_before + 0.05))
        f = _drop("a", None, before, after, 0.95, {"severity": 0.1}, {})
        covered += f.ci[0] <= p_before - p_after <= f.ci[1]
    assert 926 <= covered <= 971  # the 99.9% binomial band around 950 of 1000


def test_label_flips_lower_a_logistic_models_accuracy_with_the_rate(split):
    X, y, X_test, y_test = split
    rates = (0, 0.1, 0.2, 0.3, 0.4)
    result = run(logistic, X, y, X_test, y_test, rates=rates, seed=0)
    acc = [result.select(metric="clean_accuracy", severity=r)[0] for r in rates]
    for a, b in zip(acc, acc[1:]):  # never clearly better at a higher rate
        assert b.value <= a.ci[1]
    assert acc[-1].ci[1] < acc[0].ci[0]  # clearly worse at 40% than clean
    worst = result.select(metric="accuracy_drop", severity=0.4)[0]
    assert worst.status == "warn" and worst.p_value < 0.05 and worst.ci[0] > 0


def test_a_tabular_backdoor_shows_in_the_attack_success_rate(split):
    X, y, X_test, y_test = split
    attack = TabularBackdoor(target=1, features=["worst radius"])
    result = run(tree, X, y, X_test, y_test, attacks=[attack], rates=(0, 0.1), seed=0)
    floor = result.select(metric="attack_success_rate", severity=0)[0]
    hit = result.select(metric="attack_success_rate", severity=0.1)[0]
    assert hit.details["rows"] == np.sum(y_test != 1) == floor.details["rows"]
    assert hit.ci[0] > floor.ci[1] and hit.status == "fail" and hit.value > 0.9
    headline = [f for f in result.findings if f.severity is None]
    assert {(f.metric, f.details["rate"]) for f in headline} == {
        ("clean_accuracy", 0.1), ("attack_success_rate", 0.1)}
    assert result.select(metric="attack_success_rate", severity=0.1)[0].value == next(
        f.value for f in headline if f.metric == "attack_success_rate")


def test_slices_default_to_classes_and_a_region_attack_adds_its_region(split):
    X, y, X_test, y_test = split
    attack = Subpopulation(feature="mean radius", low=15.0, target=1)
    result = run(logistic, X, y, X_test, y_test, attacks={"big": attack}, rates=(0.1,), seed=0)
    cuts = {f.feature: f for f in result.select(metric="slice_accuracy", group="big")}
    assert set(cuts) == {"y=0", "y=1", "region"}
    region = X_test["mean radius"].to_numpy() >= 15.0
    assert cuts["region"].details["rows"] == region.sum()
    assert cuts["y=0"].details["rows"] == np.sum(y_test == 0)
    custom = run(logistic, X, y, X_test, y_test, rates=(0.1,), seed=0,
                 slices={"big tumours": region})
    assert {f.feature for f in custom.select(metric="slice_accuracy")} == {"big tumours"}
    with pytest.raises(ValidationError, match="slice 'x' must be a boolean mask over the"):
        run(logistic, X, y, X_test, y_test, slices={"x": np.ones(3)})


def test_trials_draw_other_rows_and_the_same_seed_gives_the_same_findings(split):
    X, y, X_test, y_test = split
    result = run(logistic, X, y, X_test, y_test, rates=(0.2,), trials=2, seed=3)
    names = [f.name for f in result.select(metric="clean_accuracy", severity=0.2)]
    assert names == ["poison/label_flip/trial0/clean_accuracy@0.2",
                     "poison/label_flip/trial1/clean_accuracy@0.2"]
    again = run(logistic, X, y, X_test, y_test, rates=(0.2,), trials=2, seed=3)
    assert [f.to_dict() for f in result.findings] == [f.to_dict() for f in again.findings]
    assert result.manifest.parameters["rates"] == [0.2]


def test_a_torch_training_function_returning_a_training_is_judged():
    torch = pytest.importorskip("torch")
    from shakeout.models.training import train

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def fit(X, y):
        return train(torch.nn.Linear(2, 2), X, y, epochs=5, lr=0.1, validation=0, seed=0)

    result = run(fit, X[:200], y[:200], X[200:], y[200:], rates=(0, 0.1), seed=0)
    assert result.select(metric="clean_accuracy", severity=0)[0].value > 0.9


def test_bad_input_is_refused_with_the_fix(split):
    X, y, X_test, y_test = split
    with pytest.raises(ValidationError, match="rates are shares of the training rows, each "
                                              "below 1"):
        run(logistic, X, y, X_test, y_test, rates=(0, 1.0))
    with pytest.raises(ValidationError, match="rates must be strictly increasing"):
        run(logistic, X, y, X_test, y_test, rates=(0.1, 0))
    with pytest.raises(ValidationError, match="train must be a function train"):
        run("model.pkl", X, y, X_test, y_test)
    with pytest.raises(ValidationError, match="no poisoning attack is called 'flip'"):
        run(logistic, X, y, X_test, y_test, attacks=["flip"])
    with pytest.raises(ValidationError, match=r"y_test must be one label per row"):
        run(logistic, X, y, X_test, y_test[:5])

    def broken(X, y):
        raise RuntimeError("out of memory")

    with pytest.raises(ValidationError, match=r"the training function .*broken failed on the "
                                              r"unpoisoned data with RuntimeError: out of memory"):
        run(broken, X, y, X_test, y_test)
