"""Torch modules: batched inference on their device, and differentiable logits for attacks."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import MissingDependencyError, ValidationError
from shakeout.models._base import TASKS, Capabilities, Model


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
    >>> model.capabilities.gradients
    True
    """

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

    @property
    def capabilities(self) -> Capabilities:
        """Gradients and the module; layer activations unless the module is TorchScript
        (which takes no forward hooks)."""
        scripted = isinstance(self.module, self._torch.jit.ScriptModule)
        return Capabilities(gradients=True, module=self.module, frames=False,
                            representations=not scripted)

    def logits(self, x: Any) -> Any:
        """Differentiable outputs for a float tensor batch (on the model's device)."""
        return self.module(x)

    def representation(self, X: Any, layer: str) -> np.ndarray:
        """The activations of ``layer`` (a name from ``module.named_modules()``) for ``X``,
        in eval mode, batched: one row per input, in the layer's output shape.

        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        >>> TorchModel(net).representation(np.ones((5, 4), dtype=np.float32), "1").shape
        (5, 3)
        """
        if not self.capabilities.representations:
            raise ValidationError(
                f"{self.name} is a TorchScript module, which takes no forward hooks; load the "
                "nn.Module itself to read layer activations."
            )
        layers = dict(self.module.named_modules())
        if not layer or layer not in layers:
            known = ", ".join(name for name in layers if name)[:300] or "none"
            raise ValidationError(
                f"{self.name}: no layer {layer!r} to read activations from; its named layers: "
                f"{known}."
            )
        return self._batched(X, lambda part: self._activations(part, layers[layer]))

    def _activations(self, X: Any, layer: Any) -> np.ndarray:
        """One batch through the module, keeping what ``layer`` returns."""
        seen: list[Any] = []
        hook = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
        try:
            self._forward(self.to_tensor(X))
        finally:
            hook.remove()
        if not isinstance(seen[0], self._torch.Tensor):
            raise ValidationError(
                f"{self.name}: the layer returns {type(seen[0]).__name__}, not a tensor; pick a "
                "layer whose output is one tensor."
            )
        return seen[0].float().cpu().numpy()

    def _forward(self, x: Any) -> Any:
        """The module on ``x`` in eval mode without a graph; a shape it cannot take is an
        error saying which it expects."""
        from shakeout.models.runtime import inference

        try:
            with inference(self, grad=False) as module:
                return module(x)
        except self._torch.OutOfMemoryError:
            raise
        except RuntimeError as exc:  # a shape the module cannot take: say which it expects
            raise ValidationError(self._shape_message(tuple(x.shape), exc)) from None

    def _raw(self, X: Any) -> np.ndarray:
        torch = self._torch
        out = self._forward(self.to_tensor(X))
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

    def _shape_message(self, got: tuple[int, ...], exc: RuntimeError) -> str:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        # TorchScript prints its own traceback first; the cause is the last line
        reason = (lines[-1] if lines else type(exc).__name__).removeprefix("RuntimeError: ")
        expected = expected_input(self.module)
        if expected is not None and _mismatch(expected, got):
            shown = "(" + ", ".join(map(str, expected)) + ")"
            return (f"{self.name}: the model expects input of shape {shown} but got {got} "
                    f"({reason[:200].rstrip('.')}). Pass data with the features (or image "
                    "channels) the model was built for, in its order.")
        return (f"{self.name}: the model failed on input of shape {got} "
                f"({reason[:200].rstrip('.')}). Check that the data has the shape and layout "
                "the model was built for.")

    @property
    def name(self) -> str:
        """The module's class; a TorchScript file's original class, not its script wrapper."""
        return getattr(self.module, "original_name", type(self.module).__name__)

    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for key, tensor in self.module.state_dict().items():
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


SPATIAL = {"Conv1d": ("length",), "Conv2d": ("height", "width"),
           "Conv3d": ("depth", "height", "width")}


def expected_input(module: Any) -> tuple[int | str, ...] | None:
    """The input shape the module's first layer takes, when it is a linear or conv layer.

    >>> import torch
    >>> expected_input(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))
    ('n', 64)
    >>> expected_input(torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU()))
    ('n', 1, 'height', 'width')
    """
    for sub in module.modules():
        kind = getattr(sub, "original_name", type(sub).__name__)  # scripted modules too
        if kind == "Linear":
            return ("n", int(sub.in_features))
        if kind in SPATIAL:
            return ("n", int(sub.in_channels), *SPATIAL[kind])
        if kind not in ("Sequential", "Flatten", "Identity", "Dropout") and \
                next(sub.parameters(recurse=False), None) is not None:
            return None  # the first layer with weights is of another kind: no guess
    return None


def _mismatch(expected: tuple[int | str, ...], got: tuple[int, ...]) -> bool:
    """Whether ``got`` cannot be what ``expected`` describes (a flattened image can)."""
    if len(expected) == 2:  # (n, features): the last axis, or all of them flattened
        return int(np.prod(got[1:])) != expected[1] and got[-1] != expected[1]
    return len(got) != len(expected) or got[1] != expected[1]


def is_torch_module(obj: Any) -> bool:
    """True for an ``nn.Module`` (scripted ones too), checked without importing torch."""
    return any(cls.__module__.startswith("torch.") and cls.__name__ in
               ("Module", "ScriptModule", "RecursiveScriptModule")
               for cls in type(obj).__mro__)


__all__ = ["TorchModel", "expected_input", "import_torch", "is_torch_module"]
