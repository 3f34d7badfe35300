"""Fixtures for the attack tests: affine models with closed-form answers, small trained nets."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def affine(W: np.ndarray, b: np.ndarray) -> "torch.nn.Linear":
    """A torch affine softmax model ``z = W x + b`` with the given weights."""
    net = torch.nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        net.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
    return net.eval()


def margins(W: np.ndarray, b: np.ndarray, X: np.ndarray, dual: float) -> np.ndarray:
    """Exact smallest perturbation that changes an affine model's prediction, per row.

    ``min_{j != y} (z_y - z_j) / ||W_y - W_j||_q`` with ``q`` the dual of the attack norm
    (``q=1`` for L-inf, ``2`` for L2, ``inf`` for L1); no bounds.
    """
    z = X @ W.T + b
    y = z.argmax(axis=1)
    out = np.full(len(X), np.inf)
    for j in range(W.shape[0]):
        diff = W[y] - W[j]
        size = np.linalg.norm(diff, ord=dual, axis=1)
        gap = z[np.arange(len(X)), y] - z[:, j]
        out = np.where(j == y, out, np.minimum(out, gap / np.where(size > 0, size, np.inf)))
    return out


@pytest.fixture(scope="session")
def linear3():
    """A 3-class affine model on 6 features and 80 points it classifies by argmax."""
    rng = np.random.default_rng(3)
    W = rng.normal(size=(3, 6))
    b = rng.normal(size=3) * 0.1
    X = rng.uniform(size=(80, 6)).astype(np.float32)
    y = (X.astype(np.float64) @ W.T + b).argmax(axis=1)
    return W, b, X, y, affine(W, b)


@pytest.fixture(scope="session")
def linear2():
    """A binary affine model (two logits) on 5 features and 120 points."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=(2, 5))
    b = np.array([0.2, -0.2])
    X = rng.uniform(size=(120, 5)).astype(np.float32)
    y = (X.astype(np.float64) @ W.T + b).argmax(axis=1)
    return W, b, X, y, affine(W, b)


@pytest.fixture(scope="session")
def digits():
    """A small MLP on the 8x8 digits images ``(n, 1, 8, 8)`` in [0, 1], trained in a second,
    and 60 test images."""
    from shakeout.demo import digits_images

    X_train, X_test, y_train, y_test = digits_images(0)
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 10))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train).long()
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    return net, X_test[:60], y_test[:60]


@pytest.fixture(scope="session")
def tabular():
    """Logistic regression on standardised breast-cancer features, as a DataFrame, with a
    whole-number column and a coded category added."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :6].copy()
    rng = np.random.default_rng(0)
    X["visits"] = rng.integers(0, 10, size=len(X))
    X["plan"] = rng.choice([0.0, 1.0, 2.0], size=len(X))
    y = data.target.to_numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    return clf, X.iloc[:80].reset_index(drop=True), y[:80], X
