"""``wrap`` gives one interface over sklearn, LightGBM, torch, ONNX and callables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from shakeout.errors import GradientUnavailableError, ValidationError
from shakeout.models import CallableModel, Model, SklearnModel, wrap

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = X_IRIS.astype(np.float32)
NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture(scope="module")
def clf():
    return LogisticRegression(max_iter=1000).fit(X_IRIS, NAMES[Y_IRIS])


# ---------------------------------------------------------------- scikit-learn
def test_sklearn_classifier(clf):
    m = wrap(clf)
    assert isinstance(m, SklearnModel)
    assert m.task == "classification"
    assert m.classes_.tolist() == NAMES.tolist()
    np.testing.assert_array_equal(m.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))
    np.testing.assert_array_equal(m.predict(X_IRIS), clf.predict(X_IRIS))  # labels, not indices
    np.testing.assert_array_equal(m.outputs(X_IRIS), clf.predict_proba(X_IRIS))
    assert m.name == "LogisticRegression"
    assert m.encode_labels(["virginica", "setosa"]).tolist() == [2, 0]


def test_sklearn_regressor():
    X, y = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(X, y)
    m = wrap(reg)
    assert m.task == "regression" and m.classes_ is None
    np.testing.assert_allclose(m.predict(X), reg.predict(X))
    np.testing.assert_allclose(m.outputs(X), reg.predict(X))
    with pytest.raises(ValidationError, match=r"LinearRegression: predict_proba needs a "
                                              r"classifier.*use predict\(X\)"):
        m.predict_proba(X)


@pytest.mark.parametrize("make", [
    lambda: LinearSVC(),
    lambda: RidgeClassifier(),
    lambda: make_pipeline(StandardScaler(), LinearSVC()),
], ids=["LinearSVC", "RidgeClassifier", "Pipeline"])
def test_classifier_without_probabilities_is_not_mistaken_for_a_regressor(make):
    est = make().fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValidationError, match=r"is a classifier without predict_proba, and "
                                              r"shakeout measures class probabilities.*"
                                              r"CalibratedClassifierCV"):
        wrap(est)
    with pytest.raises(ValidationError, match="classifier without predict_proba"):
        wrap(est, task="classification")
    assert wrap(est, task="regression").task == "regression"  # said explicitly: labels as numbers


def test_estimator_task_is_checked():
    reg = LinearRegression().fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValidationError, match=r"SklearnModel: task must be one of "
                                              r"'classification', 'regression', got 'ranking'"):
        wrap(reg, task="ranking")


def test_batching_gives_the_same_answers_for_arrays_and_frames(clf):
    full = wrap(clf).predict_proba(X_IRIS)
    np.testing.assert_array_equal(wrap(clf, batch_size=7).predict_proba(X_IRIS), full)
    frame_clf = LogisticRegression(max_iter=1000).fit(pd.DataFrame(X_IRIS, columns=list("abcd")),
                                                      Y_IRIS)
    frame = pd.DataFrame(X_IRIS, columns=list("abcd"))
    np.testing.assert_array_equal(wrap(frame_clf, batch_size=11).predict_proba(frame),
                                  frame_clf.predict_proba(frame))


def test_empty_input_is_refused(clf):
    with pytest.raises(ValidationError, match="X is empty; pass at least one row"):
        wrap(clf).predict_proba(X_IRIS[:0])


def test_wrapping_twice_returns_the_same_model(clf):
    m = wrap(clf)
    assert wrap(m) is m


def test_classes_override_for_an_estimator():
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X_IRIS, Y_IRIS)
    m = wrap(tree, classes=NAMES)
    assert m.predict(X_IRIS[:1]).tolist() == ["setosa"]


def test_fingerprint_is_stable_and_tells_models_apart(clf):
    other = LogisticRegression(max_iter=1000, C=0.01).fit(X_IRIS, NAMES[Y_IRIS])
    assert wrap(clf).fingerprint() == wrap(clf).fingerprint()
    assert wrap(clf).fingerprint() != wrap(other).fingerprint()


def test_non_torch_models_have_no_gradients_and_name_black_box_attacks(clf):
    with pytest.raises(GradientUnavailableError, match=r"LogisticRegression has no gradients.*"
                                                       r"SquareAttack, HopSkipJump"):
        wrap(clf).logits(X_IRIS)


def test_unknown_labels_are_named(clf):
    with pytest.raises(ValidationError, match=r"labels \['daisy'\] are not among the model's "
                                              r"classes \['setosa', 'versicolor', 'virginica'\]"):
        wrap(clf).encode_labels(["setosa", "daisy"])



def test_labels_of_another_type_than_the_classes():
    """Text labels against integer classes were a TypeError ('<' not supported) from sorting."""
    on_codes = wrap(LogisticRegression(max_iter=1000).fit(X_IRIS, Y_IRIS))
    with pytest.raises(ValidationError, match=r"labels \['no', 'yes'\] are not among the "
                                              r"model's classes \['0', '1', '2'\]"):
        on_codes.encode_labels(np.array(["yes", "no", 1], dtype=object))
    assert on_codes.encode_labels(np.array([True, False, 2.0], dtype=object)).tolist() == [1, 0, 2]
    on_text = wrap(LogisticRegression(max_iter=1000).fit(X_IRIS, Y_IRIS.astype(str)))
    assert on_text.encode_labels(Y_IRIS).tolist() == Y_IRIS.tolist()  # a csv read "1" as 1
    on_names = wrap(LogisticRegression(max_iter=1000).fit(X_IRIS, NAMES[Y_IRIS]))
    assert on_names.encode_labels(pd.Series(NAMES[Y_IRIS], dtype="string")).tolist() == \
        Y_IRIS.tolist()


# ---------------------------------------------------------------- LightGBM
def test_lightgbm_classifier_through_its_sklearn_api():
    lgb = pytest.importorskip("lightgbm")
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, random_state=0,
                               n_jobs=1)
    frame = pd.DataFrame(X_IRIS, columns=["sl", "sw", "pl", "pw"])
    model.fit(frame, NAMES[Y_IRIS])
    m = wrap(model)
    assert isinstance(m, SklearnModel) and m.task == "classification"
    assert m.classes_.tolist() == NAMES.tolist()
    np.testing.assert_allclose(m.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(m.predict(frame), model.predict(frame))
    assert (m.predict(frame) == NAMES[Y_IRIS]).mean() > 0.9


def test_lightgbm_regressor_is_a_regression():
    lgb = pytest.importorskip("lightgbm")
    X, y = load_diabetes(return_X_y=True)
    model = lgb.LGBMRegressor(n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    m = wrap(model)
    assert m.task == "regression"
    np.testing.assert_allclose(m.predict(X), model.predict(X))


# ---------------------------------------------------------------- torch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _trained_net(torch, out_features: int):
    """A linear model on iris trained for 200 full-batch steps (well under a second)."""
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Linear(4, out_features)
    with torch.no_grad():
        net.weight.copy_(0.1 * torch.randn(net.weight.shape, generator=gen))
        net.bias.zero_()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x = torch.from_numpy(X_IRIS)
    y = torch.from_numpy(Y_IRIS)
    for _ in range(200):
        opt.zero_grad()
        out = net(x)
        if out_features == 1:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                out[:, 0], (y == 2).float())
        else:
            loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
    return net.eval()


def test_torch_classifier_softmax_of_logits(torch):
    net = _trained_net(torch, 3)
    m = wrap(net)
    assert type(m).__name__ == "TorchModel" and m.capabilities.gradients
    with torch.no_grad():
        logits = net(torch.from_numpy(X_IRIS)).double().numpy()
    p = m.predict_proba(X_IRIS)
    np.testing.assert_allclose(p, _softmax(logits), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (m.predict(X_IRIS) == Y_IRIS).mean() > 0.9
    assert wrap(net, classes=NAMES).predict(X_IRIS[:1]).tolist() == ["setosa"]


def test_torch_binary_head_with_one_logit_reads_through_a_sigmoid(torch):
    net = _trained_net(torch, 1)
    m = wrap(net)
    with torch.no_grad():
        z = net(torch.from_numpy(X_IRIS)).double().numpy()[:, 0]
    p = m.predict_proba(X_IRIS)
    assert p.shape == (150, 2)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-6)
    np.testing.assert_allclose(p[:, 0], 1 - p[:, 1])
    assert (m.predict(X_IRIS) == (Y_IRIS == 2)).mean() > 0.9


@pytest.mark.parametrize("shape", ["column", "flat"])
def test_torch_regression(torch, shape):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    net = torch.nn.Linear(10, 1)
    if shape == "flat":
        net = torch.nn.Sequential(net, torch.nn.Flatten(0))
    m = wrap(net, task="regression")
    with torch.no_grad():
        expected = net(torch.from_numpy(X)).reshape(-1).double().numpy()
    out = m.predict(X)
    assert out.shape == (len(X),)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_torch_inference_restores_training_mode_and_batches(torch):
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    net.train()
    m = wrap(net, batch_size=16)
    a = m.predict_proba(X_IRIS)
    b = m.predict_proba(X_IRIS)
    np.testing.assert_array_equal(a, b)  # eval mode during inference: dropout off
    assert net.training  # ...and the caller's mode comes back
    np.testing.assert_allclose(wrap(net, batch_size=1000).predict_proba(X_IRIS), a, rtol=1e-6)


def test_torch_accepts_frames_and_gives_differentiable_logits(torch):
    net = _trained_net(torch, 3)
    m = wrap(net)
    frame = pd.DataFrame(X_IRIS)
    np.testing.assert_array_equal(m.predict_proba(frame), m.predict_proba(X_IRIS))
    x = m.to_tensor(X_IRIS[:5]).requires_grad_(True)
    m.logits(x).sum().backward()
    assert x.grad is not None and x.grad.shape == (5, 4)


def test_torch_classifier_with_bad_output_shape(torch):
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Unflatten(1, (2, 3)))
    with pytest.raises(ValidationError, match=r"Sequential: a classifier must return logits of "
                                              r"shape \(n, n_classes\), got \(150, 2, 3\)"):
        wrap(net).predict_proba(X_IRIS)


def test_torch_refuses_text_input(torch):
    with pytest.raises(ValidationError, match="a torch model needs numeric input"):
        wrap(torch.nn.Linear(1, 2)).predict_proba(np.array([["a"], ["b"]], dtype=object))



@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torch_model_given_the_wrong_shape_says_which_it_expects(torch):
    """TorchScript's own traceback used to leak; now the layer's expected shape is named."""
    cnn = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten()))
    with pytest.raises(ValidationError, match=r"Sequential: the model expects input "
                                              r"of shape \(n, 3, height, width\) but got "
                                              r"\(2, 1, 8, 8\) \(Given groups=1, weight of size"):
        wrap(cnn).predict_proba(np.zeros((2, 1, 8, 8)))
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3), torch.nn.Unflatten(
        1, (3, 1)), torch.nn.Conv1d(2, 1, 1))  # right width, fails later: no shape is claimed
    with pytest.raises(ValidationError, match=r"Sequential: the model failed on input of shape "
                                              r"\(2, 8, 8\) \(Given groups=1, weight of size "
                                              r".*Check that the data has the shape"):
        wrap(flat).predict_proba(np.zeros((2, 8, 8)))


# ---------------------------------------------------------------- ONNX
@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    folder = tmp_path_factory.mktemp("onnx")
    clf = LogisticRegression(max_iter=1000).fit(X_IRIS, NAMES[Y_IRIS])
    X, y = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(X.astype(np.float32), y)
    files = {
        "zipmap": (clf, skl2onnx.to_onnx(clf, X_IRIS[:1])),
        "plain": (clf, skl2onnx.to_onnx(clf, X_IRIS[:1], options={id(clf): {"zipmap": False}})),
        "regression": (reg, skl2onnx.to_onnx(reg, X.astype(np.float32)[:1])),
    }
    out = {}
    for name, (est, proto) in files.items():
        path = folder / f"{name}.onnx"
        path.write_bytes(proto.SerializeToString())
        out[name] = (est, path)
    return out


def test_onnx_classifier_with_zipmap_reads_probabilities_and_labels(onnx_files):
    clf, path = onnx_files["zipmap"]
    m = wrap(path)
    assert type(m).__name__ == "OnnxModel" and m.task == "classification"
    np.testing.assert_allclose(m.predict_proba(X_IRIS), clf.predict_proba(X_IRIS), atol=1e-5)
    assert m.classes_.tolist() == NAMES.tolist()
    np.testing.assert_array_equal(m.predict(X_IRIS), clf.predict(X_IRIS))
    assert m.name == "zipmap.onnx"


def test_onnx_classifier_without_zipmap(onnx_files):
    clf, path = onnx_files["plain"]
    m = wrap(str(path), classes=NAMES, batch_size=13)
    np.testing.assert_allclose(m.predict_proba(X_IRIS), clf.predict_proba(X_IRIS), atol=1e-5)
    np.testing.assert_array_equal(m.predict(pd.DataFrame(X_IRIS)), clf.predict(X_IRIS))


def test_onnx_regressor(onnx_files):
    reg, path = onnx_files["regression"]
    X, _ = load_diabetes(return_X_y=True)
    m = wrap(path, task="regression")
    np.testing.assert_allclose(m.predict(X), reg.predict(X.astype(np.float32)), rtol=1e-4)
    assert m.predict(X).shape == (len(X),)


def test_onnx_fingerprint_is_the_files(onnx_files):
    _, path = onnx_files["zipmap"]
    _, other = onnx_files["plain"]
    assert wrap(path).fingerprint() == wrap(path).fingerprint() != wrap(other).fingerprint()


@pytest.mark.parametrize("out_features", [3, 1])
def test_torch_exported_onnx_matches_the_torch_model(torch, tmp_path, out_features):
    pytest.importorskip("onnxruntime")
    net = _trained_net(torch, out_features)
    path = tmp_path / "net.onnx"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, 4),), str(path), dynamo=False,
                              input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    except Exception as exc:  # noqa: BLE001 - the exporter may need packages we lack offline
        pytest.skip(f"torch.onnx.export is not usable offline here: {exc}")
    np.testing.assert_allclose(wrap(path).predict_proba(X_IRIS), wrap(net).predict_proba(X_IRIS),
                               atol=1e-6)


def test_wrap_refuses_other_paths():
    with pytest.raises(ValidationError, match=r"'model.pkl' is a path; only .onnx files are "
                                              r"wrapped directly.*load_model"):
        wrap("model.pkl")


# ---------------------------------------------------------------- callables
def test_callable_classifier_and_regressor():
    proba = lambda X: np.tile([0.25, 0.75], (len(X), 1))  # noqa: E731
    m = wrap(proba, task="classification", classes=["no", "yes"])
    assert isinstance(m, CallableModel) and isinstance(m, Model)
    assert m.predict(np.zeros((3, 2))).tolist() == ["yes"] * 3
    assert m.predict_proba(np.zeros((3, 2))).shape == (3, 2)

    def total(X):
        return np.asarray(X).sum(axis=1)

    r = wrap(total, task="regression", batch_size=2)
    np.testing.assert_array_equal(r.predict(np.arange(10.0).reshape(5, 2)), [1, 5, 9, 13, 17])
    assert r.name == "total"


def test_callable_needs_a_task():
    with pytest.raises(ValidationError, match=r"a plain callable needs task='classification'.*"
                                              r"task='regression'"):
        wrap(lambda X: X)


def test_callable_with_an_unknown_task():
    with pytest.raises(ValidationError, match=r"task must be one of 'classification', "
                                              r"'regression', got 'ranking'"):
        wrap(lambda X: X, task="ranking")


def test_callable_classifier_returning_one_column_per_row_is_refused():
    m = wrap(lambda X: np.zeros(len(X)), task="classification")
    with pytest.raises(ValidationError, match=r"expected class probabilities of shape "
                                              r"\(n, n_classes\), got shape \(4,\)"):
        m.predict_proba(np.zeros((4, 2)))


def test_wrap_refuses_what_is_not_a_model():
    with pytest.raises(ValidationError, match=r"cannot use an object of type int as a model"):
        wrap(42)
