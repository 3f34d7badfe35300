"""Small models trained in seconds on data that ships with scikit-learn, for demos and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Trained:
    """A fitted model with its held-out test split."""

    model: Any
    X_test: Any
    y_test: np.ndarray
    X_train: Any
    y_train: np.ndarray


def digits_images(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as float32 images ``(n, 1, 8, 8)`` in [0, 1], split 75/25."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return tuple(train_test_split(X, digits.target, test_size=0.25, random_state=seed,
                                  stratify=digits.target))


def digits_cnn(seed: int = 0, epochs: int = 15) -> Trained:
    """A two-layer CNN on the digits images; about 97% test accuracy, trained in seconds.

    Inputs are ``(n, 1, 8, 8)`` float32 in [0, 1]; outputs are 10 logits.

    >>> t = digits_cnn(epochs=2)
    >>> t.X_test.shape
    (450, 1, 8, 8)
    """
    import torch
    from torch import nn

    X_train, X_test, y_train, y_test = digits_images(seed)
    gen = torch.Generator().manual_seed(seed)
    # the whole training inside the fork: dropout draws from torch's global generator
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = _digits_net()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train).long()
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(Xt), generator=gen)
            for start in range(0, len(Xt), 64):
                idx = order[start:start + 64]
                opt.zero_grad()
                nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
                opt.step()
    net.eval()
    return Trained(net, X_test, y_test, X_train, y_train)


def noisy_digits_cnn(seed: int = 0, *, sigma: float = 0.25, epochs: int = 30) -> Trained:
    """The CNN of :func:`digits_cnn` trained with Gaussian data augmentation, the base
    classifier randomized smoothing needs (Cohen, Rosenfeld & Kolter 2019, section 5).

    Trained by :func:`shakeout.models.training.train` with ``noisy(gaussian(sigma))``
    (``sigma`` in pixel units, the images being in [0, 1]) on the same split as
    :func:`digits_cnn`: under that noise it is right on about 93% of the test images, the plain
    CNN, never shown noise, on about 89% (about 98% each without noise).

    >>> t = noisy_digits_cnn(epochs=2)
    >>> t.X_test.shape, t.model.training
    ((450, 1, 8, 8), False)
    """
    import torch

    from shakeout.models.runtime import gaussian
    from shakeout.models.training import noisy, train

    X_train, X_test, y_train, y_test = digits_images(seed)
    with torch.random.fork_rng():  # the initial weights only; train() seeds the rest
        torch.manual_seed(seed)
        net = _digits_net()
    fit = train(net, X_train, y_train, epochs=epochs, lr=3e-3,
                transform=noisy(gaussian(sigma)), seed=seed)
    return Trained(fit.module, X_test, y_test, X_train, y_train)


def _digits_net():
    """The demo's CNN for ``(n, 1, 8, 8)`` images: two convolutions, max-pooling, dropout,
    10 logits; initialised from torch's global generator (the caller seeds it)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(32 * 4 * 4, 10),
    )


def breast_cancer_gbm(seed: int = 0) -> Trained:
    """A gradient-boosted classifier on the breast-cancer table (30 named numeric columns).

    >>> t = breast_cancer_gbm()
    >>> round(float((t.model.predict(t.X_test) == t.y_test).mean()), 2) > 0.9
    True
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target.to_numpy(), test_size=0.3, random_state=seed,
        stratify=data.target)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(X_train, y_train)
    return Trained(model, X_test.reset_index(drop=True), y_test,
                   X_train.reset_index(drop=True), y_train)


@dataclass(frozen=True)
class Stream:
    """A deployed model, the data it learned from, and labelled production rows over time."""

    model: Any
    reference: Any
    y_reference: np.ndarray
    holdout: tuple[Any, np.ndarray]
    events: Any
    """Production rows: the features, a ``ts`` timestamp and the ``label`` that came later."""


def drifting_stream(seed: int = 0, *, weeks: int = 8, rows_per_week: int = 2_000,
                    drift_from: int = 5) -> Stream:
    """Synthetic tabular data (scikit-learn's ``make_classification``, 8 features) and a
    logistic regression; production runs for ``weeks`` weeks, and from week ``drift_from``
    an upstream unit change scales feature ``x2`` by 1.5 and adds 1 (a silent pipeline bug).

    >>> s = drifting_stream(weeks=2, rows_per_week=100, drift_from=2)
    >>> s.events.shape, s.events["ts"].dt.isocalendar().week.nunique()
    ((200, 10), 2)
    """
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    n_train, n_holdout = 8_000, 2_000
    X, y = make_classification(n_samples=n_train + n_holdout + weeks * rows_per_week,
                               n_features=8, n_informative=5, n_redundant=1,
                               random_state=seed)
    X = pd.DataFrame(X, columns=[f"x{j}" for j in range(8)])
    model = LogisticRegression(max_iter=1_000).fit(X[:n_train], y[:n_train])
    events = X[n_train + n_holdout:].reset_index(drop=True)
    step = pd.Timedelta(days=7) / rows_per_week
    events["ts"] = pd.Timestamp("2026-01-05") + step * np.arange(len(events))  # a Monday
    late = events.index >= (drift_from - 1) * rows_per_week
    events.loc[late, "x2"] = events.loc[late, "x2"] * 1.5 + 1.0
    events["label"] = y[n_train + n_holdout:]
    holdout = (X[n_train:n_train + n_holdout].reset_index(drop=True),
               y[n_train:n_train + n_holdout])
    return Stream(model, X[:n_train], y[:n_train], holdout, events)
