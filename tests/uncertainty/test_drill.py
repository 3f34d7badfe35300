"""The uncertainty drill: its findings, its plan section, ``shakeout uncertainty``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression

from shakeout.errors import ValidationError
from shakeout.report import Result
from shakeout.uncertainty import run

FILES = ("report.html", "results.json", "summary.md", "junit.xml")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    X, y = X[idx] / 16, y[idx]
    return LogisticRegression(max_iter=2000).fit(X[:500], y[:500]), X[500:], y[500:]


def test_the_drill_reports_calibration_selection_and_conformal_sets(digits):
    clf, X, y = digits
    result = run(clf, X, y, n_boot=200, risk=0.1, seed=0)
    metrics = {f.metric for f in result.findings}
    assert {"ece", "accuracy", "selective_risk", "aurc", "guaranteed_risk", "answered",
            "coverage", "set_size"} <= metrics
    assert {f.drill for f in result.findings} == {"uncertainty"}
    assert len({f.name for f in result.findings}) == len(result.findings)
    assert {f.group for f in result.select(metric="aurc")} == {
        "selective/max_probability", "selective/margin", "selective/entropy"}
    scaled = result.select(group="temperature_scaled")[0]
    assert scaled.details["temperature"] > 0 and "After temperature scaling" in scaled.message
    # the guarantee, fitted on the calibration half, holds on the test half here
    for f in result.select(metric="guaranteed_risk"):
        assert f.status == "pass" and f.value <= 0.1
    assert result.manifest.parameters["calibration"] == "split 0.5"
    assert result.manifest.parameters["calibration_rows"] == round(len(y) / 2)


def test_the_drill_is_seeded_and_takes_a_given_calibration_set(digits):
    clf, X, y = digits
    a = run(clf, X[:600], y[:600], X_cal=X[600:], y_cal=y[600:], n_boot=100, seed=1,
            scores=["entropy"])
    b = run(clf, X[:600], y[:600], X_cal=X[600:], y_cal=y[600:], n_boot=100, seed=1,
            scores=["entropy"])
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
    assert a.manifest.parameters["calibration"] == "given"
    assert a.manifest.n_rows == 600


def test_a_regressor_gets_conformal_intervals_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=400)
    result = run(LinearRegression().fit(X, y), X, y, seed=0)
    assert {f.metric for f in result.findings} == {"coverage", "interval_width"}


def test_the_drill_refuses_bad_input(digits):
    clf, X, y = digits
    with pytest.raises(ValidationError, match="the uncertainty drill needs labels"):
        run(clf, X, None)
    with pytest.raises(ValidationError, match="pass both X_cal and y_cal"):
        run(clf, X, y, X_cal=X)
    with pytest.raises(ValidationError, match="scores must be among"):
        run(clf, X, y, scores=["variance"])
    with pytest.raises(ValidationError, match="leave 1 for calibration and 3 for testing"):
        run(clf, X[:4], y[:4], calibration_share=0.3)


@pytest.fixture
def files(tmp_path: Path, digits):
    clf, X, y = digits
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(clf))
    np.savez(tmp_path / "test.npz", X=X[:600], y=y[:600])
    np.savez(tmp_path / "cal.npz", X=X[600:], y=y[600:])
    return model, tmp_path / "test.npz", tmp_path / "cal.npz"


def test_the_command_writes_every_file_and_takes_its_flags(cli, files, tmp_path):
    model, data, cal = files
    out = tmp_path / "out"
    code, err = cli("uncertainty", model, data, "--calibration", cal, "--alpha", "0.2",
                    "--risk", "0.1", "--trust-pickle", "--out", out, "--quiet")
    assert code == 0, err
    assert all((out / name).is_file() for name in FILES)
    result = Result.load(out / "results.json")
    assert result.manifest.parameters["alpha"] == 0.2
    assert result.manifest.parameters["calibration"] == "given"
    assert result.select(metric="coverage")[0].details["alpha"] == 0.2
    assert "<svg" in (out / "report.html").read_text()


def test_plan_gates_on_the_ece_decide_the_exit_code(cli, files, tmp_path):
    model, data, cal = files
    for bound, want in ((0.5, 0), (0.001, 1)):
        plan = tmp_path / "plan.yaml"
        plan.write_text(yaml.safe_dump({
            "uncertainty": {"calibration": str(cal), "n_boot": 100},
            "gates": [{"metric": "ece", "group": "calibration", "max": bound}]}))
        code, err = cli("uncertainty", model, data, "--plan", plan, "--trust-pickle",
                        "--out", tmp_path / f"o{bound}", "--quiet")
        assert code == want, err


@pytest.mark.parametrize("args, message", [
    (["--alpha", "1.5"], "the uncertainty command line is invalid: alpha: Input should be "
                         "less than 1"),
    (["--risk", "0"], "risk: Input should be greater than 0"),
    (["--mc-dropout", "20"], "mc_dropout needs a torch model"),
], ids=["alpha", "risk", "mc-dropout"])
def test_bad_input_exits_2(cli, files, tmp_path, args, message):
    model, data, cal = files
    code, err = cli("uncertainty", model, data, "--calibration", cal, *args, "--trust-pickle",
                    "--out", tmp_path / "x", "--quiet")
    assert code == 2
    assert message in err


def test_mc_dropout_passes_add_the_risk_coverage_of_the_mutual_information():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(16, 3))
    for p in net.parameters():
        p.data = torch.randn(p.shape, generator=gen)
    X = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    with torch.no_grad():
        y = net.eval()(torch.from_numpy(X)).argmax(dim=1).numpy()
    result = run(net, X, y, n_boot=50, mc_dropout=20, seed=0)
    found = result.select(group="selective/mc_dropout")
    assert [f.metric for f in found][-1] == "aurc" and len(found) == 11
    assert result.manifest.parameters["mc_dropout"] == 20


def test_a_threshold_that_answers_no_test_row_is_not_measured_and_not_a_pass(digits):
    """All-zero test images get one low confidence, below every threshold fitted on clean
    calibration rows: the guaranteed risk on 0 answered rows must not read as 0 risk, pass."""
    from shakeout.report import readable
    from shakeout.report.sections import sections

    clf, X, y = digits
    zeros = np.zeros((30, X.shape[1]))
    result = run(clf, zeros, y[:30], X_cal=X, y_cal=y, n_boot=100, seed=0,
                 scores=["max_probability"])
    risk = result.select(metric="guaranteed_risk")[0]
    assert result.select(metric="answered")[0].value == 0
    assert np.isnan(risk.value) and risk.status == "warn"
    assert "answers none of the 30 test rows" in risk.message
    (section,) = sections(result)
    assert risk in section.attention
    assert readable.figure(risk).startswith(
        "guaranteed risk, rejection by the max-probability score: not measured (The rule max "
        "probability >= ")


def test_the_summary_states_coverage_set_size_ece_and_the_worst_guaranteed_risk(digits):
    """A score whose threshold happens to make no error (risk 0) is the best, not the figure
    that speaks for the section: the summary gives the largest risk of the scores."""
    from dataclasses import replace

    from shakeout.report.sections import sections
    from shakeout.uncertainty.drill import SCORE_WORDS

    clf, X, y = digits
    result = run(clf, X, y, n_boot=100, risk=0.1, seed=0)
    risks = result.select(metric="guaranteed_risk")
    worst = max(risks, key=lambda f: f.value)
    assert min(f.value for f in risks) < worst.value
    # nothing needs attention (this model's ECE warns): the headline figures speak
    calm = replace(result, findings=tuple(replace(f, status="pass") for f in result.findings))
    (section,) = sections(calm)
    parts = section.summary.split("; ")
    assert [p.split(":")[0] for p in parts[:3]] == [
        "conformal coverage", "conformal set size", "calibration error (ECE)"]
    score = SCORE_WORDS[worst.group.partition("/")[2]]
    assert parts[-1].startswith(f"guaranteed risk, rejection by {score}: {worst.value:.4g}")


def test_the_reliability_chart_draws_the_diagonal_and_the_rows_of_each_bin(digits):
    from shakeout.report.html import render_html

    clf, X, y = digits
    result = run(clf, X, y, n_boot=100, seed=0, scores=["max_probability"])
    rows = [f.details["rows"] for f in result.select(group="reliability")]
    html = render_html(result)
    assert "dashed line y = x: perfect calibration" in html
    assert f"point area grows with rows: {min(rows):,} to {max(rows):,}" in html
    # the curves are headed by what they show: their x axis is not a severity
    assert "Reliability and risk against coverage" in html
    assert "Metrics against severity" not in html
