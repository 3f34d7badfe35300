"""``shakeout stress``, ``report`` and ``compare``: exit codes, files and what is printed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from shakeout.report import Result

FILES = ("report.html", "results.json", "summary.md", "junit.xml")


def test_stress_on_a_csv_with_the_default_plan_writes_every_file(cli, entry, iris_csv, tmp_path):
    out = tmp_path / "report"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--out", out)
    assert code == 0, err
    assert all((out / name).is_file() for name in FILES)
    assert "Stress-testing LogisticRegression on iris.csv (150 rows)" in err
    assert f"Report written to {out / 'report.html'}" in err
    result = Result.load(out / "results.json")
    assert result.manifest.data == "iris.csv" and result.manifest.n_rows == 150
    assert result.manifest.seed == 0
    groups = {f.group for f in result.findings}
    assert {"gaussian_noise", "scaling", "feature_shift", "missing_values"} <= groups
    clean = result.select(group="gaussian_noise", metric="accuracy")[0]
    assert clean.severity == 0.0 and clean.value == pytest.approx(0.9733, abs=1e-4)
    ET.parse(out / "junit.xml")
    assert "<svg" in (out / "report.html").read_text()


def test_stress_seed_option_and_quiet(cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan()
    a, b = tmp_path / "a", tmp_path / "b"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", a, "--seed", 7, "--quiet")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("gaussian_noise: accuracy ")
    assert lines[1] == f"Report written to {a / 'report.html'}"
    cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan, "--out", b,
        "--seed", 7, "--quiet")
    ra, rb = Result.load(a / "results.json"), Result.load(b / "results.json")
    assert ra.manifest.seed == 7
    assert [f.to_dict() for f in ra.findings] == [f.to_dict() for f in rb.findings]  # same seed


def test_failing_gate_exits_1_and_prints_the_reason(cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan(gates=[
        {"metric": "accuracy", "group": "gaussian_noise", "severity": 0.1, "min": 0.5},
        {"metric": "accuracy", "group": "gaussian_noise", "severity": 0.5, "min": 0.99}])
    out = tmp_path / "report"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", out, "--quiet")
    assert code == 1
    assert "PASS accuracy [group=gaussian_noise, severity=0.1] >= 0.5" in err
    assert "FAIL accuracy [group=gaussian_noise, severity=0.5] >= 0.99" in err
    assert "stress/gaussian_noise/accuracy@0.5: lower bound" in err and "< 0.99" in err
    data = json.loads((out / "results.json").read_text())
    assert data["gate"]["passed"] is False
    failures = sum(int(s.get("failures")) for s in ET.parse(out / "junit.xml").iter("testsuite")
                   if s.get("name") == "shakeout.gate")
    assert failures == 1
    assert "**Gate failed**" in (out / "summary.md").read_text()


def test_passing_gate_exits_0(cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan(gates=[{"metric": "accuracy_drop", "group": "gaussian_noise",
                              "severity": 0.1, "max": 0.5}])
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert "PASS accuracy_drop [group=gaussian_noise, severity=0.1] <= 0.5" in err
    assert json.loads((tmp_path / "r" / "results.json").read_text())["gate"]["passed"] is True


def test_gate_with_a_typo_fails_instead_of_passing_silently(cli, entry, iris_csv, tmp_path,
                                                            write_plan):
    plan = write_plan(gates=[{"metric": "accuracy", "group": "gausian_noise", "min": 0.1}])
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "r", "--quiet")
    assert code == 1
    assert "no finding matches this condition" in err


def test_stress_on_npz_with_an_array_model(cli, entry, iris_frame, tmp_path, write_plan):
    path = tmp_path / "iris.npz"
    np.savez(path, X=iris_frame.drop(columns=["target"]).to_numpy(),
             y=iris_frame["target"].to_numpy())
    code, err = cli("stress", f"{entry}:array_model", path, "--plan", write_plan(), "--out",
                    tmp_path / "r", "--quiet")
    assert code == 0, err


def test_trusted_pickle_is_accepted(cli, entry, iris_csv, tmp_path, write_plan):
    import importlib

    import joblib

    joblib.dump(importlib.import_module(entry).model, tmp_path / "model.joblib")
    code, err = cli("stress", tmp_path / "model.joblib", iris_csv, "--target", "target",
                    "--plan", write_plan(), "--out", tmp_path / "r", "--quiet", "--trust-pickle")
    assert code == 0, err


def test_report_rerenders_a_saved_result(cli, entry, iris_csv, tmp_path, write_plan):
    first = tmp_path / "first"
    cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", write_plan(),
        "--out", first, "--quiet")
    again = tmp_path / "again"
    code, err = cli("report", first / "results.json", "--out", again, "--quiet")
    assert code == 0, err
    assert all((again / name).is_file() for name in FILES)
    assert Result.load(again / "results.json").findings == Result.load(
        first / "results.json").findings
    # ...and re-judges gates from a plan given now
    strict = write_plan(gates=[{"metric": "accuracy", "group": "gaussian_noise",
                                "severity": 0.5, "min": 0.999}], name="strict.yaml")
    code, err = cli("report", first / "results.json", "--out", tmp_path / "judged", "--plan",
                    strict, "--quiet")
    assert code == 1
    assert "FAIL accuracy [group=gaussian_noise, severity=0.5] >= 0.999" in err
    # ...and, without a plan, shows the verdict saved in the file instead of "no gate"
    code, err = cli("report", tmp_path / "judged" / "results.json", "--out",
                    tmp_path / "shown", "--quiet")
    assert code == 1
    assert "FAIL accuracy [group=gaussian_noise, severity=0.5] >= 0.999" in err
    shown = json.loads((tmp_path / "shown" / "results.json").read_text())
    assert shown["gate"] == json.loads((tmp_path / "judged" / "results.json").read_text())["gate"]
    assert "No gate" not in (tmp_path / "shown" / "report.html").read_text()


def test_report_of_a_missing_results_file(cli, tmp_path):
    code, err = cli("report", tmp_path / "results.json", "--out", tmp_path / "r")
    assert code == 2
    assert err.strip() == f"error: results file '{tmp_path / 'results.json'}' does not exist."


def test_compare_two_versions(cli, entry, iris_csv, iris_frame, tmp_path, write_plan):
    import importlib

    out = tmp_path / "cmp"
    code, err = cli("compare", f"{entry}:model", f"{entry}:tree", iris_csv, "--target", "target",
                    "--plan", write_plan(), "--out", out, "--quiet")
    assert code == 0, err
    result = Result.load(out / "results.json")
    agreement = result.select(metric="agreement")[0]
    flip = result.select(metric="flip_rate")[0]
    module = importlib.import_module(entry)
    X = iris_frame.drop(columns=["target"])
    expected = float((module.model.predict(X) == module.tree.predict(X)).mean())
    assert agreement.value == pytest.approx(expected)
    assert flip.value == pytest.approx(1 - expected)
    assert agreement.ci[0] <= agreement.value <= agreement.ci[1]
    change = result.select(metric="accuracy_change")[0]
    assert change.value > 0.2 and change.status == "warn"  # a depth-1 tree is much worse
    assert all((out / name).is_file() for name in FILES)


def test_one_row_file_with_a_gate_does_not_pass(cli, entry, iris_frame, tmp_path, write_plan):
    path = tmp_path / "one.csv"
    iris_frame.iloc[[0]].to_csv(path, index=False)
    plan = write_plan(gates=[{"metric": "accuracy_drop", "max": 0.02}])
    code, err = cli("stress", f"{entry}:model", path, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "r", "--quiet")
    assert code == 2
    assert "X has 1 row(s); at least 2 are needed for any interval" in err


def test_few_rows_give_honest_intervals_and_a_failing_gate(cli, entry, iris_frame, tmp_path,
                                                          write_plan):
    """30 rows all classified right: the accuracy drop's interval is not [0, 0]."""
    path = tmp_path / "few.csv"
    iris_frame.iloc[::5].to_csv(path, index=False)
    plan = write_plan(gates=[{"metric": "accuracy_drop", "severity": 0.1, "max": 0.02}])
    code, err = cli("stress", f"{entry}:model", path, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "r", "--quiet")
    assert code == 1, err
    drop = [f for f in Result.load(tmp_path / "r" / "results.json").select(
        metric="accuracy_drop") if f.severity == 0.1][0]
    assert drop.ci[1] - drop.ci[0] > 0.05
    assert drop.ci[0] <= drop.value <= drop.ci[1]


def test_repeats_option_reaches_the_run(cli, entry, iris_csv, tmp_path, write_plan):
    out = tmp_path / "r"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan",
                    write_plan(), "--out", out, "--quiet", "--repeats", 3)
    assert code == 0, err
    result = Result.load(out / "results.json")
    assert result.manifest.parameters["repeats"] == 3
    assert result.select(metric="accuracy_drop")[0].details["draws"] == 3


def test_n_bootstrap_and_sensitivity_shift_reach_the_run(cli, entry, iris_csv, tmp_path,
                                                         write_plan):
    out = tmp_path / "r"
    plan = write_plan(sensitivity_shift=0.25)
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", out, "--quiet", "--n-bootstrap", 200)
    assert code == 0, err
    parameters = Result.load(out / "results.json").manifest.parameters
    assert parameters["n_bootstrap"] == 200 and parameters["sensitivity_shift"] == 0.25


def table_rows(err: str) -> dict[tuple[str, float], tuple[float, ...]]:
    """``(perturbation, severity) -> (value, low, high[, score, low, high])`` read back from
    the printed table; the perturbation is named on its first row only."""
    number = r"(-?\d+\.\d{3})"
    pair = rf"{number} \[{number}, {number}\]"
    rows, label = {}, None
    for line in err.splitlines():
        m = re.match(rf"^\s*([A-Za-z_]\S*)?\s+(\d+(?:\.\d+)?)\s+{pair}(?:\s+{pair})?\s*$", line)
        if m:
            label = m.group(1) or label
            rows[(label, float(m.group(2)))] = tuple(float(v) for v in m.groups()[2:] if v)
    return rows


def test_stress_prints_the_headline_metric_and_robustness_as_in_results_json(
        cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan(perturbations=[
        {"name": "gaussian_noise", "severities": [0, 0.1, 0.5]},
        {"name": "scaling", "severities": [0, 0.2]}])
    out = tmp_path / "r"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", out)
    assert code == 0, err
    assert "accuracy [95% CI]" in err and "robustness [95% CI]" in err
    result = Result.load(out / "results.json")
    expected = {}
    for f in result.select(metric="accuracy"):
        expected[(f.group, f.severity)] = (f.value, *f.ci)
    for f in result.select(metric="robustness_score"):
        first = min(s for g, s in expected if g == f.group)
        expected[(f.group, first)] += (f.value, *f.ci)
    assert len(expected) == 5
    assert table_rows(err) == {k: tuple(round(v, 3) for v in vals)
                               for k, vals in expected.items()}


def test_quiet_stress_prints_one_line_per_perturbation_at_its_worst_level(
        cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan(perturbations=[{"name": "gaussian_noise", "severities": [0, 0.1, 1.0]}])
    out = tmp_path / "r"
    code, err = cli("stress", f"{entry}:model", iris_csv, "--target", "target", "--plan", plan,
                    "--out", out, "--quiet")
    assert code == 0, err
    result = Result.load(out / "results.json")
    worst = min(result.select(metric="accuracy"), key=lambda f: f.value)
    score = result.select(metric="robustness_score")[0]
    assert worst.severity == 1.0
    assert err.splitlines()[0] == (
        f"gaussian_noise: accuracy {worst.value:.3f} [{worst.ci[0]:.3f}, {worst.ci[1]:.3f}] "
        f"at worst (severity 1); robustness {score.value:.3f} [{score.ci[0]:.3f}, "
        f"{score.ci[1]:.3f}]")


def test_compare_prints_each_figure_as_in_results_json(cli, entry, iris_csv, tmp_path,
                                                      write_plan):
    out = tmp_path / "cmp"
    code, err = cli("compare", f"{entry}:model", f"{entry}:tree", iris_csv, "--target",
                    "target", "--plan", write_plan(), "--out", out)
    assert code == 0, err
    lines = err.splitlines()
    for f in Result.load(out / "results.json").findings:
        text = f"{f.value:.3f}" + ("" if f.ci is None else f" [{f.ci[0]:.3f}, {f.ci[1]:.3f}]")
        assert any(line.split()[:1] == [f.metric] and text in line for line in lines), f.metric


def test_the_stress_command_module_imports_no_library_at_the_top():
    """``shakeout --help`` must not pay for pandas, pydantic or jinja2 through this module."""
    import ast
    from pathlib import Path

    import shakeout.stress.cli as module

    allowed = {"__future__", "typing", "typer", "rich", "shakeout.cli._app", "shakeout.errors"}
    names = []
    for node in ast.parse(Path(module.__file__).read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module)
    heavy = [n for n in names if n not in allowed and n.split(".")[0] not in allowed]
    assert names and not heavy


@pytest.mark.parametrize(("args", "heavy"), [
    (["--help"], ("pandas", "pydantic", "jinja2")),
    # typer (>= 0.29) itself imports pydantic to coerce a command's parameters
    (["stress", "--help"], ("pandas", "jinja2")),
    (["compare", "--help"], ("pandas", "jinja2"))])
def test_help_loads_no_heavy_library(args, heavy):
    import subprocess
    import sys

    code = (f"import sys\nfrom shakeout.cli import main\nmain({args!r})\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"
