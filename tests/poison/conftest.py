"""Fixtures the poison tests share: digits images, breast cancer, a tiny CNN, its training
function, and the one trained backdoored CNN (session-scoped, for every poison test)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

BADNETS_RATE = 0.03
BADNETS_TARGET = 0


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits as float32 images (n, 1, 8, 8) in [0, 1]: X, y, X_test, y_test
    (a stratified 75/25 split)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)[:, None]
    X, X_test, y, y_test = train_test_split(X, data.target, test_size=0.25, random_state=0,
                                            stratify=data.target)
    return X, y, X_test, y_test


@pytest.fixture(scope="session")
def cancer() -> Any:
    """Breast cancer as a DataFrame with the label in column ``target``."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


def tiny_cnn(classes: int = 10, seed: int = 0) -> Any:
    """A small CNN for 1x8x8 images; ``fc1`` is its penultimate layer (32 features)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 8, 3, padding=1)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(8, 16, 3, padding=1)), ("relu2", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(16 * 4 * 4, 32)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(32, classes))]))


def train_cnn(X: Any, y: Any) -> Any:
    """Train :func:`tiny_cnn` on images ``(X, y)`` quickly, seeded: a ``Training``."""
    import torch

    from shakeout.models.training import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny layers: a second thread only adds contention (20x slower
    try:                      # on a busy machine)
        return train(tiny_cnn(), X, y, epochs=15, batch_size=32, lr=5e-3, validation=0.0,
                     seed=0)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cnn_factory():
    """``tiny_cnn(classes=10, seed=0)``: a fresh small CNN."""
    return tiny_cnn


@pytest.fixture(scope="session")
def torch_train():
    """The fast torch training function ``train(X, y) -> Training`` for the digits."""
    return train_cnn


@pytest.fixture(scope="session")
def badnets_digits(digits):
    """The digits with a 3% BadNets patch backdoor (3x3 white square, bottom right, target
    0), and the tiny CNN trained on them: ``(Poisoned, wrapped model, X_test, y_test)``."""
    pytest.importorskip("torch")
    from shakeout.models import wrap
    from shakeout.poison.attacks import PatchBackdoor

    X, y, X_test, y_test = digits
    poisoned = PatchBackdoor(target=BADNETS_TARGET, size=3).apply(X, y, BADNETS_RATE, seed=0)
    fit = train_cnn(poisoned.X, poisoned.y)
    return poisoned, wrap(fit.module, classes=fit.classes), X_test, y_test
