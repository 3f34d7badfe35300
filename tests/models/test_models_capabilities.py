"""Every wrapped model declares what it can do; a torch model reads a named layer's activations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shakeout.errors import ValidationError
from shakeout.models import Capabilities, wrap

X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int)


def test_generic_models_declare_no_gradients_and_no_module():
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    fitted_on_frame = wrap(LogisticRegression().fit(frame, Y)).capabilities
    assert fitted_on_frame == Capabilities(frames=True, feature_names=("a", "b", "c"))
    assert wrap(LogisticRegression().fit(X, Y)).capabilities == Capabilities(frames=True)
    assert wrap(lambda X: np.ones((len(X), 2)) / 2, task="classification").capabilities == \
        Capabilities(frames=True)


def test_onnx_model_declares_none(tmp_path):
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path / "m.onnx"
    path.write_bytes(skl2onnx.to_onnx(LogisticRegression().fit(X, Y), X[:1])
                     .SerializeToString())
    assert wrap(str(path)).capabilities == Capabilities()


def test_torch_model_declares_gradients_module_and_representations():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    caps = wrap(net).capabilities
    assert caps.gradients and caps.module is net and caps.representations
    assert not caps.frames and caps.feature_names is None


def test_representation_is_the_layer_output_in_eval_mode_batched():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Dropout(0.5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 2)).train()
    model = wrap(net, batch_size=7)  # 40 rows: six batches
    hidden = model.representation(X, "2")
    with torch.no_grad():
        expected = torch.relu(net[0](torch.from_numpy(X))).numpy()
    np.testing.assert_allclose(hidden, expected, rtol=1e-6)  # dropout off: eval mode
    assert net.training  # the caller's mode comes back
    assert not net[0]._forward_hooks and not net[2]._forward_hooks  # no hook left behind
    np.testing.assert_allclose(model.representation(pd.DataFrame(X), "0"),
                               net[0](torch.from_numpy(X)).detach().numpy(), rtol=1e-6)


def test_representation_errors_name_the_layers_or_the_reason():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU())
    with pytest.raises(ValidationError, match=r"Sequential: no layer 'fc' to read activations "
                                              r"from; its named layers: 0, 1\."):
        wrap(net).representation(X, "fc")
    with pytest.raises(ValidationError, match="LogisticRegression has no layers to read"):
        wrap(LogisticRegression().fit(X, Y)).representation(X, "0")
    lstm = torch.nn.LSTM(3, 2, batch_first=True)
    with pytest.raises(ValidationError, match="the layer returns tuple, not a tensor"):
        wrap(torch.nn.Sequential(lstm), task="regression").representation(X[:, None, :], "0")


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_has_no_representations():
    torch = pytest.importorskip("torch")
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    model = wrap(scripted)
    assert model.capabilities.gradients and not model.capabilities.representations
    with pytest.raises(ValidationError, match="TorchScript module, which takes no forward hooks"):
        model.representation(X, "0")
