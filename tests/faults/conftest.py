"""Models the fault tests share: a tiny linear torch classifier with known weights, the demo's
digits CNN (trained once per session, in a few seconds), an ONNX file, fitted scikit-learn
models, and :func:`snapshot` to compare a model's stored bytes before and after."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The linear classifier: logits = X @ W.T + B for 3 features, 2 classes.
LINEAR_W = np.array([[1.0, -1.0, 0.5], [-0.5, 1.0, -1.0]], dtype=np.float32)
LINEAR_B = np.array([0.25, -0.25], dtype=np.float32)


@pytest.fixture
def linear_net() -> Any:
    """``torch.nn.Linear(3, 2)`` with weights :data:`LINEAR_W` and bias :data:`LINEAR_B`."""
    import torch

    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(LINEAR_W))
        net.bias.copy_(torch.from_numpy(LINEAR_B))
    return net.eval()


@pytest.fixture
def linear_X() -> np.ndarray:
    """Twenty seeded float32 rows for :func:`linear_net`."""
    return np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def digits() -> Any:
    """The demo's digits CNN (4 epochs, about 95% test accuracy) with its data: ``.model``,
    ``.X_test`` (450, 1, 8, 8) float32, ``.y_test``. Shared by the session: a test that
    injects faults must restore them (which is what the injector promises)."""
    pytest.importorskip("torch")
    from shakeout.demo.models import digits_cnn

    return digits_cnn(seed=0, epochs=4)


@pytest.fixture
def onnx_path(tmp_path: Path) -> Path:
    """An ONNX file: Gemm (4 -> 3, float32 initializers "W1", "b1"), Relu, Gemm (3 -> 2,
    "W2", "b2"), built with onnx.helper."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    inits = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=3),
             "W2": rng.normal(size=(2, 3)), "b2": rng.normal(size=2)}
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["logits"], transB=1, name="fc2")]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture
def iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture
def snapshot() -> Callable[[Any], dict[str, bytes]]:
    """``snapshot(model)``: every stored array of a model as bytes, by name (torch
    parameters and buffers, the arrays of scikit-learn sites, ONNX initializers as the
    running session would read them: the file's and the session's outputs on fixed input)."""
    from shakeout.faults.sites import weight_targets
    from shakeout.models import wrap

    def take(model: Any) -> dict[str, bytes]:
        wrapped = wrap(model)
        module = wrapped.capabilities.module
        if module is not None:
            return {k: v.detach().cpu().contiguous().numpy().tobytes()
                    for k, v in module.state_dict(keep_vars=True).items()}
        out = {site.name: np.ascontiguousarray(array).tobytes()
               for site, array in weight_targets(wrapped)}
        if hasattr(wrapped, "session"):
            probe = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
            out["session outputs"] = wrapped.session.run(None, {wrapped.input_name: probe})[0].tobytes()
        return out

    return take
