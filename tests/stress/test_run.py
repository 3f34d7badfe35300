"""The stress drill end to end: known answers, determinism, tables, regression, batching."""

import numpy as np
import pandas as pd
import pytest

from shakeout import ValidationError, wrap
from shakeout.perturb import FeatureShift, GaussianNoise
from shakeout.stress import Sweep, compare, run


def threshold_model():
    """Predicts class 1 when x0 > 0.5, with confidence growing with the distance."""
    def proba(X):
        p = 1 / (1 + np.exp(-20 * (np.asarray(X)[:, 0] - 0.5)))
        return np.column_stack([1 - p, p])
    return wrap(proba, task="classification")


def grid_data(n=1000):
    x0 = (np.arange(n) + 0.5) / n
    X = np.column_stack([x0, np.zeros(n)])
    X[-1, 0], X[0, 0] = 1.0, 0.0  # the feature's range is exactly 1
    return X, (X[:, 0] > 0.5).astype(int)


def test_known_accuracy_drop_from_a_feature_shift():
    X, y = grid_data()
    result = run(threshold_model(), X, y, sweeps=[Sweep(FeatureShift(features=[0]), (0, 0.15))],
                 sensitivity=False, n_bootstrap=300, seed=0)
    drop = result.select(metric="accuracy_drop")[0]
    # Rows with x0 in (0.35, 0.5] cross the threshold: exactly 150 of 1000.
    assert drop.value == pytest.approx(0.15)
    assert drop.ci[0] < 0.15 < drop.ci[1]
    assert drop.p_value < 1e-20 and drop.status == "warn" and drop.effect == "large"
    flips = result.select(metric="flip_rate")[0]
    assert flips.value == pytest.approx(0.15)
    clean = [f for f in result.select(metric="accuracy") if f.severity == 0][0]
    assert clean.value == 1.0


def test_same_seed_same_numbers_and_another_seed_differs():
    X, y = grid_data(400)
    sweeps = lambda: [Sweep(GaussianNoise(), (0, 0.2, 0.5))]  # noqa: E731
    a = run(threshold_model(), X, y, sweeps=sweeps(), n_bootstrap=100, seed=5)
    b = run(threshold_model(), X, y, sweeps=sweeps(), n_bootstrap=100, seed=5)
    c = run(threshold_model(), X, y, sweeps=sweeps(), n_bootstrap=100, seed=6)
    values = lambda r: [(f.name, f.value, f.ci, f.p_value) for f in r.findings]  # noqa: E731
    assert values(a) == values(b)
    assert values(a) != values(c)


def test_p_values_are_holm_adjusted_across_the_grid():
    X, y = grid_data(400)
    result = run(threshold_model(), X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.05, 0.1, 0.2))],
                 n_bootstrap=100, sensitivity=False, seed=0)
    drops = result.select(metric="accuracy_drop")
    assert all(f.p_value >= f.details["p_raw"] for f in drops)
    smallest = min(drops, key=lambda f: f.details["p_raw"])
    assert smallest.p_value == pytest.approx(min(1.0, 3 * smallest.details["p_raw"]))


def test_robustness_score_is_one_without_degradation_and_lower_with_it():
    X, y = grid_data(400)
    result = run(threshold_model(), X, y, n_bootstrap=100, sensitivity=False, seed=0,
                 sweeps=[Sweep(GaussianNoise(), (0, 1e-9), "tiny"),
                         Sweep(FeatureShift(features=[0]), (0, 0.1, 0.2), "shift")])
    scores = {f.group: f for f in result.select(metric="robustness_score")}
    assert scores["tiny"].value == pytest.approx(1.0)
    assert scores["shift"].value < 0.95
    assert scores["shift"].ci[0] <= scores["shift"].value <= scores["shift"].ci[1]


def test_regression_model_on_diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(X, y)
    result = run(model, X, y, n_bootstrap=200, seed=0)
    assert {f.metric for f in result.findings} >= {"mae", "rmse", "mae_drop", "rmse_drop",
                                                    "robustness_score", "sobol_st",
                                                    "feature_sensitivity"}
    assert not result.select(metric="flip_rate")
    strong = run(model, X, y, sweeps=[Sweep(GaussianNoise(), (0, 2.0))], sensitivity=False,
                 n_bootstrap=1000, seed=0).select(metric="rmse_drop")[0]
    assert strong.ci[0] > 0 and strong.status == "warn"


def test_table_with_categorical_columns_gets_category_swaps():
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "green", "blue"], 300)})
    y = ((X["colour"] == "red") ^ (X["x"] > 1)).astype(int).to_numpy()
    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
                         LogisticRegression()).fit(X, y)
    result = run(pipe, X, y, n_bootstrap=100, seed=0)
    swaps = result.select(group="category_swap", metric="accuracy_drop")
    assert swaps and swaps[-1].value > 0.05 and swaps[-1].status == "warn"
    ranked = sorted(result.select(metric="feature_sensitivity"), key=lambda f: f.details["rank"])
    assert ranked[0].feature == "colour"


def test_memory_is_bounded_by_the_batch():
    X, y = grid_data(1000)
    seen = []

    def proba(X):
        seen.append(len(X))
        p = np.clip(np.asarray(X)[:, 0], 0, 1)
        return np.column_stack([1 - p, p])

    run(wrap(proba, task="classification"), X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1))],
        batch_size=128, n_bootstrap=50, sensitivity=False, seed=0)
    assert max(seen) <= 128


def test_large_data_uses_bounded_bootstrap_with_honest_width():
    rng = np.random.default_rng(0)
    X = rng.random((40_000, 2))
    y = (X[:, 0] > 0.5).astype(int)
    result = run(threshold_model(), X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.3))],
                 n_bootstrap=200, max_bootstrap_rows=2000, sensitivity=False, seed=0)
    drop = result.select(metric="accuracy_drop")[0]
    # The paired standard error of an accuracy drop near 0.1 at n = 40,000 is about 0.0015.
    assert 0.002 < drop.ci[1] - drop.ci[0] < 0.012


def test_torch_model_on_images_with_model_side_perturbations():
    torch = pytest.importorskip("torch")
    from shakeout.perturb import ActiveDropout, WeightNoise

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(200, 1, 6, 6, generator=gen).numpy()
    y = (X.mean(axis=(1, 2, 3)) > 0.5).astype(int)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 16), torch.nn.ReLU(),
                              torch.nn.Dropout(0.1), torch.nn.Linear(16, 2))
    result = run(net, X, y, n_bootstrap=50, seed=0,
                 sweeps=[Sweep(WeightNoise(), (0, 0.5)), Sweep(ActiveDropout(), (0, 0.5))])
    assert {f.group for f in result.select(metric="flip_rate")} == {"weight_noise", "active_dropout"}
    assert all(f.value > 0 for f in result.select(metric="mean_abs_change"))
    assert result.select(metric="morris_mu_star")  # images get Morris over pixels


def test_bad_arguments_and_labels_get_clear_errors():
    X, y = grid_data(50)
    with pytest.raises(ValidationError, match="n_bootstrap"):
        run(threshold_model(), X, y, n_bootstrap=1)
    with pytest.raises(ValidationError, match="correction"):
        run(threshold_model(), X, y, correction="fdr")
    with pytest.raises(ValidationError, match="labels must be class indices 0..1"):
        run(threshold_model(), X, y + 5, sensitivity=False)
    with pytest.raises(ValidationError, match="unique"):
        run(threshold_model(), X, y, sweeps=[Sweep(GaussianNoise(), (0, 1)), Sweep(GaussianNoise(), (0, 2))])
    with pytest.raises(ValidationError, match="needs labels"):
        run(threshold_model(), X, None)
    with pytest.raises(ValidationError, match="unknown metric"):
        run(threshold_model(), X, y, metrics=["accuracy", "r2"])
    with pytest.raises(ValidationError, match="for regression"):
        run(threshold_model(), X, y, metrics=["mae"])


def test_compare_identical_and_different_models():
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    deep = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    same = compare(deep, deep, X, y, n_bootstrap=100)
    assert same.select(metric="agreement")[0].value == 1.0
    assert same.select(metric="accuracy_change")[0].p_value == 1.0
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    diff = compare(deep, stump, X, y, n_bootstrap=100)
    change = diff.select(metric="accuracy_change")[0]
    expected = (deep.predict(X) == y).mean() - (stump.predict(X) == y).mean()
    assert change.value == pytest.approx(expected) and change.status == "warn"
    assert diff.select(metric="flip_rate")[0].value == pytest.approx((deep.predict(X) != stump.predict(X)).mean())


def test_robustness_score_runs_on_numpy_1_26_without_trapezoid(monkeypatch):
    """numpy >= 1.26 is the declared floor; numpy.trapezoid exists only from 2.0."""
    monkeypatch.delattr(np, "trapezoid", raising=False)
    X, y = grid_data(400)
    result = run(threshold_model(), X, y, n_bootstrap=100, sensitivity=False, seed=0,
                 sweeps=[Sweep(FeatureShift(features=[0]), (0, 0.1, 0.3))])
    score = result.select(metric="robustness_score")[0]
    curve = sorted((f.severity, f.value) for f in result.select(metric="accuracy"))
    sev, acc = np.array(curve).T
    rel = acc / acc[0]
    by_hand = sum((rel[i] + rel[i + 1]) / 2 * (sev[i + 1] - sev[i])
                  for i in range(len(sev) - 1)) / (sev[-1] - sev[0])
    assert score.value == pytest.approx(by_hand)


def test_bootstrap_p_at_its_floor_is_marked_and_more_resamples_lower_it():
    X, y = grid_data(400)
    sweeps = lambda: [Sweep(FeatureShift(features=[0]), (0, 0.15))]  # noqa: E731
    for n_bootstrap in (100, 400):
        result = run(threshold_model(), X, y, sweeps=sweeps(), n_bootstrap=n_bootstrap,
                     sensitivity=False, seed=0)
        f1 = result.select(metric="macro_f1_drop")[0]
        assert f1.details["p_raw"] == pytest.approx(1 / (n_bootstrap + 1))
        assert f1.details["p_at_floor"] is True
        assert "bootstrap floor" in f1.message and "n_bootstrap" in f1.message
        exact = result.select(metric="accuracy_drop")[0]  # exact McNemar: no floor
        assert "p_at_floor" not in exact.details and "floor" not in exact.message


def improving_model_data(n=600):
    """Clean predictions are wrong in the band 0.3 < x0 < 0.7 (60% accuracy); noise on x0
    mostly flips the rows near the threshold, which are the wrong ones: accuracy rises."""
    X, _ = grid_data(n)
    x0 = X[:, 0]
    y = np.where((x0 > 0.3) & (x0 < 0.7), x0 <= 0.5, x0 > 0.5).astype(int)
    return X, y


def test_robustness_score_above_one_says_the_metric_improved():
    X, y = improving_model_data()
    result = run(threshold_model(), X, y, n_bootstrap=200, sensitivity=False, seed=0,
                 sweeps=[Sweep(GaussianNoise(relative=False), (0, 0.1, 0.2))])
    score = result.select(metric="robustness_score")[0]
    assert score.value > 1 and score.ci[0] > 1
    assert "above 1" in score.message and "improved" in score.message
    assert score.details["improved"] is True
    degraded = run(threshold_model(), *grid_data(400), n_bootstrap=100, sensitivity=False,
                   seed=0, sweeps=[Sweep(FeatureShift(features=[0]), (0, 0.1, 0.2))])
    below = degraded.select(metric="robustness_score")[0]
    assert below.value < 1 and "above 1" not in below.message


def test_robustness_score_above_one_within_noise_says_so():
    X, _ = grid_data(400)
    y = np.random.default_rng(3).integers(0, 2, 400)  # labels unrelated: any change is noise
    scores = [run(threshold_model(), X, y, n_bootstrap=200, sensitivity=False, seed=seed,
                  sweeps=[Sweep(GaussianNoise(relative=False), (0, 0.05))]
                  ).select(metric="robustness_score")[0] for seed in range(6)]
    above = [s for s in scores if s.value > 1]
    assert above, "some seed puts the score above 1"
    for s in above:
        assert s.ci[0] <= 1 <= s.ci[1]
        assert "within noise" in s.message and s.details["improved"] is False
