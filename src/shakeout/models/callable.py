"""Plain Python functions as models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shakeout.models._base import TASKS, Capabilities, Model
from shakeout._validation import check_choice


class CallableModel(Model):
    """Wrap ``fn(X) -> outputs``: probabilities ``(n, k)`` for a classifier, values for a regressor.

    Examples
    --------
    >>> import numpy as np
    >>> m = CallableModel(lambda X: X.sum(axis=1), task="regression")
    >>> m.predict(np.ones((2, 3))).tolist()
    [3.0, 3.0]
    """

    def __init__(self, fn: Callable[[Any], Any], *, task: str, classes: Any = None,
                 batch_size: int = 65536):
        self.fn = fn
        self.task = check_choice(self, "task", task, TASKS)
        self.classes_ = None if classes is None else np.asarray(classes)
        self.batch_size = batch_size

    @property
    def capabilities(self) -> Capabilities:
        """DataFrames go to the function as they are."""
        return Capabilities(frames=True)

    def _raw(self, X: Any) -> np.ndarray:
        return np.asarray(self.fn(X), dtype=np.float64)

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", type(self.fn).__name__)
