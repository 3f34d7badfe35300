"""``shakeout faults``: files, flags over the plan, gates from a plan file, exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from shakeout.report import Result

torch = pytest.importorskip("torch")


MODULE = """
import torch

net = torch.nn.Linear(3, 3)
with torch.no_grad():
    net.weight.copy_(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A linear torch classifier on three features (module:attribute) and an .npz of 12
    labelled rows."""
    (tmp_path / "faults_cli_model.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3)).astype(np.float32)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=rng.integers(0, 3, size=12))
    return "faults_cli_model:net", data


def _plan(tmp_path: Path, gates: list[dict], **faults) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "faults": faults, "gates": gates}))
    return path


def test_faults_writes_the_report_with_the_flags_settings(cli, files, tmp_path):
    model, data = files
    out = tmp_path / "out"
    code, err = cli("faults", model, data, "--bits", "30,31", "--layers", "weight",
                    "--mitigations", "protection", "--out", out, "--quiet")
    assert code == 0, err
    result = Result.load(out / "results.json")
    assert result.manifest.parameters["bits"] == [30, 31]
    sdc = result.select(metric="sdc_rate", group="campaign")[0]
    assert sdc.details["injections"] == 9 * 2 and sdc.details["sampling"] == "exhaustive: exact"
    assert result.select(metric="sdc_rate", group="protection")
    assert "Fault injection" in (out / "report.html").read_text()


def test_a_gate_on_the_sdc_rate_upper_bound_from_a_plan(cli, files, tmp_path):
    model, data = files
    gate = [{"metric": "sdc_rate", "group": "campaign", "max": 0.01}]
    plan = _plan(tmp_path, gate, bits=[0, 1, 2], margin=0.2, confidence=0.9, exhaustive_max=1)
    code, err = cli("faults", model, data, "--plan", plan, "--out", tmp_path / "a", "--quiet")
    result = Result.load(tmp_path / "a" / "results.json")
    sdc = result.select(metric="sdc_rate", group="campaign")[0]
    assert sdc.ci is not None and sdc.value == 0.0  # low mantissa bits: masked
    assert (code == 0) == (sdc.ci[1] <= 0.01), err  # judged on the upper bound
    plan = _plan(tmp_path, gate, bits=[30])
    code, err = cli("faults", model, data, "--plan", plan, "--out", tmp_path / "b", "--quiet")
    assert code == 1 and "FAIL sdc_rate [group=campaign] <= 0.01" in err


def test_bad_layer_or_bit_exits_2_with_one_clear_line(cli, files, tmp_path):
    model, data = files
    code, err = cli("faults", model, data, "--layers", "conv9", "--out", tmp_path / "o")
    assert code == 2 and "conv9" in err and "Traceback" not in err
    code, err = cli("faults", model, data, "--bits", "32", "--out", tmp_path / "o")
    assert code == 2 and "bit position 32 is outside" in err and "bits 0 to 31" in err
    code, err = cli("faults", model, data, "--where", "memory", "--out", tmp_path / "o")
    assert code == 2 and "--where" in err
