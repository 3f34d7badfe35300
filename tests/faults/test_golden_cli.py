"""``shakeout golden save|replay`` and ``shakeout parity``: exit 0 when nothing moved, 1 when
the replay or the parity check fails (with the first divergence on the console), 2 with one
line for a golden set of another model or a bad reference."""

from __future__ import annotations

import json
import sys
import uuid

import numpy as np
import pytest

from shakeout.cli import main

pytest.importorskip("torch")

MODULE = '''
import numpy as np
import torch

gen = torch.Generator().manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.randn(p.shape, generator=gen))
other = torch.nn.Sequential(torch.nn.Linear(3, 2))


def scale(X):
    return (np.asarray(X, dtype=np.float32) / 100.0).astype(np.float32)


def scale_changed(X):  # the one-line change
    return (np.asarray(X, dtype=np.float32) / 1000.0).astype(np.float32)


def as_floats(X):
    return np.asarray(X, dtype=np.float64)


def truncated(X):
    out = np.asarray(X, dtype=np.float64).copy()
    out[:, 1] = np.trunc(out[:, 1])
    return out
'''


@pytest.fixture
def entry(tmp_path, monkeypatch):
    name = f"so_golden_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "raw.npz"
    np.savez(path, X=np.random.default_rng(0).uniform(0, 100, size=(40, 3)))
    return path


def _save(entry, data, folder, *extra):
    return main(["golden", "save", f"{entry}:net", str(data), "--out", str(folder),
                 "--preprocess", f"{entry}:scale", "--rows", "16", *extra])


def test_save_then_replay_the_unchanged_pipeline_exits_0(entry, data, tmp_path, capsys):
    assert _save(entry, data, tmp_path / "golden", "--version", "v1") == 0
    manifest = json.loads((tmp_path / "golden" / "golden.json").read_text())
    assert manifest["rows"] == 16 and manifest["preprocessing_version"] == "v1"
    code = main(["golden", "replay", str(tmp_path / "golden"), f"{entry}:net", "--preprocess",
                 f"{entry}:scale", "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 0
    assert "No difference beyond tolerance" in capsys.readouterr().err
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert {f["drill"] for f in results["findings"]} == {"golden"}


def test_a_changed_preprocessing_exits_1_naming_the_input(entry, data, tmp_path, capsys):
    _save(entry, data, tmp_path / "golden")
    code = main(["golden", "replay", str(tmp_path / "golden"), f"{entry}:net", "--preprocess",
                 f"{entry}:scale_changed", "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 1
    assert "first divergence is the input (layer 0)" in capsys.readouterr().err


def test_a_golden_set_of_another_model_exits_2_with_one_line(entry, data, tmp_path, capsys):
    _save(entry, data, tmp_path / "golden")
    code = main(["golden", "replay", str(tmp_path / "golden"), f"{entry}:other",
                 "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 2 and "saved from another model" in err and "Traceback" not in err


def test_a_bad_preprocess_reference_exits_2(entry, data, tmp_path, capsys):
    code = main(["golden", "save", f"{entry}:net", str(data), "--out", str(tmp_path / "g"),
                 "--preprocess", f"{entry}:nothing"])
    assert code == 2 and "has no attribute 'nothing'" in capsys.readouterr().err


def test_parity_exits_1_and_names_the_truncated_feature(entry, data, tmp_path):
    code = main(["parity", str(data), "--offline", f"{entry}:as_floats", "--online",
                 f"{entry}:truncated", "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 1
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    (f,) = [f for f in results["findings"] if f["feature"]]
    assert (f["feature"], f["group"], f["details"]["precision"]) == ("x1", "truncation",
                                                                     "integer")
    same = main(["parity", str(data), "--offline", f"{entry}:as_floats", "--online",
                 f"{entry}:as_floats", "--out", str(tmp_path / "report2"), "--quiet"])
    assert same == 0
