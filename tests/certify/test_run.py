"""The certify drill: findings on a linear model, gates on the interval, the report's curve."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.certify import run
from shakeout.data import Dataset
from shakeout.drills import get
from shakeout.errors import ValidationError
from shakeout.report.gate import Gate, GateCondition
from shakeout.stats import clopper_pearson, median_interval

from .conftest import linear

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def line():
    """A one-feature threshold at 0 and 60 points on both sides of it."""
    X = np.linspace(-1.5, 1.5, 60, dtype=np.float32)[:, None]
    y = np.where(X[:, 0] > 0, "yes", "no")
    net = linear(np.array([1.0]), 0.0)
    from shakeout.models import wrap

    return wrap(net, classes=["no", "yes"]), X, y


@pytest.fixture(scope="module")
def result(line):
    model, X, y = line
    return run(model, X, y, sigma=0.5, n=5_000, radii=[0, 0.25, 0.5, 1.0], seed=0)


def test_certified_accuracy_is_the_share_certified_correct_with_its_exact_interval(result, line):
    _, X, y = line
    inputs = result.select(metric="abstention_rate")[0].details["inputs"]
    radius = np.array(inputs["radius"])
    correct = np.array(inputs["prediction"], dtype=object) == y
    found = result.select(metric="certified_accuracy")
    assert [f.severity for f in found] == [0, 0.25, 0.5, 1.0]
    for f in found:
        k = int(np.sum(correct & (radius >= f.severity)))
        assert f.value == k / len(y) and f.ci == clopper_pearson(k, len(y), 0.95)
        # a certificate never reaches beyond the true distance |x|, so neither does the curve
        assert f.value <= np.mean(np.abs(X[:, 0]) >= f.severity)
    assert found[0].value >= 0.9 and found[-1].value > 0.2
    assert found[0].unit == "l2 radius, input units (Gaussian noise, sigma=0.5)"


def test_the_median_radius_credits_wrong_answers_and_abstentions_with_zero(result, line):
    _, _, y = line
    inputs = result.select(metric="abstention_rate")[0].details["inputs"]
    credited = np.where(np.array(inputs["prediction"], dtype=object) == y,
                        np.array(inputs["radius"]), 0.0)
    f = result.select(metric="median_certified_radius")[0]
    assert f.value == np.median(credited) and f.ci == median_interval(credited, 0.95)


def test_abstentions_are_counted_and_each_input_is_reported(result, line):
    _, X, y = line
    f = result.select(metric="abstention_rate")[0]
    inputs = f.details["inputs"]
    abstained = sum(p is None for p in inputs["prediction"])
    assert f.value == abstained / len(X) and abstained >= 1  # the two points nearest 0
    assert inputs["label"] == y.tolist()
    assert {p for p in inputs["prediction"] if p is not None} == {"no", "yes"}
    assert all(r == 0 for r, p in zip(inputs["radius"], inputs["prediction"]) if p is None)


def test_the_soundness_check_passes_and_is_reported(result):
    f = result.select(metric="broken_certificates")[0]
    assert f.status == "pass" and f.value == 0 and f.details["attacked"] >= 50


def test_a_gate_on_certified_accuracy_judges_the_lower_bound(result):
    at = result.select(metric="certified_accuracy", severity=0.5)[0]
    between = (at.ci[0] + at.value) / 2  # above the lower bound, below the estimate
    passing = Gate(conditions=[GateCondition(metric="certified_accuracy", severity=0.5,
                                             min=at.ci[0] - 0.01)])
    failing = Gate(conditions=[GateCondition(metric="certified_accuracy", severity=0.5,
                                             min=between)])
    assert passing.check(result).passed and not failing.check(result).passed


def test_the_report_charts_certified_accuracy_against_radius(result):
    from shakeout.report.html import render_html
    from shakeout.report.sections import sections

    section = sections(result)[0]
    assert section.title == "Certified robustness"
    assert {f.metric for f in section.headline} == {"certified_accuracy",
                                                      "median_certified_radius"}
    assert any("Gaussian noise" in note for note in section.notes)
    html = render_html(result)
    assert "Certified accuracy against the radius" in html and "Metrics against severity" not in html


def test_the_report_words_say_norm_radius_units_noise_and_alpha(result):
    """Not "certified accuracy under smoothed, l2 radius, input units = 0.5": a reader cold to
    smoothing reads the norm, the units, the noise and the certificate's error rate."""
    from shakeout.certify.findings import findings
    from shakeout.certify.smoothing import Certificates
    from shakeout.report import readable
    from shakeout.report.sections import sections

    setting = ("(input units; Gaussian noise, sigma 0.5; 5,000 noisy passes per input; each "
               "certificate wrong with probability at most 0.001)")
    at = result.select(metric="certified_accuracy", severity=0.5)[0]
    assert readable.describe(at) == f"certified accuracy at L2 radius 0.5 {setting}"
    assert sections(result)[0].summary.startswith("certified accuracy at L2 radius 1 (input ")
    median = result.select(metric="median_certified_radius")[0]
    assert readable.describe(median) == f"median certified L2 radius {setting}"
    # the noisy passes per input are named when the drill passes them
    cert = Certificates(np.zeros(2, int), np.full(2, 0.9), np.full(2, 0.3), "l1", 0.5, True,
                        0.01)
    f = findings(cert, np.zeros(2, int), np.array(["a", "a"]), np.array(["a"]), (0.25,), 0.95,
                 n=10_000)[0]
    assert readable.describe(f) == (
        "certified accuracy at L1 radius 0.25 (standardized units (each feature / its std); "
        "uniform noise on [-0.5, 0.5] per value; 10,000 noisy passes per input; each "
        "certificate wrong with probability at most 0.01)")


def test_the_same_seed_gives_the_same_result(line):
    model, X, y = line
    a = run(model, X[::6], y[::6], sigma=0.5, n=1_000, sanity=False, seed=3)
    b = run(model, X[::6], y[::6], sigma=0.5, n=1_000, sanity=False, seed=3)
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


def test_default_radii_are_multiples_of_sigma(line):
    model, X, y = line
    result = run(model, X[::10], y[::10], sigma=0.2, norm="l1", n=200, sanity=False, seed=0)
    radii = [f.severity for f in result.select(metric="certified_accuracy")]
    assert np.allclose(radii, [0, 0.05, 0.1, 0.15, 0.2])
    assert result.manifest.parameters["noise"].startswith("l1 radius, input units (uniform")


@pytest.mark.parametrize("kwargs, match", [
    ({"y": np.zeros(3)}, "y must be one label per row of X"),
    ({"radii": [0.5, 0.25]}, "radii must be strictly increasing"),
    ({"radii": [-0.1]}, "radii must be in"),
    ({"sigma": 0.0}, r"sigma must be in \(0, inf\]"),
    ({"n0": 10, "n": 5}, "n0 .* must be at most n"),
    ({"level": 1.0}, r"level must be in \(0, 1\)"),
    ({"sanity_n": 0}, "sanity_n must be"),
])
def test_bad_settings_are_refused(line, kwargs, match):
    model, X, y = line
    settings = {"y": y, "sigma": 0.5, "n": 100, **kwargs}
    with pytest.raises(ValidationError, match=match):
        run(model, X, settings.pop("y"), **settings)


def test_the_drill_needs_labels(line):
    model, X, _ = line
    section = get("certify").runner()
    from shakeout.certify.plan import CertifyPlan

    with pytest.raises(ValidationError, match="certified accuracy needs labels"):
        section(model, Dataset(X=X, name="unlabelled"), CertifyPlan(n=100), seed=0, quiet=True)


def test_a_predicted_class_that_no_label_holds_is_reported():
    """Three outputs, labels of two classes only: inputs the model gives class 2 still show
    their prediction (and count as wrong)."""
    net = torch.nn.Linear(1, 3)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-1.0], [0.0], [1.0]]))
        net.bias.zero_()
    X = np.array([[-2.0], [2.0]], np.float32)
    result = run(net, X, np.array([0, 1]), sigma=0.25, n=500, radii=[0], sanity=False, seed=0)
    assert result.select(metric="abstention_rate")[0].details["inputs"]["prediction"] == [0, 2]
    assert result.select(metric="certified_accuracy")[0].value == 0.5
