"""``shakeout poison``: the report files, flags over the plan, a gate from a plan file (exit
1), bad input (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shakeout.report import Result

MODULE = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

def fit(X, y):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)

not_a_function = 3
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cancer):
    """A training function module:function and breast cancer split into two csv files."""
    (tmp_path / "poison_cli_train.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    cancer.iloc[::2].to_csv(train, index=False)
    cancer.iloc[1::2].to_csv(test, index=False)
    return "poison_cli_train:fit", train, test


def _plan(tmp_path: Path, gates: list[dict] | None = None, **poison) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"seed": 2, "poison": poison, "gates": gates or []}))
    return path


def test_poison_writes_the_report_with_the_flags_settings(cli, files, tmp_path):
    fn, train, test = files
    out = tmp_path / "out"
    code, err = cli("poison", fn, train, test, "--target", "target", "--attack", "label_flip",
                    "--rates", "0,0.1", "--out", out, "--quiet")
    assert code == 0, err
    result = Result.load(out / "results.json")
    assert result.manifest.parameters["rates"] == [0.0, 0.1]
    assert [f.severity for f in result.select(metric="clean_accuracy")] == [0.0, 0.1, None]
    assert result.select(metric="accuracy_drop", severity=0.1)
    assert "Poisoning" in (out / "report.html").read_text()
    assert {p.name for p in out.iterdir()} >= {"report.html", "results.json", "summary.md",
                                               "junit.xml"}


def test_the_plan_sets_an_attacks_parameters_and_its_gate_fails_the_build(cli, files, tmp_path):
    fn, train, test = files
    gate = [{"metric": "attack_success_rate", "drill": "poison", "severity": 0.1, "max": 0.5}]
    plan = _plan(tmp_path, gate, attacks=["tabular_backdoor"], rates=[0, 0.1],
                 params={"tabular_backdoor": {"target": 1, "features": ["worst radius"]}})
    code, err = cli("poison", fn, train, test, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "a", "--quiet")
    result = Result.load(tmp_path / "a" / "results.json")
    success = result.select(metric="attack_success_rate", severity=0.1)[0]
    assert result.manifest.seed == 2
    assert (code == 1) == (success.ci[1] > 0.5), err  # judged on the upper bound
    assert code == 1 and "FAIL attack_success_rate" in err


@pytest.mark.parametrize("args, message", [
    (("--rates", "0,1.5"), "rates.1: Input should be less than 1, got 1.5 (set by --rates)"),
    (("--attack", "flip"), "attacks.0: Input should be"),
    (("--rates", "0,x"), "--rates must be comma-separated numbers"),
])
def test_bad_flags_exit_2_with_one_clear_line(cli, files, tmp_path, args, message):
    fn, train, test = files
    code, err = cli("poison", fn, train, test, "--target", "target", *args,
                    "--out", tmp_path / "o")
    assert code == 2 and message in err and "Traceback" not in err


def test_a_bad_training_function_or_data_exits_2(cli, files, tmp_path):
    fn, train, test = files
    code, err = cli("poison", "no_such_module_xyz:fit", train, test, "--target", "target",
                    "--out", tmp_path / "o")
    assert code == 2 and "cannot import 'no_such_module_xyz'" in err
    code, err = cli("poison", "poison_cli_train:not_a_function", train, test, "--target",
                    "target", "--out", tmp_path / "o")
    assert code == 2 and "names an object of type int, not a function" in err
    code, err = cli("poison", fn, train, test, "--out", tmp_path / "o")
    assert code == 2 and "poisoning needs labels" in err and "--target" in err
    plan = _plan(tmp_path, params={"patch_backdoor": {"size": 2}})
    code, err = cli("poison", fn, train, test, "--target", "target", "--plan", plan,
                    "--out", tmp_path / "o")
    assert code == 2 and "params name ['patch_backdoor']" in err
