"""``stress.run(metrics=...)`` takes Metric objects beside names, validated like names."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shakeout import stress
from shakeout.errors import ValidationError
from shakeout.perturb import GaussianNoise
from shakeout.stress import Sweep
from shakeout.stress.metrics import METRICS, Metric, get_metrics, row_mean


def _wrong(y, out, pred=None):
    return (out.argmax(axis=1) != y).astype(np.float64)[:, None]


ERROR_RATE = Metric("error_rate", "classification", False, _wrong, row_mean,
                    "share of wrong predictions")


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[::2], y[::2])
    return clf, X[1::2], y[1::2]


def _values(result, metric):
    return {f.severity: f.value for f in result.findings if f.metric == metric}


def test_a_metric_object_runs_beside_names_and_its_points_match(data):
    clf, X, y = data
    result = stress.run(clf, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.5, 1.0))],
                        metrics=["accuracy", ERROR_RATE], n_bootstrap=100, repeats=2,
                        sensitivity=False, seed=0)
    acc, err = _values(result, "accuracy"), _values(result, "error_rate")
    assert sorted(err) == [0.0, 0.5, 1.0]
    for sev in err:
        assert err[sev] == pytest.approx(1 - acc[sev], abs=1e-12)
    drops = {f.severity: f for f in result.findings if f.metric == "error_rate_drop"}
    assert drops[1.0].value == pytest.approx(err[1.0] - err[0.0], abs=1e-12)  # lower is better
    assert drops[1.0].ci[0] <= drops[1.0].value <= drops[1.0].ci[1]
    assert result.manifest.parameters["metrics"] == ["accuracy", "error_rate"]


def test_the_first_metric_object_is_the_primary_one(data):
    clf, X, y = data
    result = stress.run(clf, X, y, sweeps=[Sweep(GaussianNoise(), (0, 1.0))],
                        metrics=[ERROR_RATE], n_bootstrap=100, repeats=1, sensitivity=False)
    (score,) = [f for f in result.findings if f.metric == "robustness_score"]
    assert score.details["metric"] == "error_rate"


@pytest.mark.parametrize("metrics, match", [
    ([3], r"metric names or Metric objects, got int 3"),
    (["accuracy", METRICS["mae"]], r"metric 'mae' is for regression, but the model is a "
                                   r"classification model"),
    (["accuracy", "acuracy"], r"unknown metric 'acuracy'.*or a shakeout.stress.metrics.Metric"),
    (["accuracy", METRICS["accuracy"]], r"name 'accuracy' 2 times.*dataclasses.replace"),
    ([replace(ERROR_RATE, name="flip_rate")], r"name 'flip_rate' is taken"),
    (["accuracy", replace(ERROR_RATE, name="accuracy_drop")], r"'accuracy_drop' is taken"),
    ([replace(METRICS["ece"], proportion=True)],
     r"proportion=True, which needs the mean of one per-row 0/1 column"),
    ("accuracy", r"metrics must be a list, got 'accuracy' alone; pass \['accuracy'\]"),
    (ERROR_RATE, r"must be a list, got Metric 'error_rate' alone"),
    ([], r"at least one metric"),
])
def test_bad_metrics_are_refused_naming_what_is_wrong(metrics, match):
    with pytest.raises(ValidationError, match=match):
        get_metrics(metrics, "classification")


def test_stress_run_refuses_a_regression_metric_object_on_a_classifier(data):
    clf, X, y = data
    with pytest.raises(ValidationError, match=r"metric 'rmse' is for regression"):
        stress.run(clf, X, y, metrics=["accuracy", METRICS["rmse"]], sensitivity=False)


def test_names_resolve_to_the_registered_metrics_in_order():
    chosen = get_metrics(["ece", METRICS["accuracy"], "log_loss"], "classification")
    assert chosen == [METRICS["ece"], METRICS["accuracy"], METRICS["log_loss"]]
    assert get_metrics(None, "classification")[0] is METRICS["accuracy"]


def test_a_significant_improvement_under_a_perturbation_passes_as_one():
    """A negative drop (the metric got better) that is significant is not a degradation."""
    from shakeout.report.result import Finding
    from shakeout.stress.sweep import _judge

    better = Finding(name="stress/noise/set_size_drop@0.3", metric="set_size_drop",
                     value=-0.024, p_value=0.001, effect="small",
                     details={"correction": "holm"})
    worse = Finding(name="stress/noise/accuracy_drop@0.3", metric="accuracy_drop",
                    value=0.05, p_value=0.001, effect="small", details={"correction": "holm"})
    assert (_judge(better, 0.05).status, _judge(better, 0.05).message) == (
        "pass", "significant small improvement")
    assert (_judge(worse, 0.05).status, _judge(worse, 0.05).message) == (
        "warn", "significant small degradation")
