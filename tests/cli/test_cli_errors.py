"""Bad input exits 2 with one line that says what was wrong; ``--debug`` shows the traceback."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ShakeoutError, ValidationError


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


def _stress(cli, entry, data, *extra):
    return cli("stress", f"{entry}:model", data, "--quiet", *extra)


def test_nan_in_the_data(cli, entry, iris_frame, tmp_path):
    frame = iris_frame.copy()
    frame.loc[[4, 8], "petal width (cm)"] = np.nan
    path = tmp_path / "nan.csv"
    frame.to_csv(path, index=False)
    code, err = _stress(cli, entry, path, "--target", "target", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "X has 2 missing (NaN) values, first in column petal width (cm)" in line
    assert "--allow-nan" in line
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_allow_nan_with_a_model_that_cannot_take_nan(cli, entry, iris_frame, tmp_path):
    frame = iris_frame.copy()
    frame.loc[30, "sepal width (cm)"] = np.nan
    path = tmp_path / "nan.csv"
    frame.to_csv(path, index=False)
    code, err = _stress(cli, entry, path, "--target", "target", "--allow-nan")
    assert code == 2  # bad input, not an internal error from deep inside the sweep
    line = _one_line(err)
    assert "Input X contains NaN. Row 30 holds NaN (allowed by allow_nan=True" in line


def test_npz_with_the_wrong_number_of_features(cli, entry, iris_frame, tmp_path):
    path = tmp_path / "narrow.npz"
    np.savez(path, X=iris_frame.iloc[:, :3].to_numpy(), y=iris_frame["target"].to_numpy())
    code, err = cli("stress", f"{entry}:array_model", path, "--quiet", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "the model cannot predict on X of shape (150, 3)" in line
    assert "expecting 4 features" in line and "Check the number and order of features" in line


def test_unknown_target_column(cli, entry, iris_csv, tmp_path):
    code, err = _stress(cli, entry, iris_csv, "--target", "species", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "iris.csv: target column 'species' not found; columns are" in line
    assert "Pass --target with one of them" in line


def test_forgotten_target_leaves_an_extra_column(cli, entry, iris_csv, tmp_path):
    code, err = _stress(cli, entry, iris_csv, "--out", tmp_path / "r")
    assert code == 2
    assert "extra columns ['target'] the model was not fitted on" in _one_line(err)


@pytest.mark.parametrize(("content", "message"), [
    ("", "data file 'empty.csv' could not be read as .csv (No columns to parse from file)"),
    ("sepal length (cm),target\n", "empty.csv: the data has no rows"),
])
def test_empty_data_file(cli, entry, tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    code, err = _stress(cli, entry, path, "--target", "target", "--out", tmp_path / "r")
    assert code == 2
    assert message in _one_line(err)


def test_missing_data_file(cli, entry, tmp_path):
    code, err = _stress(cli, entry, tmp_path / "nope.csv", "--out", tmp_path / "r")
    assert code == 2
    assert _one_line(err) == f"error: data file '{tmp_path / 'nope.csv'}' does not exist."


@pytest.mark.parametrize(("name", "message"), [
    ("model.onnx", "is not a loadable ONNX model"),
    ("model.pt", "is not a TorchScript file"),
])
@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_model_file_that_is_not_a_model(cli, iris_csv, tmp_path, name, message):
    path = tmp_path / name
    path.write_text("definitely not a model\n")
    code, err = cli("stress", path, iris_csv, "--target", "target", "--quiet")
    assert code == 2
    assert message in _one_line(err)


def test_pickle_without_trust(cli, iris_csv, tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x04K\x01.")
    code, err = cli("stress", path, iris_csv, "--target", "target", "--quiet")
    assert code == 2
    line = _one_line(err)
    assert "is a pickle; loading it executes code stored in the file" in line
    assert "pass --trust-pickle" in line


def test_unknown_model_spec(cli, iris_csv):
    code, err = cli("stress", "no_such_model_here", iris_csv, "--quiet")
    assert code == 2
    assert "is neither an existing file nor an entry point package.module:attribute" in \
        _one_line(err)


def test_debug_reraises_the_error(cli, entry, tmp_path):
    with pytest.raises(ValidationError, match=r"data file '.*nope.csv' does not exist"):
        cli("stress", f"{entry}:model", tmp_path / "nope.csv", "--debug")
    with pytest.raises(ShakeoutError, match=r"is a pickle"):
        cli("--debug", "stress", tmp_path / "m.pkl", tmp_path / "nope.csv")


# ---------------------------------------------------------------- plan files
def test_invalid_yaml(cli, entry, iris_csv, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("stress: [unclosed\n  gates: {")
    code, err = _stress(cli, entry, iris_csv, "--target", "target", "--plan", plan)
    assert code == 2
    assert ("plan file 'plan.yaml' is not valid YAML: expected ',' or ']', but got ':' at line "
            "2, column 8") in _one_line(err)


@pytest.mark.parametrize(("text", "field"), [
    ("stress:\n  n_boot: 100\n", "stress.n_boot: Extra inputs are not permitted"),
    ("seeds: 3\n", "seeds: Extra inputs are not permitted"),
    ("gates:\n  - metric: accuracy\n    minimum: 0.9\n",
     "gates.0.minimum: Extra inputs are not permitted"),
    ("stress:\n  level: 1.5\n", "stress.level: Input should be less than 1"),
    ("gates:\n  - metric: accuracy\n", "gates.0: Value error, gate on 'accuracy' needs max or "
                                       "min"),
    ("- just\n- a list\n", "a plan must be a YAML mapping, got list"),
])
def test_invalid_plan_names_the_field(cli, entry, iris_csv, tmp_path, text, field):
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    code, err = _stress(cli, entry, iris_csv, "--target", "target", "--plan", plan)
    assert code == 2
    line = _one_line(err)
    assert "plan file 'plan.yaml'" in line
    assert field in line


def test_unknown_perturbation_in_a_plan(cli, entry, iris_csv, tmp_path, write_plan):
    plan = write_plan(perturbations=[{"name": "gausian_noise", "severities": [0.1]}])
    code, err = _stress(cli, entry, iris_csv, "--target", "target", "--plan", plan)
    assert code == 2
    assert "unknown perturbation 'gausian_noise'; known:" in _one_line(err)


def test_missing_plan_file(cli, entry, iris_csv, tmp_path):
    code, err = _stress(cli, entry, iris_csv, "--plan", tmp_path / "plan.yaml")
    assert code == 2
    assert _one_line(err) == f"error: plan file '{tmp_path / 'plan.yaml'}' does not exist."


def test_usage_errors_exit_2_with_clicks_message(cli, capsys):
    code, err = cli("stress")
    assert code == 2
    assert "Error: Missing argument 'model'." in err
    code, err = cli("no-such-command")
    assert code == 2
    assert "No such command 'no-such-command'" in err and "internal error" not in err
    code, err = cli("stress", "m:x", "d.csv", "--seed", "many")
    assert code == 2
    assert "Invalid value for '--seed'" in err
    from shakeout.cli import main

    capsys.readouterr()
    assert main([]) == 2  # no arguments: the help, not an internal error
    shown = capsys.readouterr()
    assert "Commands" in shown.out + shown.err and "internal error" not in shown.err


@pytest.mark.parametrize("blocker", ["file", "report.html", "results.json"])
def test_an_unusable_out_is_refused_before_any_work(cli, tmp_path, blocker):
    out = tmp_path / "out"
    if blocker == "file":
        out.write_text("not a folder")
    else:
        (out / blocker).mkdir(parents=True)
    code, err = cli("demo", "--quiet", "--out", out)  # the demo would run a minute first
    assert code == 2
    line = _one_line(err)
    assert "--out" in line and ("is a file" in line or "is a folder" in line)
    if blocker == "file":
        assert out.read_text() == "not a folder"
    else:
        assert [p.name for p in out.iterdir()] == [blocker]  # nothing written beside it
