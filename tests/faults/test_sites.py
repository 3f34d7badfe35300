"""find_sites: torch parameters and activations, scikit-learn arrays, ONNX initializers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shakeout.errors import ValidationError
from shakeout.faults import Site, find_sites


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 10))


def test_torch_parameters_all_by_name_and_by_type() -> None:
    net = _cnn()
    every = find_sites(net)
    assert [s.name for s in every] == ["0.weight", "0.bias", "4.weight", "4.bias"]
    first = every[0]
    assert first == Site("0.weight", "weight", "Conv2d", "float32", (4, 1, 3, 3), 36, 32, "0")
    assert [s.name for s in find_sites(net, layers=["4"])] == ["4.weight", "4.bias"]
    assert [s.name for s in find_sites(net, layers=["0.bias"])] == ["0.bias"]
    assert [s.layer_type for s in find_sites(net, layer_types=["Linear"])] == ["Linear", "Linear"]
    assert sum(s.size for s in every) == sum(p.numel() for p in net.parameters())


def test_nested_layer_name_keeps_everything_below_and_other_dtypes() -> None:
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)),
                              torch.nn.Linear(2, 1)).to(torch.float16)
    sites = find_sites(net, layers=["0"])
    assert [s.name for s in sites] == ["0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias"]
    assert {(s.dtype, s.bits) for s in sites} == {("float16", 16)}


def test_torch_activations_have_the_shape_of_one_input() -> None:
    net = _cnn()
    X = np.zeros((3, 1, 8, 8), dtype=np.float32)
    sites = find_sites(net, where="activation", X=X)
    assert [(s.name, s.layer_type, s.shape, s.size) for s in sites] == [
        ("0", "Conv2d", (4, 8, 8), 256), ("4", "Linear", (10,), 10)]
    relu = find_sites(net, where="activation", layer_types=["ReLU", "MaxPool2d"], X=X)
    assert [(s.name, s.shape) for s in relu] == [("1", (4, 8, 8)), ("2", (4, 4, 4))]
    assert [s.name for s in find_sites(net, where="activation", layers=["3"], X=X)] == ["3"]


def test_logistic_regression_coef_and_intercept(iris) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    sites = find_sites(LogisticRegression(max_iter=500).fit(X, y))
    assert [(s.name, s.layer_type, s.shape, s.dtype) for s in sites] == [
        ("coef_", "LogisticRegression", (3, 4), "float64"),
        ("intercept_", "LogisticRegression", (3,), "float64")]


def test_decision_tree_threshold_and_value(iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    sites = find_sites(tree)
    nodes = tree.tree_.node_count
    assert [(s.name, s.shape) for s in sites] == [
        ("tree_.threshold", (nodes,)), ("tree_.value", (nodes, 1, 3))]


def test_random_forest_lists_every_tree_and_gradient_boosting_its_grid(iris) -> None:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    X, y = iris
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    sites = find_sites(forest)
    assert len(sites) == 10
    assert sites[6].name == "estimators_[3].tree_.threshold"
    assert sites[6].layer == "estimators_[3]" and sites[6].layer_type == "DecisionTreeClassifier"
    assert [s.name for s in find_sites(forest, layers=["estimators_[4]"])] == [
        "estimators_[4].tree_.threshold", "estimators_[4].tree_.value"]
    boost = GradientBoostingClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    names = [s.name for s in find_sites(boost, layer_types=["DecisionTreeRegressor"])]
    assert len(names) == 12 and names[0] == "estimators_[0, 0].tree_.threshold"


def test_pipeline_and_mlp(iris) -> None:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(5,), max_iter=50,
                                                         random_state=0))
    with pytest.warns(Warning):
        pipe.fit(X, y)
    names = [s.name for s in find_sites(pipe)]
    assert names == ["mlpclassifier.coefs_[0]", "mlpclassifier.coefs_[1]",
                     "mlpclassifier.intercepts_[0]", "mlpclassifier.intercepts_[1]"]


def test_onnx_float_initializers(onnx_path) -> None:
    sites = find_sites(onnx_path)
    assert [(s.name, s.layer_type, s.layer, s.shape) for s in sites] == [
        ("W1", "onnx:Gemm", "fc1", (3, 4)), ("b1", "onnx:Gemm", "fc1", (3,)),
        ("W2", "onnx:Gemm", "fc2", (2, 3)), ("b2", "onnx:Gemm", "fc2", (2,))]
    assert [s.name for s in find_sites(onnx_path, layers=["fc2"])] == ["W2", "b2"]


def test_unknown_layer_lists_the_valid_names() -> None:
    with pytest.raises(ValidationError, match=r"Sequential has no layer 'conv9'; its valid names: "
                                              r"0, 0.bias, 0.weight, 4, 4.bias, 4.weight\."):
        find_sites(_cnn(), layers=["conv9"])
    with pytest.raises(ValidationError, match=r"no sites of type Conv3d; its types: Conv2d, Linear"):
        find_sites(_cnn(), layer_types=["Conv3d"])


def test_activations_need_torch_and_inputs(iris) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    with pytest.raises(ValidationError, match="activation faults need a torch nn.Module.*where='weight'"):
        find_sites(LogisticRegression(max_iter=500).fit(X, y), where="activation", X=X)
    with pytest.raises(ValidationError, match="activation sites need X"):
        find_sites(_cnn(), where="activation")
    with pytest.raises(ValidationError, match="where must be 'weight' or 'activation'"):
        find_sites(_cnn(), where="bias")


def test_models_without_reachable_weights_are_refused(iris) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = iris
    with pytest.raises(ValidationError, match="holds no arrays shakeout can inject into"):
        find_sites(KNeighborsClassifier().fit(X, y))
    from shakeout.models import wrap

    with pytest.raises(ValidationError, match="need a torch, scikit-learn or ONNX model"):
        find_sites(wrap(lambda X: np.ones((len(X), 2)) / 2, task="classification"))


def test_torchscript_models_have_their_weight_sites():
    """A TorchScript .pt (scripted or traced) has no get_submodule: its sites come from its
    named modules, with the layer types of the original modules."""
    from shakeout.faults import Fault, injected

    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    for saved in (torch.jit.script(net), torch.jit.trace(net, torch.ones(1, 4))):
        sites = find_sites(saved)
        assert [(s.name, s.layer_type) for s in sites] == [
            ("0.weight", "Linear"), ("0.bias", "Linear"), ("2.weight", "Linear"),
            ("2.bias", "Linear")]
        before = [p.detach().clone() for p in saved.parameters()]
        with injected(saved, [Fault(sites[0], 0, 30)]):
            assert saved.state_dict()["0.weight"].flatten()[0] != before[0].flatten()[0]
        assert all(torch.equal(a, b) for a, b in zip(before, saved.parameters()))
