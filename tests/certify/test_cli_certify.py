"""``shakeout certify``: exit codes, files, plans, flags over plan values, gates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from shakeout.report import Result

from .conftest import linear

torch = pytest.importorskip("torch")
FILES = ("report.html", "results.json", "summary.md", "junit.xml")


@pytest.fixture
def files(tmp_path: Path):
    """A TorchScript threshold model on two features and an .npz of 40 labelled points."""
    net = linear(np.array([1.0, 0.0]), 0.0)
    model = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(net), model)
    X = np.c_[np.linspace(-1, 1, 40), np.zeros(40)].astype(np.float32)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=(X[:, 0] > 0).astype(int))
    return model, data


def _plan(tmp_path: Path, gates: list[dict] | None = None, **certify) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"seed": 2, "certify": certify, "gates": gates or []}))
    return path


def test_certify_writes_every_file_with_the_flags_settings(cli, files, tmp_path):
    model, data = files
    out = tmp_path / "out"
    code, err = cli("certify", model, data, "--sigma", "0.5", "--n", "2000",
                    "--radii", "0,0.25,0.5", "--out", out, "--quiet")
    assert code == 0, err
    assert all((out / name).is_file() for name in FILES)
    result = Result.load(out / "results.json")
    found = result.select(metric="certified_accuracy")
    assert [f.severity for f in found] == [0, 0.25, 0.5]
    assert result.manifest.parameters["n"] == 2000 and result.manifest.parameters["sigma"] == 0.5
    assert result.select(metric="broken_certificates")[0].status == "pass"
    assert "Certified robustness" in (out / "report.html").read_text()


def test_flags_override_the_plan_and_a_failing_gate_exits_1(cli, files, tmp_path):
    model, data = files
    gate = [{"metric": "certified_accuracy", "severity": 0.5, "min": 0.99}]
    plan = _plan(tmp_path, gate, sigma=0.5, n=500, radii=[0, 0.5], sanity=False)
    code, err = cli("certify", model, data, "--plan", plan, "--n", "1000",
                    "--out", tmp_path / "out", "--quiet")
    assert code == 1, err
    assert "FAIL certified_accuracy [severity=0.5] >= 0.99" in err
    result = Result.load(tmp_path / "out" / "results.json")
    assert result.manifest.parameters["n"] == 1000 and result.manifest.seed == 2
    assert not result.select(metric="broken_certificates")


def test_a_passing_gate_exits_0(cli, files, tmp_path):
    model, data = files
    gate = [{"metric": "certified_accuracy", "severity": 0.0, "min": 0.5}]
    plan = _plan(tmp_path, gate, sigma=0.5, n=1000, radii=[0, 0.5], sanity=False)
    code, err = cli("certify", model, data, "--plan", plan, "--out", tmp_path / "o", "--quiet")
    assert code == 0, err


@pytest.mark.parametrize("args, match", [
    (("--sigma", "0"), "sigma: Input should be greater than 0, got 0.0 (set by --sigma)"),
    (("--sigma", "-1"), "(set by --sigma)"),
    (("--n0", "500", "--n", "100"), "n0 (noisy passes that pick the class) must be at most n"),
    (("--alpha", "1.5"), "alpha: Input should be less than 1"),
    (("--norm", "linf"), "norm: Input should be 'l2' or 'l1'"),
    (("--radii", "0.5,x"), "--radii must be comma-separated numbers"),
])
def test_bad_flags_exit_2_with_one_line(cli, files, tmp_path, args, match):
    model, data = files
    code, err = cli("certify", model, data, *args, "--out", tmp_path / "out", "--quiet")
    assert code == 2
    assert match in err and "Traceback" not in err


def test_a_bad_plan_section_exits_2(cli, files, tmp_path):
    model, data = files
    code, err = cli("certify", model, data, "--plan", _plan(tmp_path, sigmaa=0.5),
                    "--out", tmp_path / "out", "--quiet")
    assert code == 2 and "certify.sigmaa" in err


def test_a_model_that_is_not_torch_exits_2(cli, files, tmp_path):
    _, data = files
    from sklearn.linear_model import LogisticRegression
    import pickle

    X = np.load(data)["X"]
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(LogisticRegression().fit(X, X[:, 0] > 0)))
    code, err = cli("certify", path, data, "--trust-pickle", "--n", "100",
                    "--out", tmp_path / "out", "--quiet")
    assert code == 2 and "torch model" in err
