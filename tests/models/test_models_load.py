"""``load_model``: entry points, ONNX, TorchScript, pickles only when trusted, clear refusals."""

from __future__ import annotations

import pickle
import sys
import uuid

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from shakeout.errors import ValidationError
from shakeout.models import load_model

X, Y = load_iris(return_X_y=True)
X = X.astype(np.float32)

MODULE = '''
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

CALLS = []


def build():
    CALLS.append(1)
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y)


model = build()
not_a_model = [1, 2, 3]
'''


@pytest.fixture
def entry_module(tmp_path, monkeypatch):
    """A fresh module in tmp_path, importable by a name no other test uses."""
    name = f"so_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def clf():
    return LogisticRegression(max_iter=1000).fit(X, Y)


def test_entry_point_to_an_object(entry_module):
    m = load_model(f"{entry_module}:model")
    assert m.task == "classification" and m.name == "LogisticRegression"
    assert (m.predict(X) == Y).mean() > 0.9


def test_entry_point_to_a_function_calls_it(entry_module):
    m = load_model(f"{entry_module}:build", task="classification")
    assert len(sys.modules[entry_module].CALLS) == 2  # once at import, once by load_model
    assert m.predict_proba(X[:3]).shape == (3, 3)


def test_entry_point_errors_name_what_is_wrong(entry_module):
    with pytest.raises(ValidationError, match=rf"module '{entry_module}' has no attribute "
                                              r"'missing'"):
        load_model(f"{entry_module}:missing")
    with pytest.raises(ValidationError, match=r"cannot import 'no_such_module_xyz'"):
        load_model("no_such_module_xyz:model")
    with pytest.raises(ValidationError, match=r"a reference is written "
                                              r"package.module:attribute"):
        load_model(f"{entry_module}:")
    with pytest.raises(ValidationError, match=rf"model '{entry_module}:not_a_model' did not give "
                                              r"a usable model: wrap: cannot use an object of "
                                              r"type list"):
        load_model(f"{entry_module}:not_a_model")


def test_onnx_file(tmp_path, clf):
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path / "iris.onnx"
    path.write_bytes(skl2onnx.to_onnx(clf, X[:1]).SerializeToString())
    m = load_model(path)
    np.testing.assert_allclose(m.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    m2 = load_model(str(path))
    np.testing.assert_array_equal(m2.predict(X), clf.predict(X))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_file(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    m = load_model(path)
    assert m.capabilities.gradients
    np.testing.assert_allclose(m.predict_proba(X), _torch_proba(torch, net), rtol=1e-6)
    reg = load_model(path, task="regression")
    assert reg.task == "regression"


def _torch_proba(torch, net):
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(X)).double(), dim=1).numpy()


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_a_state_dict_is_not_a_torchscript_file(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "weights.pth"
    torch.save(torch.nn.Linear(4, 3).state_dict(), str(path))
    with pytest.raises(ValidationError, match=r"is not a TorchScript file.*torch.jit.save\("
                                              r"torch.jit.script\(model\), path\)"):
        load_model(path)


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib"])
def test_pickles_are_refused_without_trust_and_say_why(tmp_path, clf, suffix):
    path = tmp_path / f"model{suffix}"
    joblib.dump(clf, path)
    with pytest.raises(ValidationError, match=r"is a pickle; loading it executes code stored in "
                                              r"the file.*pass --trust-pickle "
                                              r"\(trust_pickle=True\), or export the model to "
                                              r"ONNX"):
        load_model(path)


def test_pickles_load_with_trust(tmp_path, clf):
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(clf))
    jbl = tmp_path / "model.joblib"
    joblib.dump(clf, jbl)
    for path in (pkl, jbl):
        m = load_model(path, trust_pickle=True)
        np.testing.assert_array_equal(m.predict_proba(X), clf.predict_proba(X))


def test_trusted_pickle_that_is_not_a_pickle_or_not_a_model(tmp_path):
    bad = tmp_path / "model.pkl"
    bad.write_text("this is not a pickle")
    with pytest.raises(ValidationError, match=r"'.*model.pkl' could not be unpickled"):
        load_model(bad, trust_pickle=True)
    data = tmp_path / "data.pkl"
    data.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(ValidationError, match=r"did not give a usable model: wrap: cannot use an "
                                              r"object of type dict"):
        load_model(data, trust_pickle=True)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize(("name", "message"), [
    ("model.onnx", r"'.*model.onnx' is not a loadable ONNX model \(InvalidProtobuf"),
    ("model.pt", r"model '.*model.pt' is not a TorchScript file"),
])
def test_text_file_with_a_model_suffix_is_a_clear_error(tmp_path, name, message):
    if name.endswith(".onnx"):
        pytest.importorskip("onnxruntime")
    else:
        pytest.importorskip("torch")
    path = tmp_path / name
    path.write_text("hello, I am not a model\n")
    with pytest.raises(ValidationError, match=message):
        load_model(path)


@pytest.mark.parametrize("name", ["model.onnx", "model.pt", "model.pkl"])
def test_missing_model_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ValidationError, match=r"model file '.*' does not exist"):
        load_model(path, trust_pickle=True)


def test_unknown_suffix_lists_what_is_supported(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF")
    with pytest.raises(ValidationError, match=r"unknown model file type '.h5'. Use .onnx, a "
                                              r"TorchScript .pt, a pickle with --trust-pickle, or "
                                              r"an entry point"):
        load_model(path)


def test_neither_a_file_nor_an_entry_point(tmp_path):
    with pytest.raises(ValidationError, match=r"is neither an existing file nor an entry point "
                                              r"package.module:attribute"):
        load_model(tmp_path / "nothing-here")
