"""Fixtures for the certification tests: linear classifiers with closed-form smoothing."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def linear(w: np.ndarray, b: float) -> "torch.nn.Linear":
    """A 2-class torch model whose logit gap (class 1 minus class 0) is ``w . x + b``."""
    net = torch.nn.Linear(len(w), 2)
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(np.stack([-w / 2, w / 2]), dtype=torch.float32))
        net.bias.copy_(torch.tensor([-b / 2, b / 2], dtype=torch.float32))
    return net.eval()


@pytest.fixture(scope="session")
def plane():
    """A linear classifier on 5 features, a point on its boundary and the unit normal."""
    rng = np.random.default_rng(11)
    w = rng.normal(size=5)
    b = 0.3
    normal = w / np.linalg.norm(w)
    on = rng.normal(size=5)
    on -= normal * (on @ w + b) / np.linalg.norm(w)  # projected onto w . x + b = 0
    return linear(w, b), on, normal


def digits_cnn_module() -> "torch.nn.Module":
    """A small two-layer CNN for the 8x8 digits (untrained, seeded)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))


def digits_mlp_module() -> "torch.nn.Module":
    """A one-hidden-layer MLP for the 8x8 digits (untrained, seeded)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 128),
                                   torch.nn.ReLU(), torch.nn.Linear(128, 10))


@pytest.fixture(scope="session")
def digits():
    from shakeout.demo.models import digits_images

    return digits_images(0)


@pytest.fixture(scope="session")
def noisy_cnn(digits):
    """The digits CNN trained with Gaussian data augmentation at sigma=0.25 (seconds)."""
    from shakeout.models.runtime import gaussian
    from shakeout.models.training import noisy, train

    X_train, _, y_train, _ = digits
    return train(digits_cnn_module(), X_train, y_train, epochs=8, lr=3e-3,
                 transform=noisy(gaussian(0.25)), seed=0).module
