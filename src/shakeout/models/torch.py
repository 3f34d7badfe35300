"""Torch modules: batched inference on their device, and differentiable logits for attacks."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import MissingDependencyError, ValidationError
from shakeout.models._base import TASKS, Model
from shakeout.report.result import fingerprint


def import_torch() -> Any:
    """Import torch or say how to install it."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "this needs PyTorch, which is not installed. Install it with "
            "pip install \"shakeout[torch]\" (it pins torch==2.13.0)."
        ) from None
    return torch


class TorchModel(Model):
    """Wrap an ``nn.Module`` that maps a float tensor batch to logits (or values).

    Parameters
    ----------
    module : torch.nn.Module
        Put in eval mode for inference; its parameters are not changed.
    task : {"classification", "regression"}, default="classification"
        A classifier returns logits of shape ``(n, k)`` (``(n, 1)`` means binary, read
        through a sigmoid); a regressor returns ``(n,)`` or ``(n, 1)``.
    device : str or None
        Where inputs go; by default the device of the module's first parameter.
    batch_size : int, default=1024
        Rows per forward pass during inference.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(4, 3)
    >>> model = TorchModel(net)
    >>> model.predict_proba(np.zeros((5, 4), dtype=np.float32)).shape
    (5, 3)
    >>> model.supports_gradients
    True
    """

    supports_gradients = True

    def __init__(self, module: Any, *, task: str = "classification", classes: Any = None,
                 device: str | None = None, batch_size: int = 1024):
        torch = import_torch()
        self.module = module
        self.task = check_choice(self, "task", task, TASKS)
        self.classes_ = None if classes is None else np.asarray(classes)
        self.batch_size = batch_size
        if device is None:
            param = next(iter(module.parameters()), None)
            device = str(param.device) if param is not None else "cpu"
        self.device = torch.device(device)
        self._torch = torch

    def to_tensor(self, X: Any) -> Any:
        """A float32 tensor on the model's device."""
        if isinstance(X, self._torch.Tensor):
            return X.to(self.device, dtype=self._torch.float32)
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        try:
            arr = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{self.name}: a torch model needs numeric input; got values that are not "
                "numbers. Encode categorical columns before the model."
            ) from None
        if not arr.flags.writeable:  # e.g. a DataFrame's values under copy-on-write
            arr = arr.copy()
        return self._torch.from_numpy(arr).to(self.device)

    def logits(self, x: Any) -> Any:
        """Differentiable outputs for a float tensor batch (on the model's device)."""
        return self.module(x)

    def _raw(self, X: Any) -> np.ndarray:
        torch = self._torch
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                out = self.module(self.to_tensor(X))
        finally:
            self.module.train(was_training)
        if self.task == "regression":
            return out.reshape(len(out), -1).squeeze(-1).double().cpu().numpy()
        if out.ndim != 2:
            raise ValidationError(
                f"{self.name}: a classifier must return logits of shape (n, n_classes), got "
                f"{tuple(out.shape)}."
            )
        if out.shape[1] == 1:
            p = torch.sigmoid(out.double())
            return torch.cat([1 - p, p], dim=1).cpu().numpy()
        return torch.softmax(out.double(), dim=1).cpu().numpy()

    @property
    def name(self) -> str:
        return type(self.module).__name__

    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for key, tensor in self.module.state_dict().items():
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def is_torch_module(obj: Any) -> bool:
    """True for an ``nn.Module`` (scripted ones too), checked without importing torch."""
    return any(cls.__module__.startswith("torch.") and cls.__name__ in
               ("Module", "ScriptModule", "RecursiveScriptModule")
               for cls in type(obj).__mro__)


__all__ = ["TorchModel", "import_torch", "is_torch_module", "fingerprint"]
