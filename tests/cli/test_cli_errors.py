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
    ("gates:\n  - metric: accuracy\n", "gates.0: gate on 'accuracy' needs max or min (e.g. "
                                       "max: 0.05"),
    ("gates:\n  - metric: accuracy\n    max: high\n",
     "gates.0.max: Input should be a valid number, unable to parse string as a number, got "
     "'high'"),
    ("seed: -1\n", "seed: Input should be greater than or equal to 0, got -1"),
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


# ---------------------------------------------------------------- issue 9: crashes that exited 3
FACTORIES = '''
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

_X, _y = load_iris(return_X_y=True, as_frame=True)


def raising():
    raise RuntimeError("the weights file is gone")


def on_codes():  # fitted on the integer codes 0, 1, 2
    return LogisticRegression(max_iter=1000).fit(_X, _y)


def on_text_codes():  # fitted on the labels "0", "1", "2" as text
    return LogisticRegression(max_iter=1000).fit(_X, _y.astype(str))


def on_names():  # fitted on the labels "no" and "yes"
    return LogisticRegression(max_iter=1000).fit(_X, (_y == 0).map({True: "yes", False: "no"}))


def on_colours():  # a pipeline that one-hot encodes a column of colours it knows
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = _X.assign(colour=["red", "blue"] * 75)
    encode = make_column_transformer((OneHotEncoder(), ["colour"]), remainder=StandardScaler())
    return make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(X, _y)
'''


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """Name of a module of model factories; a module beside it has a syntax error."""
    import sys
    import uuid

    name = f"so_cli_factories_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "factories"
    folder.mkdir()
    (folder / f"{name}.py").write_text(FACTORIES)
    (folder / f"{name}_broken.py").write_text("model = (\n")
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


def _labelled(iris_frame, tmp_path, labels):
    frame = iris_frame.copy()
    frame["target"] = labels
    path = tmp_path / "labelled.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_labels_that_the_model_was_not_fitted_on(cli, factories, iris_frame, tmp_path):
    path = _labelled(iris_frame, tmp_path, np.where(iris_frame["target"] == 0, "yes", "no"))
    code, err = cli("stress", f"{factories}:on_codes", path, "--target", "target", "--quiet",
                    "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "labels ['no', 'yes'] are not among the model's classes ['0', '1', '2']" in line
    assert "Check the target column: it must hold the labels the model was fitted on" in line


@pytest.mark.parametrize(("factory", "labels"), [
    ("on_names", lambda t: np.where(t == 0, "yes", "no")),
    ("on_text_codes", lambda t: t),  # the csv reads 0, 1, 2 back as numbers
])
def test_text_labels_map_through_the_models_classes(cli, factories, iris_frame, tmp_path,
                                                   factory, labels, write_plan):
    path = _labelled(iris_frame, tmp_path, labels(iris_frame["target"]))
    code, err = cli("stress", f"{factories}:{factory}", path, "--target", "target", "--quiet",
                    "--plan", write_plan(), "--out", tmp_path / "r")
    assert code == 0, err
    import json

    found = json.loads((tmp_path / "r" / "results.json").read_text())["findings"]
    clean = [f for f in found if f["metric"] == "accuracy" and not f.get("severity")]
    assert clean and clean[0]["value"] > 0.9  # the labels were matched, not all wrong


def test_model_factory_that_raises(cli, factories, iris_csv, tmp_path):
    code, err = cli("stress", f"{factories}:raising", iris_csv, "--target", "target", "--quiet",
                    "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert (f"model '{factories}:raising': calling {factories}.raising() raised RuntimeError: "
            "the weights file is gone") in line
    assert "fix the function" in line


def test_model_module_with_a_syntax_error(cli, factories, iris_csv, tmp_path):
    code, err = cli("stress", f"{factories}_broken:model", iris_csv, "--target", "target",
                    "--quiet", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert f"model '{factories}_broken:model': importing '{factories}_broken' failed" in line
    assert "SyntaxError: '(' was never closed" in line and "line 1" in line


@pytest.mark.parametrize("kind", ["folder", "binary"])
def test_plan_that_is_a_folder_or_binary(cli, entry, iris_csv, tmp_path, kind):
    plan = tmp_path / "plan.yaml"
    if kind == "folder":
        plan.mkdir()
    else:
        plan.write_bytes(bytes(range(128, 256)))
    code, err = _stress(cli, entry, iris_csv, "--target", "target", "--plan", plan)
    assert code == 2
    line = _one_line(err)
    what = "is a folder" if kind == "folder" else "is not a text file"
    assert f"plan file {str(plan)!r} {what}" in line
    assert "pass a YAML plan file" in line


def test_text_in_a_numeric_column_is_named(cli, entry, iris_frame, tmp_path):
    frame = iris_frame.astype(object)
    frame.loc[3, "sepal width (cm)"] = "abc"
    frame.loc[7, "sepal width (cm)"] = "?"
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    code, err = _stress(cli, entry, path, "--target", "target", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert ("Column 'sepal width (cm)' holds 2 values that are not numbers: 'abc' (row 3), "
            "'?' (row 7)") in line
    assert "could not convert string to float" in line  # what the model said
    assert "replace them" in line


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_model_of_the_wrong_width(cli, iris_csv, tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "wide.pt"
    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Linear(7, 3))), str(path))
    code, err = cli("stress", path, iris_csv, "--target", "target", "--quiet",
                    "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "TorchScript interpreter" not in line
    assert "the model expects input of shape (n, 7) but got (1, 4)" in line
    assert "mat1 and mat2 shapes cannot be multiplied" in line


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["findings"][0].update(value="high"),
     "finding 0 ('a'): value must be a number, got 'high'"),
    (lambda d: d["findings"][0].update(ci=["low", 1]),
     "finding 0 ('a'): ci must be two numbers, got ['low', 1]"),
    (lambda d: d.pop("findings"), "missing 'findings'"),
    (lambda d: d.update(findings=[]), "holds no findings"),
    (lambda d: d.update(findings={"a": 1}), "findings must be a list"),
    (lambda d: d["findings"][0].pop("metric"), "finding 0 ('a'): missing 'metric'"),
    (lambda d: d["findings"][0].update(group=3), "finding 0 ('a'): group must be text, got 3"),
    (lambda d: d["manifest"].update(timings=[1.5]),
     "manifest: timings must be a JSON object, got [1.5]"),
    (lambda d: d.update(manifest="run 7"), "manifest: expected a JSON object, got str"),
])
def test_results_file_with_bad_content(cli, tmp_path, edit, message):
    import json

    from shakeout.report.result import Finding, Result

    data = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0),)).to_dict()
    edit(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    code, err = cli("report", path, "--quiet", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert message in line and "results.json" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [("demo",), ("stress", "m:x", "d.csv"),
                                     ("drift", "a.csv", "b.csv"), ("attack", "m:x", "d.csv")],
                         ids=lambda c: c[0])
def test_negative_seed_is_refused_when_parsed(cli, tmp_path, command):
    # the files do not exist: the seed is refused before anything is loaded
    code, err = cli(*command, "--seed", "-1", "--quiet", "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "Invalid value for '--seed'" in line
    assert "a seed is a non-negative integer (0, 1, 2, ...), got -1" in line


def test_csv_with_a_ragged_row(cli, entry, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n")
    code, err = _stress(cli, entry, path, "--out", tmp_path / "r")
    assert code == 2
    assert ("could not be read as .csv (Error tokenizing data. C error: Expected 2 fields in "
            "line 3, saw 3).") in _one_line(err)  # pandas' message ends in a newline


def test_a_category_the_model_never_saw_in_a_later_row(cli, factories, iris_frame, tmp_path):
    frame = iris_frame.assign(colour=["red", "blue"] * 75)
    frame.loc[60, "colour"] = "green"  # row 0 is fine: a one-row trial would miss it
    path = tmp_path / "colours.csv"
    frame.to_csv(path, index=False)
    code, err = cli("stress", f"{factories}:on_colours", path, "--target", "target", "--quiet",
                    "--out", tmp_path / "r")
    assert code == 2
    line = _one_line(err)
    assert "Found unknown categories ['green']" in line
    assert "Map or drop the categories the model was not fitted on" in line


def test_brackets_in_an_error_are_printed_as_written(cli, entry, tmp_path):
    code, err = _stress(cli, entry, tmp_path / "d[x].csv", "--out", tmp_path / "r")
    assert code == 2
    assert "d[x].csv" in _one_line(err)  # not eaten as console markup


def test_attack_data_missing_a_column_is_one_line(cli, entry, iris_frame, tmp_path):
    path = tmp_path / "short.csv"
    iris_frame.drop(columns=["petal width (cm)"]).to_csv(path, index=False)
    code, err = cli("attack", f"{entry}:model", path, "--target", "target", "--attack", "fgsm",
                    "--eps", "0.1", "--no-sanity", "--quiet", "--out", tmp_path / "r")
    assert code == 2
    assert "petal width (cm)" in _one_line(err)


def test_stage_plans_built_in_python_name_the_field():
    from shakeout.drift.plan import DriftPlan
    from shakeout.stress.plan import StressPlan

    with pytest.raises(ValidationError, match="n_bootstrap: Input should be greater than"):
        StressPlan(n_bootstrap=1)
    with pytest.raises(ValidationError, match="DriftPlan is invalid: no_such_option"):
        DriftPlan(no_such_option=1)
