"""Shared data for the perturbation tests: small, seeded, built in milliseconds.

Imported by the test modules of this folder (``from perturb_data import ...``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def tabular(n: int = 300, seed: int = 0) -> np.ndarray:
    """Four numeric features on very different scales."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([0, 5, -1, 2])


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two numeric and two categorical columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(40, 10, size=n),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "income": rng.lognormal(10, 1, size=n),
        "plan": rng.choice(["basic", "pro"], size=n),
    })


def images(n: int = 6, seed: int = 0, shape: tuple[int, ...] = (1, 8, 8)) -> np.ndarray:
    """Random images in [0, 1], channel-first."""
    return np.random.default_rng(seed).random((n, *shape))


def dropout_net():
    """A tiny torch classifier with a dropout layer (fixed weights)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                              torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net.eval()
