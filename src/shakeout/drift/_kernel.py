"""RBF-kernel products for MMD permutation tests, on the CPU (numpy) or a GPU (torch).

Every permutation of the pooled sample is a column of weights ``w`` (``1/m`` on rows
labelled reference, ``-1/n`` on rows labelled current); the biased MMD estimate of that
labelling is ``w^T K w``. The kernel matrix is built in row blocks and multiplied at once
by all weight columns, so its cost is paid once for every permutation and memory stays at
one block.
"""

from __future__ import annotations

import numpy as np

from shakeout.errors import MissingDependencyError, ValidationError

DEVICES = ("auto", "cpu", "cuda")


GPU_MIN_ROWS = 10_000
"""``device="auto"`` considers a GPU from this many pooled rows; below, numpy is as fast."""


def resolve_device(device: str, n_rows: int | None = None) -> str:
    """``auto`` picks ``cuda`` when torch sees a GPU and the problem is big enough, else ``cpu``."""
    if device == "cpu" or (device == "auto" and n_rows is not None and n_rows < GPU_MIN_ROWS):
        return "cpu"
    try:
        import torch
    except ImportError:
        if device == "cuda":
            raise MissingDependencyError(
                "MMDTest(device='cuda') needs torch: pip install 'shakeout[torch]'."
            ) from None
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ValidationError("MMDTest: device='cuda' was asked for but torch sees no GPU; "
                              "use device='auto' or 'cpu'.")
    return "cpu"


def median_bandwidth(X: np.ndarray, rng: np.random.Generator, max_points: int = 1000) -> float:
    """Median Euclidean distance between distinct pooled points (on a seeded subsample).

    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> median_bandwidth(X, np.random.default_rng(0))
    2.0
    """
    if len(X) > max_points:
        X = X[rng.choice(len(X), max_points, replace=False)]
    Z = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", Z, Z)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (Z @ Z.T)
    d2 = d2[~np.eye(len(Z), dtype=bool)]
    med = float(np.sqrt(max(np.median(np.maximum(d2, 0.0)), 0.0)))
    return med if med > 0 else 1.0


def kernel_times(X: np.ndarray, W: np.ndarray, bandwidth: float, *, device: str = "cpu",
                 block: int = 2048) -> np.ndarray:
    """``K @ W`` for the RBF kernel ``exp(-|x - y|^2 / (2 bandwidth^2))``, in float32 blocks.

    >>> X = np.array([[0.0], [1.0]])
    >>> kernel_times(X, np.eye(2, dtype=np.float32), 1.0).astype(float).round(4).tolist()
    [[1.0, 0.6065], [0.6065, 1.0]]
    """
    gamma = 1.0 / (2.0 * bandwidth ** 2)
    if device == "cuda":
        return _kernel_times_torch(X, W, gamma, block)
    X = np.ascontiguousarray(X, dtype=np.float32)
    W = np.ascontiguousarray(W, dtype=np.float32)
    sq = np.einsum("ij,ij->i", X, X)
    out = np.empty((len(X), W.shape[1]), dtype=np.float32)
    for start in range(0, len(X), block):
        stop = min(start + block, len(X))
        K = X[start:stop] @ X.T
        K *= -2.0
        K += sq[start:stop, None]
        K += sq[None, :]
        np.maximum(K, 0.0, out=K)
        K *= np.float32(-gamma)
        np.exp(K, out=K)
        np.matmul(K, W, out=out[start:stop])
    return out


def _kernel_times_torch(X: np.ndarray, W: np.ndarray, gamma: float, block: int) -> np.ndarray:
    import torch

    dev = torch.device("cuda")
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev)
    Wt = torch.as_tensor(np.asarray(W, dtype=np.float32), device=dev)
    sq = (Xt * Xt).sum(dim=1)
    out = torch.empty((Xt.shape[0], Wt.shape[1]), dtype=torch.float32, device=dev)
    step = max(block, 8192)
    for start in range(0, Xt.shape[0], step):
        stop = min(start + step, Xt.shape[0])
        K = Xt[start:stop] @ Xt.T
        K.mul_(-2.0).add_(sq[start:stop, None]).add_(sq[None, :]).clamp_(min=0.0)
        K.mul_(-gamma).exp_()
        out[start:stop] = K @ Wt
    return out.cpu().numpy()


def random_features(X: np.ndarray, bandwidth: float, n_features: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Random Fourier features whose inner products approximate the RBF kernel.

    Rahimi & Recht (2007).

    >>> Z = random_features(np.zeros((2, 3)), 1.0, 4096, np.random.default_rng(0))
    >>> round(float(Z[0] @ Z[1]), 1)  # k(x, x) = 1
    1.0
    """
    d = X.shape[1]
    omega = rng.normal(0.0, 1.0 / bandwidth, size=(d, n_features))
    phase = rng.uniform(0.0, 2 * np.pi, size=n_features)
    Z = X.astype(np.float64) @ omega
    Z += phase
    np.cos(Z, out=Z)
    Z *= np.sqrt(2.0 / n_features)
    return Z.astype(np.float32)
