"""Representation scanners for torch models: spectral signatures and activation clustering.

Both read a layer's activations for every training row (by default the representation
Tran et al. read: the input of the classifier head, see :func:`head`; or a layer named as in
``module.named_modules()``) and look, class by class, for a minority of rows the model
represents apart from the rest of their class, which is what a backdoor's relabelled rows
are: images of other classes that the network maps to the target through the trigger.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import as_generator, check_choice, check_number, check_positive_int
from shakeout.errors import NotFittedError, ValidationError


def _model(owner: str, model: Any) -> Any:
    """The wrapped model, which must read layer activations."""
    from shakeout.models import wrap

    if model is None:
        raise ValidationError(f"{owner} needs model=: a torch model (an nn.Module or "
                              "shakeout.wrap(module)) whose layers it reads.")
    wrapped = wrap(model)
    if not wrapped.capabilities.representations:
        raise ValidationError(f"{owner}: {wrapped.name} has no representations (layer "
                              "activations); pass model= a torch nn.Module (not TorchScript), "
                              "or use the tabular and label scanners.")
    return wrapped


def last_linear(module: Any) -> tuple[str, Any]:
    """The name and layer of a module's last ``nn.Linear`` (in registration order).

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> last_linear(net)[0]
    '2'
    """
    import torch

    found = [(name, m) for name, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not found:
        raise ValidationError(f"{type(module).__name__} has no nn.Linear layer, so it has no "
                              "penultimate layer to read; name a layer (layer=...).")
    return found[-1]


def head(module: Any) -> tuple[str, Any]:
    """The ``nn.Linear`` whose input is the default representation: the first ``nn.Linear``
    after the last convolution, or, in a network without convolutions, the last
    ``nn.Linear`` (the penultimate layer), in registration order.

    Tran et al. (2018) read a ResNet's representation at the output of its last residual
    block, the input of its one Linear layer; for a CNN with a head of several Linear
    layers that is the head's input, not the penultimate layer. On the digits with a 3%
    BadNets patch and a CNN with two Linear layers, spectral signatures at a removal budget
    of 1.5x the rate find 100% of the poisoned rows at the head's input and 85% at the
    penultimate layer, where retraining without them leaves a 58% attack success rate
    (0% from the head's input).

    >>> import torch
    >>> from torch import nn
    >>> cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 4), nn.ReLU(),
    ...                     nn.Linear(4, 2))
    >>> head(cnn)[0], head(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))[0]
    ('2', '2')
    """
    import torch

    modules = list(module.named_modules())
    convs = [i for i, (_, m) in enumerate(modules)
             if isinstance(m, torch.nn.modules.conv._ConvNd)]
    if convs:
        after = [(n, m) for n, m in modules[convs[-1]:] if isinstance(m, torch.nn.Linear)]
        if after:
            return after[0]
    return last_linear(module)


def representations(model: Any, X: Any, layer: str | None = None) -> np.ndarray:
    """A layer's activations for ``X``, one flattened row per input, ``(n, features)``.

    ``layer=None`` reads the input of the classifier head (:func:`head`): the first
    ``nn.Linear`` after the last convolution, else the last ``nn.Linear``.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> representations(net, np.ones((5, 4), dtype=np.float32)).shape
    (5, 3)
    """
    wrapped = _model("representations", model)
    if layer is not None:
        out = wrapped.representation(X, layer)
    else:
        out = linear_inputs(wrapped, X, head(wrapped.capabilities.module)[1])
    return np.asarray(out, dtype=np.float64).reshape(len(out), -1)


def linear_inputs(wrapped: Any, X: Any, layer: Any) -> np.ndarray:
    """What ``layer`` receives, batch by batch (a forward pre-hook)."""
    from shakeout.models.runtime import inference

    seen: list[Any] = []
    hook = layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    parts = []
    try:
        with inference(wrapped, grad=False) as net:
            for start in range(0, len(X), wrapped.batch_size):
                net(wrapped.to_tensor(X[start:start + wrapped.batch_size]))
                parts.append(seen.pop().float().cpu().numpy())
    finally:
        hook.remove()
    if not parts:
        raise ValidationError("representations: X is empty; pass at least one row.")
    return np.concatenate(parts)


def _labels(owner: str, y: Any, n: int) -> np.ndarray:
    if y is None:
        raise ValidationError(f"{owner} needs the labels; pass y (--target COLUMN on the "
                              "command line).")
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise ValidationError(f"{owner}: y must hold one label per row ({n}), got shape "
                              f"{labels.shape}.")
    return labels


def spectral_signature(R: Any, y: Any, *, scale: str = "mad") -> np.ndarray:
    """Spectral-signature scores of representations ``R`` ``(n, d)`` with labels ``y``.

    Tran, Li & Madry (2018), "Spectral signatures in backdoor attacks", NeurIPS: per class,
    centre the representations at the class mean and project each row on the top right
    singular vector; a backdoor's rows lie far along it. ``scale="none"`` returns the squared
    projection itself (the paper's score, which ranks rows within one class). The default
    ``"mad"`` puts every class on one scale so one removal budget ranks all rows: the
    projection's robust z, ``(p - median) / MAD``, squared; the poison is a minority of its
    class, so the median and the MAD describe its clean rows. A class of fewer than three
    rows scores 0.

    >>> rng = np.random.default_rng(0)
    >>> R = rng.normal(size=(200, 5)); y = np.repeat([0, 1], 100)
    >>> R[:10] += 6.0                                     # ten rows of class 0 apart
    >>> s = spectral_signature(R, y)
    >>> sorted(np.argsort(-s)[:10].tolist()) == list(range(10))
    True
    >>> raw = spectral_signature(R, y, scale="none")
    >>> c = R[y == 1] - R[y == 1].mean(axis=0)
    >>> bool(np.allclose(raw[y == 1], (c @ np.linalg.svd(c)[2][0]) ** 2))
    True
    """
    check_choice("spectral_signature", "scale", scale, ("mad", "none"))
    R = np.asarray(R, dtype=np.float64)
    out = np.zeros(len(R))
    for rows in _classes(y):
        if len(rows) < 3:
            continue
        centred = R[rows] - R[rows].mean(axis=0)
        top = np.linalg.svd(centred, full_matrices=False)[2][0]
        projection = centred @ top
        if scale == "none":
            out[rows] = projection ** 2
            continue
        median = np.median(projection)
        mad = np.median(np.abs(projection - median))
        spread = mad if mad > 0 else np.mean(np.abs(projection - median)) or 1.0
        out[rows] = ((projection - median) / spread) ** 2
    return out


def _classes(y: Any) -> list[np.ndarray]:
    """Row positions of each class."""
    _, codes = np.unique(np.asarray(y), return_inverse=True)
    return [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]


class SpectralSignature:
    """Scanner: spectral signatures of a torch model's representations (Tran et al. 2018).

    See :func:`spectral_signature` for the score. ``threshold`` is the squared robust z of
    3.5 (Iglewicz & Hoaglin's rule for a robust z), 12.25.

    Parameters
    ----------
    layer : str or None
        The layer to read (a name from ``module.named_modules()``); None reads the input of
        the classifier head (:func:`head`).
    scale : {"mad", "none"}, default="mad"
        How classes are put on one scale (see :func:`spectral_signature`).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    >>> scanner = SpectralSignature()
    >>> s = scanner.scores(X, np.arange(40) % 2, model=net)
    >>> s.shape, bool(np.isfinite(s).all()), scanner.reasons(s, int(np.argmax(s)))[0][:22]
    ((40,), True, 'far along the top sing')
    """

    name = "spectral_signature"
    needs = ("labels", "representations")
    threshold = 12.25

    def __init__(self, *, layer: str | None = None, scale: str = "mad"):
        self.layer = layer
        self.scale = check_choice(self, "scale", scale, ("mad", "none"))

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        R = representations(_model("SpectralSignature", model), X, self.layer)
        self.labels_ = _labels("SpectralSignature", y, len(R))
        return spectral_signature(R, self.labels_, scale=self.scale)

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        if not hasattr(self, "labels_"):
            raise NotFittedError("SpectralSignature: call scores(X, y, model) before reasons().")
        return [f"far along the top singular direction of class {self.labels_[index]!s} "
                f"(score {scores[index]:.1f})"]


def activation_clustering(R: Any, y: Any, *, dims: int = 10, reduce: str = "pca",
                          max_size: float = 0.35, seed: Any = 0) -> tuple[np.ndarray, dict]:
    """Activation-clustering scores of representations ``R`` ``(n, d)`` with labels ``y``.

    Chen et al. (2018), "Detecting backdoor attacks on deep neural networks by activation
    clustering", arXiv:1811.03728: per class, reduce the activations to ``dims`` components
    (principal components, ART's default, or independent components as in the paper, which
    whiten every component to unit variance and so weigh noise like signal), split them by
    2-means, and read the smaller cluster's relative size and the silhouette score. A
    backdoor's rows form a small, well-separated cluster of their (target) class. A row of a
    class whose smaller cluster holds at most ``max_size`` of it scores its own silhouette
    value (clipped at 0: rows nearer the other cluster score 0); every other row scores 0.

    Returns the scores and, per class label, ``(relative_size, silhouette)``.

    >>> rng = np.random.default_rng(0)
    >>> R = rng.normal(size=(200, 12)); y = np.repeat([0, 1], 100)
    >>> R[:15] += 8.0
    >>> s, per_class = activation_clustering(R, y, seed=0)
    >>> sorted(np.flatnonzero(s > 0.5).tolist()) == list(range(15)), per_class[0][0]
    (True, 0.15)
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_samples

    check_positive_int("activation_clustering", "dims", dims)
    check_choice("activation_clustering", "reduce", reduce, ("ica", "pca"))
    check_number("activation_clustering", "max_size", max_size, 0, 0.5, low_open=True)
    rng = as_generator(seed, owner="activation_clustering")
    R = np.asarray(R, dtype=np.float64)
    labels = np.asarray(y)
    out, per_class = np.zeros(len(R)), {}
    for rows in _classes(labels):
        if len(rows) < 4:
            continue
        reduced = _reduce(R[rows], min(dims, len(rows) - 1, R.shape[1]), reduce, rng)
        km = KMeans(2, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(reduced)
        if len(np.unique(km.labels_)) < 2:
            continue
        small = int(np.argmin(np.bincount(km.labels_, minlength=2)))
        size = float(np.mean(km.labels_ == small))
        sil = silhouette_samples(reduced, km.labels_)
        per_class[labels[rows[0]].item()] = (size, float(sil.mean()))
        if size <= max_size:
            members = km.labels_ == small
            out[rows[members]] = np.maximum(sil[members], 0.0)
    return out, per_class


def _reduce(R: np.ndarray, dims: int, how: str, rng: np.random.Generator) -> np.ndarray:
    from sklearn.decomposition import PCA, FastICA

    if dims < 1 or np.allclose(R, R[0]):
        return R - R.mean(axis=0)
    if how == "pca":
        return PCA(dims, svd_solver="full").fit_transform(R)
    ica = FastICA(dims, random_state=int(rng.integers(2**31 - 1)), max_iter=500, tol=1e-3)
    import warnings

    with warnings.catch_warnings():  # a few components may converge slowly: still usable
        warnings.simplefilter("ignore")
        return ica.fit_transform(R)


class ActivationClustering:
    """Scanner: activation clustering of a torch model's representations (Chen et al. 2018).

    See :func:`activation_clustering` for the score: a row's silhouette value when it lies in
    a class's small cluster; ``threshold`` 0.25 is where Kaufman & Rousseeuw (1990) call a
    clustering structure weak.

    Parameters
    ----------
    layer : str or None
        The layer to read; None reads the input of the classifier head (:func:`head`).
    dims : int, default=10
        Components kept per class (the paper's 10).
    reduce : {"pca", "ica"}, default="pca"
    max_size : float, default=0.35
        The largest relative size of a cluster taken for poison (ART's default).
    seed : int, Generator or None

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    >>> scanner = ActivationClustering(reduce="pca", dims=3)
    >>> s = scanner.scores(X, np.arange(60) % 2, model=net)
    >>> s.shape, bool((s >= 0).all() and (s <= 1).all())
    ((60,), True)
    """

    name = "activation_clustering"
    needs = ("labels", "representations")
    threshold = 0.25

    def __init__(self, *, layer: str | None = None, dims: int = 10, reduce: str = "pca",
                 max_size: float = 0.35, seed: Any = 0):
        self.layer = layer
        self.dims = check_positive_int(self, "dims", dims)
        self.reduce = check_choice(self, "reduce", reduce, ("ica", "pca"))
        self.max_size = check_number(self, "max_size", max_size, 0, 0.5, low_open=True)
        as_generator(seed, owner=self)
        self.seed = seed

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        R = representations(_model("ActivationClustering", model), X, self.layer)
        self.labels_ = _labels("ActivationClustering", y, len(R))
        scores, self.clusters_ = activation_clustering(
            R, self.labels_, dims=self.dims, reduce=self.reduce, max_size=self.max_size,
            seed=self.seed)
        return scores

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        if not hasattr(self, "labels_"):
            raise NotFittedError("ActivationClustering: call scores(X, y, model) before "
                                 "reasons().")
        label = self.labels_[index]
        size, sil = self.clusters_.get(label.item() if hasattr(label, "item") else label,
                                       (1.0, 0.0))
        return [f"in a small cluster of class {label!s} ({size:.0%} of it, silhouette "
                f"{sil:.2f})"]


__all__ = ["ActivationClustering", "SpectralSignature", "activation_clustering", "head",
           "last_linear", "linear_inputs", "representations", "spectral_signature"]
