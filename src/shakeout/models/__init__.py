"""Models: ``wrap`` adapts scikit-learn, torch, ONNX and callables to one interface; each
model declares its :class:`Capabilities`; :mod:`shakeout.models.runtime` runs torch models."""

from shakeout.models._base import Capabilities, Model
from shakeout.models.callable import CallableModel
from shakeout.models.load import load_model
from shakeout.models.sklearn import SklearnModel
from shakeout.models.wrap import wrap


def __getattr__(name: str):  # torch and onnxruntime are imported only when asked for
    if name == "TorchModel":
        from shakeout.models.torch import TorchModel

        return TorchModel
    if name == "OnnxModel":
        from shakeout.models.onnx import OnnxModel

        return OnnxModel
    raise AttributeError(name)


__all__ = ["Capabilities", "CallableModel", "Model", "OnnxModel", "SklearnModel", "TorchModel",
           "load_model", "wrap"]
