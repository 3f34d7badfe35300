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
