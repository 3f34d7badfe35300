"""``shakeout attack``: exit codes, files, plans and gates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from shakeout.report import Result

torch = pytest.importorskip("torch")
FILES = ("report.html", "results.json", "summary.md", "junit.xml")


@pytest.fixture
def files(tmp_path: Path, linear3):
    """A TorchScript copy of the 3-class affine model and an .npz with its data."""
    W, b, X, y, net = linear3
    model = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(net), model)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    return model, data


def _plan(tmp_path: Path, gates: list[dict], **attack) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"seed": 2, "attack": attack, "gates": gates}))
    return path


def test_named_attacks_and_budgets_write_every_file(cli, files, tmp_path):
    model, data = files
    out = tmp_path / "out"
    code, err = cli("attack", model, data, "--attack", "pgd,fgsm", "--attack", "deepfool",
                    "--eps", "0.02,0.05", "--out", out, "--quiet")
    assert code == 0, err
    assert all((out / name).is_file() for name in FILES)
    result = Result.load(out / "results.json")
    assert {f.group for f in result.findings} >= {"pgd-linf", "fgsm-linf", "deepfool-linf",
                                                  "ensemble"}
    assert result.manifest.parameters["eps"] == [0.02, 0.05]
    assert result.manifest.seed == 0
    assert "<svg" in (out / "report.html").read_text()


def test_plan_gates_decide_the_exit_code(cli, files, tmp_path):
    model, data = files
    loose = {"metric": "robust_accuracy", "group": "ensemble", "severity": 0.02, "min": 0.5}
    strict = {**loose, "min": 0.99}
    plan = _plan(tmp_path, [loose], attacks=["pgd"], eps=[0.02, 0.05], bounds=None)
    code, err = cli("attack", model, data, "--plan", plan, "--out", tmp_path / "a", "--quiet")
    assert code == 0, err
    assert "PASS robust_accuracy [group=ensemble, severity=0.02] >= 0.5" in err
    assert Result.load(tmp_path / "a" / "results.json").manifest.seed == 2
    plan = _plan(tmp_path, [strict], attacks=["pgd"], eps=[0.02, 0.05], bounds=None)
    code, err = cli("attack", model, data, "--plan", plan, "--out", tmp_path / "b", "--quiet")
    assert code == 1
    assert "FAIL" in err and "lower bound" in err


def test_options_override_the_plan(cli, files, tmp_path):
    model, data = files
    plan = _plan(tmp_path, [], attacks=["pgd"], eps=[0.05], bounds=None)
    code, err = cli("attack", model, data, "--plan", plan, "--norm", "l2", "--attack", "deepfool",
                    "--eps", "0.1", "--no-sanity", "--out", tmp_path / "o", "--quiet")
    assert code == 0, err
    result = Result.load(tmp_path / "o" / "results.json")
    assert {f.group for f in result.findings} == {"clean", "deepfool-l2", "ensemble"}


@pytest.mark.parametrize("args, message", [
    (["--attack", "nope"], "unknown attack 'nope'"),
    (["--eps", "a,b"], "--eps must be comma-separated numbers"),
    (["--bounds", "0,1,2"], "--bounds must be LOW,HIGH"),
    (["--norm", "l7"], "the attack command line is invalid: norm: Input should be 'linf'"),
    (["--attack", "cw"], "attack 'cw' measures l2, not 'linf'"),
], ids=["attack", "eps", "bounds", "norm", "norm-mismatch"])
def test_bad_input_exits_2(cli, files, tmp_path, args, message):
    model, data = files
    code, err = cli("attack", model, data, *args, "--out", tmp_path / "x", "--quiet")
    assert code == 2
    assert message in err


def test_model_without_gradients_exits_2_naming_black_box_attacks(cli, tmp_path, linear3):
    import joblib
    from sklearn.linear_model import LogisticRegression

    W, b, X, y, net = linear3
    path = tmp_path / "clf.joblib"
    joblib.dump(LogisticRegression().fit(X, y), path)
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y)
    code, err = cli("attack", path, data, "--trust-pickle", "--attack", "pgd", "--eps", "0.1",
                    "--out", tmp_path / "x")
    assert code == 2
    assert "white-box attack" in err and "SquareAttack" in err


def test_data_without_labels_exits_2(cli, files, tmp_path, linear3):
    model, _ = files
    data = tmp_path / "nolabels.npz"
    np.savez(data, X=linear3[2])
    code, err = cli("attack", model, data, "--out", tmp_path / "x")
    assert code == 2 and "attacks need labels" in err
