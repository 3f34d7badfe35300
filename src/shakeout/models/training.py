"""A seeded training loop for a torch classifier: shuffled mini-batches, a validation split,
early stopping on the validation loss, progress, and a per-batch input transform.

The transform is where training for robustness plugs in: Gaussian data augmentation, which
randomized smoothing needs (a base classifier trained without noise is rarely right under
it, so its smoothed version certifies almost nothing; Cohen, Rosenfeld & Kolter 2019,
section 5), is :func:`noisy` of the torch runtime's noise; adversarial training passes a
transform that attacks the batch, with the labels and the module it is given.

Examples
--------
>>> import numpy as np, torch
>>> from shakeout.models.runtime import gaussian
>>> from shakeout.models.training import noisy, train
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 2)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
>>> fit = train(torch.nn.Linear(2, 2), X, y, epochs=20, lr=0.05,
...             transform=noisy(gaussian(0.1)), seed=0)
>>> fit.best_epoch <= len(fit.history) <= 20, fit.history[-1]["val_accuracy"] > 0.9
(True, True)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._progress import progress
from shakeout._validation import (Seed, as_finite_array, as_generator, check_choice,
                                  check_number, check_positive_int)
from shakeout.errors import ValidationError
from shakeout.models.runtime import Noise, _seeded_global, torch_generator, torch_module
from shakeout.models.torch import TorchModel, import_torch
from shakeout.models.wrap import wrap

Transform = Callable[[Any, Any, Any, Any], Any]
"""``transform(x, y, module, generator)`` -> the batch the model trains on (same shape)."""


def noisy(noise: Noise) -> Transform:
    """A training transform that adds ``noise`` (e.g. ``gaussian(sigma)``) to each batch.

    >>> import torch
    >>> from shakeout.models.runtime import gaussian
    >>> gen = torch.Generator().manual_seed(0)
    >>> out = noisy(gaussian(1.0))(torch.zeros(10_000), None, None, gen)
    >>> round(float(out.std()), 1)
    1.0
    """
    return lambda x, y, module, gen: noise(x, gen)


@dataclass(frozen=True)
class Training:
    """A trained classifier and how it got there.

    Attributes
    ----------
    module : torch.nn.Module
        A trained copy of the module given (in eval mode), with the weights of its best
        epoch; the module given is not changed.
    classes : numpy.ndarray
        The labels in the order of the module's outputs (sorted).
    history : tuple of dict
        Per epoch: ``train_loss``, ``val_loss`` and ``val_accuracy`` (NaN without a
        validation split).
    best_epoch : int
        The epoch (from 1) whose weights were kept: the lowest validation loss.
    stopped_early : bool
        Whether ``patience`` epochs without improvement ended the training.
    checkpoints : tuple of Checkpoint
        With ``checkpoints=True``, the weights at the end of every epoch; else empty.
    """

    module: Any
    classes: np.ndarray
    history: tuple[dict[str, float], ...]
    best_epoch: int
    stopped_early: bool
    checkpoints: tuple[Checkpoint, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """The weights at the end of one epoch (``train(..., checkpoints=True)``), on the CPU,
    with the step size they were trained at: what TracIn sums over
    (:func:`shakeout.poison.influence.tracin`)."""

    epoch: int
    lr: float
    state: dict[str, Any]


def train(module: Any, X: Any, y: Any, *, epochs: int = 30, batch_size: int = 64,
          lr: float = 1e-3, weight_decay: float = 0.0, validation: float = 0.2,
          patience: int = 5, transform: Transform | None = None,
          validate_transformed: bool = True, trim: float = 0.0, checkpoints: bool = False,
          seed: Seed = 0, quiet: bool = True) -> Training:
    """Train a copy of a torch classifier with Adam and cross-entropy, seeded.

    Parameters
    ----------
    module : torch.nn.Module (or a wrapped torch model)
        Maps a float batch of ``X``'s rows to logits ``(n, n_classes)``; trained on its
        device.
    X, y : array of shape ``(m, ...)`` and ``m`` labels
    epochs : int, default=30
        At most this many passes over the training rows.
    batch_size : int, default=64
    lr, weight_decay : float, default=1e-3, 0.0
        Adam's step size and L2 penalty (Kingma & Ba 2015).
    validation : float, default=0.2
        Share of rows held out (at random) for early stopping, in [0, 1); 0 trains on all
        rows for ``epochs`` epochs and keeps the last.
    patience : int, default=5
        Epochs without a lower validation loss before training stops.
    transform : callable or None
        ``transform(x, y, module, generator)`` returns the batch to train on: :func:`noisy`
        for data augmentation; adversarial training attacks ``x``.
    validate_transformed : bool, default=True
        Measure the validation loss on transformed inputs too (the same draws every epoch),
        so early stopping picks the weights best at what they are trained for.
    trim : float, default=0.0
        Trimmed loss against poisoned or mislabelled rows, in [0, 0.5): from the second
        epoch on, each epoch first computes every training row's loss under the current
        weights (untransformed, in eval mode) and leaves out the ``trim`` share with the
        highest losses; the epoch's batches are drawn from the rest. This is iterative
        trimmed loss minimisation (Shen & Sanghavi 2019, "Learning with bad training data
        via iterative trimmed loss minimization", ICML), one trimming per epoch: per epoch
        rather than per batch so that the share dropped is the share of the whole training
        set (a batch of 32 holds 0 or 3 bad rows, not 0.3) and a row is judged against every
        other row; the first epoch trains on all rows because an untrained network's losses
        rank nothing. With 0 (the default) nothing is computed and the draws, the batches
        and the weights are those of the untrimmed loop, bit for bit.
    checkpoints : bool, default=False
        Keep a copy of the weights at the end of every epoch (``Training.checkpoints``),
        for TracIn.
    seed : int, Generator or None
        Shuffling, the split, the transform's draws and dropout: the same seed gives the
        same weights on the CPU.
    quiet : bool, default=True
        Hide the progress bar (one step per epoch).
    """
    torch = import_torch()
    net = copy.deepcopy(torch_module(wrap(module), "train"))
    check_positive_int("train", "epochs", epochs)
    check_positive_int("train", "batch_size", batch_size)
    check_number("train", "lr", lr, 0, low_open=True)
    check_number("train", "weight_decay", weight_decay, 0)
    check_number("train", "validation", validation, 0, 1, high_open=True)
    check_positive_int("train", "patience", patience)
    check_choice("train", "validate_transformed", validate_transformed, (True, False))
    check_number("train", "trim", trim, 0, 0.5, high_open=True)
    check_choice("train", "checkpoints", checkpoints, (True, False))
    x = as_finite_array(X.to_numpy() if hasattr(X, "to_numpy") else X, name="X",
                        dtype=np.float32)
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValidationError(f"train: y must be one label per row of X ({len(x)}), got shape "
                              f"{labels.shape}.")
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValidationError(f"train: y holds one class ({classes[0]!r}); a classifier needs "
                              "at least two.")
    rng = as_generator(seed, owner="train")
    order = rng.permutation(len(x))
    held = int(round(validation * len(x)))
    if validation and not 0 < held < len(x):
        raise ValidationError(f"train: validation={validation} holds out {held} of {len(x)} "
                              "rows; leave at least one on each side, or pass validation=0.")
    model = TorchModel(net)

    def put(idx: np.ndarray) -> tuple[Any, Any]:
        return model.to_tensor(x[idx]), torch.as_tensor(codes[idx], device=model.device)

    fit, val = order[held:], order[:held]
    loop = _Loop(model, torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay),
                 transform, torch_generator(rng, model.device), int(rng.integers(2**63 - 1)))
    history: list[dict[str, float]] = []
    best, best_loss, best_state, waited, saved = 0, np.inf, None, 0, []
    with _seeded_global(torch, model.device, rng):
        for epoch in progress(range(1, epochs + 1), total=epochs, description="training",
                              quiet=quiet):
            rows = loop.kept(fit, trim, batch_size, put) if trim and epoch > 1 else fit
            train_loss = loop.epoch(rows[rng.permutation(len(rows))], batch_size, put)
            if checkpoints:
                saved.append(Checkpoint(epoch, lr, {k: v.detach().cpu().clone()
                                                    for k, v in net.state_dict().items()}))
            val_loss, val_acc = loop.validate(val, batch_size, put, validate_transformed)
            history.append({"train_loss": train_loss, "val_loss": val_loss,
                            "val_accuracy": val_acc})
            score = val_loss if held else -epoch  # without a split, the last epoch is best
            if score < best_loss:
                best, best_loss, waited = epoch, score, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                waited += 1
                if waited >= patience:
                    break
    net.load_state_dict(best_state)
    net.eval()
    return Training(net, classes, tuple(history), best, stopped_early=len(history) < epochs,
                    checkpoints=tuple(saved))


class _Loop:
    """One model's optimisation: a training epoch and a validation pass."""

    def __init__(self, model: TorchModel, opt: Any, transform: Transform | None, gen: Any,
                 val_seed: int):
        self.model, self.opt, self.transform, self.gen = model, opt, transform, gen
        self.val_seed = val_seed

    def epoch(self, rows: np.ndarray, batch_size: int, put: Callable) -> float:
        import torch.nn.functional as F

        net = self.model.module
        total = 0.0
        for start in range(0, len(rows), batch_size):
            xb, yb = put(rows[start:start + batch_size])
            if self.transform is not None:
                net.eval()  # an attacking transform sees the model as it will be used
                xb = self.transform(xb, yb, net, self.gen).detach()
            net.train()
            self.opt.zero_grad()
            loss = F.cross_entropy(self._logits(xb), yb)
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(xb)
        return total / len(rows)

    def kept(self, rows: np.ndarray, trim: float, batch_size: int, put: Callable) -> np.ndarray:
        """``rows`` without the ``trim`` share whose loss is highest now (ties: the later
        rows go), in their given order."""
        import torch
        import torch.nn.functional as F

        net = self.model.module
        net.eval()
        losses = []
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                xb, yb = put(rows[start:start + batch_size])
                losses.append(F.cross_entropy(self._logits(xb), yb, reduction="none").cpu())
        order = np.argsort(torch.cat(losses).double().numpy(), kind="stable")
        keep = len(rows) - int(np.floor(trim * len(rows)))
        return rows[np.sort(order[:keep])]

    def validate(self, rows: np.ndarray, batch_size: int, put: Callable,
                 transformed: bool) -> tuple[float, float]:
        """Mean loss and accuracy on the held-out rows (NaN, NaN without any)."""
        import torch
        import torch.nn.functional as F

        if not len(rows):
            return float("nan"), float("nan")
        net = self.model.module
        net.eval()
        gen = torch.Generator(device=self.model.device).manual_seed(self.val_seed)
        loss, right = 0.0, 0
        for start in range(0, len(rows), batch_size):
            xb, yb = put(rows[start:start + batch_size])
            if transformed and self.transform is not None:
                xb = self.transform(xb, yb, net, gen).detach()
            with torch.no_grad():
                logits = self._logits(xb)
            loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            right += int((logits.argmax(dim=1) == yb).sum())
        return loss / len(rows), right / len(rows)

    def _logits(self, xb: Any) -> Any:
        out = self.model.module(xb)
        if out.ndim != 2 or out.shape[1] < 2:
            raise ValidationError(
                f"train: the module must return logits of shape (n, n_classes) with at least "
                f"two classes, got {tuple(out.shape)}."
            )
        return out


__all__ = ["Checkpoint", "Training", "Transform", "noisy", "train"]
