"""The Model abstraction: one interface over every kind of model shakeout can test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._cores import beside, leave_a_core
from shakeout.errors import GradientUnavailableError, ValidationError

TASKS = ("classification", "regression")
BLACK_BOX_ATTACKS = "SquareAttack, HopSkipJump or a TransferAttack"


@dataclass(frozen=True)
class Capabilities:
    """What a wrapped model can do beyond ``predict_proba`` / ``predict``.

    Every pillar asks ``model.capabilities`` instead of probing the model's attributes.

    Attributes
    ----------
    gradients : bool
        ``model.logits(x)`` is differentiable (white-box attacks, adversarial training).
    module : torch.nn.Module or None
        The torch module behind the model (model-side perturbations, the torch runtime).
    frames : bool
        DataFrames go to the model as they are (a pipeline with its own column encoders).
    feature_names : tuple of str or None
        The column names the model was fitted on, in order, when it records them.
    representations : bool
        ``model.representation(X, layer)`` returns the activations of a named layer.

    Examples
    --------
    >>> from shakeout.models import wrap
    >>> caps = wrap(lambda X: X.sum(axis=1), task="regression").capabilities
    >>> caps.gradients, caps.module, caps.frames
    (False, None, True)
    """

    gradients: bool = False
    module: Any = None
    frames: bool = False
    feature_names: tuple[str, ...] | None = None
    representations: bool = False


class Model:
    """A wrapped model: ``predict_proba`` and ``predict`` over arrays or DataFrames.

    Subclasses implement :meth:`_raw` (probabilities for classification, values for
    regression) for one batch. Everything that needs only predictions works on any Model;
    what a model can do beyond that (gradients, a torch module, DataFrames, feature names,
    layer activations) it declares in :attr:`capabilities`.

    Attributes
    ----------
    task : {"classification", "regression"}
    classes_ : numpy.ndarray or None
        Class labels in the column order of ``predict_proba``.
    batch_size : int
        Rows per call to the underlying model.
    """

    task: str = "classification"
    classes_: np.ndarray | None = None
    batch_size: int = 4096

    @property
    def capabilities(self) -> Capabilities:
        """What this model can do beyond predictions; none of it for a generic model."""
        return Capabilities()

    def _raw(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _batches(self, X: Any) -> Iterator[tuple[slice, Any]]:
        """``(rows, X[rows])`` for the batches of ``batch_size`` rows (all of ``X`` at once
        when it fits in one)."""
        n = len(X)
        if n == 0:
            raise ValidationError("X is empty; pass at least one row to predict.")
        if n <= self.batch_size:
            yield slice(0, n), X
            return
        take = (lambda s: X.iloc[s]) if hasattr(X, "iloc") else (lambda s: X[s])
        for i in range(0, n, self.batch_size):
            rows = slice(i, min(i + self.batch_size, n))
            yield rows, take(rows)

    def _batched(self, X: Any, run: Callable[[Any], np.ndarray] | None = None) -> np.ndarray:
        """``run`` (default :meth:`_raw`) over batches of ``batch_size`` rows, concatenated."""
        parts = [(run or self._raw)(part) for _, part in self._batches(X)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _shaped(self, raw: Any, n: int) -> np.ndarray:
        """The model's answer for ``n`` rows as float64: ``(n, n_classes)`` probabilities of
        a classifier, ``(n,)`` values of a regressor."""
        if self.task != "classification":
            return np.asarray(raw, dtype=np.float64).reshape(n, -1).squeeze(-1)
        proba = np.asarray(raw, dtype=np.float64)
        if proba.ndim != 2:
            raise ValidationError(
                f"{self.name}: expected class probabilities of shape (n, n_classes), "
                f"got shape {proba.shape}."
            )
        return proba

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, rows summing to one."""
        if self.task != "classification":
            raise ValidationError(
                f"{self.name}: predict_proba needs a classifier, but this model is a "
                "regressor; use predict(X)."
            )
        return self._shaped(self._batched(X), len(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression), shape ``(n,)``."""
        if self.task == "classification":
            proba = self.predict_proba(X)
            classes = self.classes_ if self.classes_ is not None else np.arange(proba.shape[1])
            return np.asarray(classes)[proba.argmax(axis=1)]
        return self._shaped(self._batched(X), len(X))

    def each_batch(self, X: Any, consume: Callable[[slice, np.ndarray], None], *,
                   overlap: bool = True) -> None:
        """:meth:`outputs` of ``X`` a batch of ``batch_size`` rows at a time, each handed to
        ``consume(rows, outputs)``: on a second core while the model predicts the next batch
        (``overlap=False``: right after it, while the batch's answers are in the cache).

        A kernel over the model's answers (conformal sets, intervals) then costs little beyond
        the model's own time, and memory holds a few batches of answers, not all of them.
        ``consume`` must treat rows independently: its results are then the same on any
        number of cores. A kernel of one or two array operations is cheaper in the cache
        than handed to another thread; pass ``overlap=False`` for it.

        >>> from shakeout.models import wrap
        >>> m = wrap(lambda X: X.sum(axis=1), task="regression", batch_size=2)
        >>> seen = []
        >>> m.each_batch(np.ones((5, 3)), lambda rows, y: seen.append((rows.start, y.tolist())))
        >>> seen
        [(0, [3.0, 3.0]), (2, [3.0, 3.0]), (4, [3.0])]
        """
        batches = ((rows, self._shaped(self._raw(part), rows.stop - rows.start))
                   for rows, part in self._batches(X))
        if not overlap or len(X) <= self.batch_size:  # one batch: nothing to overlap
            for batch in batches:
                consume(*batch)
            return
        with leave_a_core():
            beside(batches, lambda batch: consume(*batch))

    def outputs(self, X: Any) -> np.ndarray:
        """Probabilities for a classifier, values for a regressor: the model's raw answer."""
        return self.predict_proba(X) if self.task == "classification" else self.predict(X)

    def encode_labels(self, y: Any) -> np.ndarray:
        """Map labels to column indices of ``predict_proba``; unknown labels are an error.

        >>> from shakeout.models import wrap
        >>> m = wrap(lambda X: np.tile([0.2, 0.8], (len(X), 1)), task="classification",
        ...          classes=["no", "yes"])
        >>> m.encode_labels(["yes", "no"]).tolist()
        [1, 0]
        """
        y = np.asarray(y)
        classes = self.classes_
        if classes is None:  # labels must already be column indices
            try:
                codes = y.astype(np.int64)
                exact = y.dtype.kind in "biufO" and bool(np.all(codes == y))
            except (TypeError, ValueError):
                exact = False
            if not exact:
                shown = sorted({str(v) for v in y.ravel().tolist()})[:5]
                raise ValidationError(
                    f"{self.name}: the model does not name its classes, so labels must be class "
                    f"indices 0, 1, ...; got {shown}. Pass classes=[...] to wrap (in the order of "
                    "the model's outputs), or encode the target as indices."
                )
            return codes
        classes = np.asarray(classes)
        codes = _match_labels(classes, y.ravel())
        if np.any(codes < 0):
            unknown = sorted({str(v) for v in y.ravel()[codes < 0].tolist()})[:5]
            raise ValidationError(
                f"{self.name}: labels {unknown} are not among the model's classes "
                f"{[str(c) for c in classes][:10]}. Check the target column: it must hold the "
                "labels the model was fitted on (encoded as they were for training)."
            )
        return codes.reshape(y.shape)

    def logits(self, x: Any) -> Any:
        """Differentiable scores; only torch models have them."""
        raise GradientUnavailableError(
            f"{self.name} has no gradients (it is not a torch module). White-box attacks need "
            f"gradients; use a black-box attack instead: {BLACK_BOX_ATTACKS}."
        )

    def representation(self, X: Any, layer: str) -> np.ndarray:
        """The activations of ``layer`` for ``X``; only torch models have layers to read."""
        raise ValidationError(
            f"{self.name} has no layers to read activations from (it is not a torch module); "
            "representations need a torch model."
        )

    @property
    def name(self) -> str:
        return type(self).__name__

    def fingerprint(self) -> str:
        """A short hash of the model's parameters or serialised form."""
        from shakeout.fingerprint import fingerprint

        return fingerprint(repr(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, classes={self._classes_repr()})"

    def _classes_repr(self) -> str:
        if self.classes_ is None:
            return "None"
        return str(len(self.classes_))


def _match_labels(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The column of each label among ``classes``, -1 where it has none.

    Equal values match first (without sorting, so labels and classes of different types never
    meet ``<``); then labels that differ from a class only in type: the same number (``True``
    for ``1``, ``1.0`` for ``1``) or the same text (``1`` read from a csv for a model fitted
    on ``"1"``), as long as that reading tells the classes apart.

    >>> _match_labels(np.array(["0", "1"]), np.array([1, 0, 2])).tolist()
    [1, 0, -1]
    >>> _match_labels(np.array([0, 1]), np.array(["yes", True], dtype=object)).tolist()
    [-1, 1]
    """
    import pandas as pd

    codes = pd.Index(classes).get_indexer(y)
    for key in (_as_numbers, _as_text):
        if np.all(codes >= 0):
            break
        keys, values = key(classes), key(y)
        if keys is None or values is None or not pd.Index(keys).is_unique:
            continue
        codes = np.where(codes >= 0, codes, pd.Index(keys).get_indexer(values))
    return codes


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    """Booleans and numbers as floats; None for anything else."""
    import pandas as pd

    numeric = ("boolean", "integer", "floating", "mixed-integer-float")
    if pd.api.types.infer_dtype(values, skipna=False) in numeric:
        return values.astype(np.float64)
    return None


def _as_text(values: np.ndarray) -> np.ndarray:
    return values.astype(str)
