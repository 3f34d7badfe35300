"""ONNX models through onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shakeout._validation import check_choice
from shakeout.errors import MissingDependencyError, ValidationError, first_line
from shakeout.models._base import TASKS, Model
from shakeout.fingerprint import fingerprint


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OnnxModel(Model):
    """Run an ``.onnx`` file with onnxruntime on the CPU.

    For a classifier the output named like ``prob*`` is used when the graph has one (as
    scikit-learn converters write, with or without ZipMap); otherwise the first output is
    taken as logits when its rows do not already sum to one, and passed through a softmax.

    Parameters
    ----------
    path : str or Path
        The model file.
    task : {"classification", "regression"}, default="classification"
    """

    def __init__(self, path: str | Path, *, task: str = "classification", classes: Any = None,
                 batch_size: int = 65536):
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError(
                "ONNX models need onnxruntime. Install it with pip install \"shakeout[onnx]\"."
            ) from None
        self.path = Path(path)
        self.task = check_choice(self, "task", task, TASKS)
        self.batch_size = batch_size
        try:
            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own hierarchy
            raise ValidationError(
                f"{str(path)!r} is not a loadable ONNX model ({first_line(exc, limit=200)})."
            ) from None
        self.input_name = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        prob = [o for o in outputs if "prob" in o.lower()]
        self.output_name = prob[0] if (prob and self.task == "classification") else outputs[0]
        self.classes_ = None if classes is None else np.asarray(classes)

    def _raw(self, X: Any) -> np.ndarray:
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        out = self.session.run([self.output_name], {self.input_name: np.asarray(X, np.float32)})[0]
        if isinstance(out, list):  # ZipMap: a list of {class: probability} dicts
            keys = sorted(out[0])
            if self.classes_ is None:
                self.classes_ = np.asarray(keys)
            out = np.array([[row[k] for k in keys] for row in out])
        out = np.asarray(out, dtype=np.float64)
        if self.task == "regression":
            return out.reshape(len(out), -1).squeeze(-1)
        if out.ndim == 1 or out.shape[1] == 1:
            p = 1 / (1 + np.exp(-out.reshape(-1)))
            return np.column_stack([1 - p, p])
        if np.any(out < 0) or not np.allclose(out.sum(axis=1), 1, atol=1e-4):
            out = _softmax(out)
        return out

    @property
    def name(self) -> str:
        return self.path.name

    def fingerprint(self) -> str:
        return fingerprint(self.path)
