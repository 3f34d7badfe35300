"""``shakeout drift`` and ``shakeout monitor``: exit codes, outputs, bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from shakeout.cli import main


@pytest.fixture()
def tables(tmp_path):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=1500), "c": rng.choice(["x", "y"], 1500),
                        "y": rng.integers(0, 2, 1500)})
    same = pd.DataFrame({"a": rng.normal(size=1500), "c": rng.choice(["x", "y"], 1500),
                         "y": rng.integers(0, 2, 1500)})
    moved = same.assign(a=same["a"] + 1.0)
    days = pd.date_range("2024-01-01", periods=5, freq="D").repeat(300)
    stream = same.assign(t=days, a=same["a"] + 1.0 * (days >= "2024-01-04"))
    paths = {}
    for name, frame in [("ref", ref), ("same", same), ("moved", moved)]:
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    paths["stream"] = tmp_path / "stream.parquet"
    stream.to_parquet(paths["stream"])
    return paths


def test_drift_command_exit_codes_and_outputs(tables, tmp_path):
    out = tmp_path / "out"
    assert main(["drift", str(tables["ref"]), str(tables["same"]), "--target", "y",
                 "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["findings"][-1]["metric"] == "decision"
    assert {f["group"] for f in data["findings"]} >= {"psi", "ks", "chi2", "label"}
    assert main(["drift", str(tables["ref"]), str(tables["moved"]), "--out", str(out),
                 "--quiet", "--tests", "psi,ks", "--multivariate", "none"]) == 1
    assert main(["drift", str(tables["ref"]), str(tables["moved"]), "--out", str(out),
                 "--quiet", "--fail-on", "never"]) == 0


def test_drift_command_with_a_plan(tables, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("seed: 3\ndrift:\n  tests: [psi]\n  multivariate: []\n"
                    "gates:\n  - {metric: psi, drill: drift, feature: a, max: 0.1, 'on': value}\n")
    out = tmp_path / "out"
    assert main(["drift", str(tables["ref"]), str(tables["same"]), "--plan", str(plan),
                 "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert {f["group"] for f in data["findings"]} == {"psi", "chi2", "units", "decision"}
    assert main(["drift", str(tables["ref"]), str(tables["moved"]), "--plan", str(plan),
                 "--out", str(out), "--quiet", "--fail-on", "never"]) == 1


def test_drift_command_bad_input_exits_2(tables, tmp_path):
    out = str(tmp_path / "out")
    assert main(["drift", str(tables["ref"]), str(tmp_path / "missing.csv"), "--out", out]) == 2
    assert main(["drift", str(tables["ref"]), str(tables["same"]), "--tests", "sturges",
                 "--out", out]) == 2
    assert main(["drift", str(tables["ref"]), str(tables["same"]), "--fail-on", "maybe",
                 "--out", out]) == 2
    assert main(["drift", str(tables["ref"]), str(tables["same"]), "--target", "nope",
                 "--out", out]) == 2


def test_monitor_command_runs_windows_and_shows_history(tables, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    out = tmp_path / "mon"
    code = main(["monitor", str(tables["ref"]), str(tables["stream"]), "--timestamp", "t",
                 "--every", "day", "--target", "y", "--store", url, "--out", str(out),
                 "--quiet", "--multivariate", "none"])
    assert code == 1  # the latest window says retrain
    data = json.loads((out / "results.json").read_text())
    windows = {f["window"] for f in data["findings"] if f["window"]}
    assert windows == {f"2024-01-0{i}" for i in range(1, 6)}
    onset = [f for f in data["findings"] if f["group"] == "onset" and f["feature"] == "a"]
    assert onset and onset[0]["details"]["first_window"] == "2024-01-04"
    assert main(["monitor", "--store", url, "--out", str(tmp_path / "hist"), "--quiet",
                 "--fail-on", "never"]) == 0
    assert "2024-01-05" in capsys.readouterr().err
    assert main(["monitor", str(tables["ref"]), "--store", url]) == 2
    assert main(["monitor", "--store", f"sqlite:///{tmp_path / 'empty.db'}"]) == 2


def test_drift_command_takes_a_holdout_as_the_performance_baseline(tables, tmp_path, capsys,
                                                                  monkeypatch):
    (tmp_path / "holdout_model.py").write_text(
        "import numpy as np, pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "rng = np.random.default_rng(1)\n"
        "a = rng.normal(size=300)\n"
        "model = LogisticRegression().fit(pd.DataFrame({'a': a}), (a > 0).astype(int))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    base = ["drift", str(tables["ref"]), str(tables["same"]), "--out", str(out), "--quiet"]
    assert main([*base, "--holdout", str(tables["same"])]) == 2
    assert "give --model and --target" in capsys.readouterr().err
    assert main([*base, "--target", "y", "--model", "holdout_model:model", "--holdout",
                 str(tables["same"]), "--fail-on", "never"]) == 0
    data = json.loads((out / "results.json").read_text())
    (drop,) = [f for f in data["findings"] if f["metric"] == "degradation"]
    assert drop["details"]["baseline"] == "holdout"


def test_showing_the_history_writes_nothing(tables, tmp_path, monkeypatch, capsys):
    """Issue #9: `shakeout monitor --store URL` wrote a report folder as a side effect."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["monitor", str(tables["ref"]), str(tables["stream"]), "--timestamp", "t",
                 "--every", "day", "--target", "y", "--store", url, "--out",
                 str(tmp_path / "mon"), "--quiet", "--multivariate", "none"]) == 1
    show = tmp_path / "show"
    show.mkdir()
    monkeypatch.chdir(show)
    capsys.readouterr()
    assert main(["monitor", "--store", url]) == 0
    err = capsys.readouterr().err
    assert "2024-01-05" in err and "Latest window 2024-01-05" in err
    assert list(show.iterdir()) == []  # no report folder, nothing written
    assert main(["monitor", "--store", url, "--out", str(show / "r"), "--quiet"]) == 1
    assert (show / "r" / "results.json").is_file()  # with --out: the report and the gate


def test_drift_cli_imports_only_the_light_modules_at_the_top():
    """`shakeout --help` must not import pandas, pydantic or jinja2 through this module."""
    import ast
    from pathlib import Path

    import shakeout.drift.cli as module

    tree = ast.parse(Path(module.__file__).read_text())
    top = {(n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
           + ("" if not isinstance(n, ast.ImportFrom) or not n.module.startswith("shakeout")
              else "." + n.module.split(".", 1)[1])
           for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
           for a in getattr(n, "names", [])}
    assert top <= {"__future__", "pathlib", "typing", "typer", "rich", "shakeout.cli._app",
                   "shakeout.errors"}, top
