"""Transfer attack: fit a surrogate to the model's answers, attack the surrogate, try the result."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from shakeout._validation import Seed, as_generator, check_number, check_positive_int
from shakeout.attacks._base import Attack
from shakeout.attacks._inputs import Inputs
from shakeout.attacks.threat import Domain
from shakeout.errors import ValidationError
from shakeout.models import Model
from shakeout.models.runtime import torch_generator
from shakeout.models.torch import TorchModel


class TransferAttack(Attack):
    """Attack a differentiable copy of a model and carry the examples over to the model.

    ``fit(model, X)`` asks the model for its labels on ``X`` and on ``augment`` noisy copies
    of each row (Gaussian, ``noise`` times the valid range), and trains a torch surrogate to
    reproduce them. ``apply`` runs a white-box ``attack`` on the surrogate and returns its
    examples; how many of them also fool the model is the transfer rate. Without ``fit``,
    ``apply`` fits a surrogate on the rows it attacks, for that call only. Works on any
    classifier, gradient-boosted trees included: it needs the model's labels only.

    Parameters
    ----------
    eps : float
        Budget in ``norm``, in the model's input space.
    norm : {"linf", "l2", "l1"}, default="linf"
    attack : Attack or None
        White-box attack run on the surrogate; it is given this attack's ``eps``, ``norm``,
        ``bounds`` and ``constraints``. Default ``PGD(steps=20)``.
    surrogate : torch.nn.Module or None
        Architecture to train (a copy is trained, from its current weights). Default: a
        multilayer perceptron (two hidden layers of ``hidden`` units) on standardised
        inputs, initialised from the seed.
    hidden : int, default=256
        Width of the default surrogate.
    epochs : int, default=30
        Training passes over the labelled queries.
    augment : int, default=4
        Noisy copies of each row queried besides the row itself.
    noise : float, default=0.05
        Standard deviation of the copies' noise, as a share of each value's range (of its
        spread when there are no bounds).
    lr : float, default=0.001
        Adam's learning rate.
    bounds : (low, high) or None, default=(0.0, 1.0)
    constraints : Constraints or None
    batch_size : int, default=256

    Attributes
    ----------
    surrogate_ : TorchModel
        The trained surrogate.
    fidelity_ : float
        Share of the fitted rows where surrogate and model agree.

    References
    ----------
    Papernot, McDaniel, Goodfellow, Jha, Celik, Swami. Practical black-box attacks against
    machine learning. AsiaCCS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from shakeout.attacks import TransferAttack
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(300, 3)); y = (X[:, 0] + X[:, 1] > 1).astype(int)
    >>> gbm = HistGradientBoostingClassifier(max_iter=30).fit(X, y)
    >>> attack = TransferAttack(eps=0.2, epochs=20).fit(gbm, X, seed=0)
    >>> attack.fidelity_ > 0.9
    True
    >>> X_adv = attack.apply(gbm, X, y, seed=0)
    >>> round(float((gbm.predict(X_adv) != y).mean()), 2)  # the transfer rate's numerator
    0.46
    """

    slug = "transfer"
    norms = ("linf", "l2", "l1")
    white_box = False
    paper = "Papernot et al. 2017"

    def __init__(self, *, eps: float, norm: str = "linf", attack: Attack | None = None,
                 surrogate: Any = None, hidden: int = 256, epochs: int = 30, augment: int = 4,
                 noise: float = 0.05, lr: float = 0.001, bounds: Any = (0.0, 1.0),
                 constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        if attack is not None and not (isinstance(attack, Attack) and attack.white_box):
            raise ValidationError(
                f"TransferAttack: attack must be a white-box attack such as PGD(eps=...), got "
                f"{attack!r}."
            )
        self.attack = attack
        self.surrogate = surrogate
        self.hidden = check_positive_int(self, "hidden", hidden)
        self.epochs = check_number(self, "epochs", epochs, 0, integer=True)
        self.augment = check_number(self, "augment", augment, 0, integer=True)
        self.noise = check_number(self, "noise", noise, 0)
        self.lr = check_number(self, "lr", lr, 0, low_open=True)

    @property
    def name(self) -> str:
        return f"transfer-{self.norm}"

    def fit(self, model: Any, X: Any, *, seed: Seed = None) -> "TransferAttack":
        """Train the surrogate on the model's labels for ``X`` and noisy copies of it."""
        model = self._model(model)
        inputs = Inputs(X)
        domain = Domain(inputs.array.shape[1:], bounds=self.bounds, constraints=self.constraints,
                        names=inputs.names, integer_columns=inputs.integer_columns,
                        owner="TransferAttack")
        domain.check(inputs.array)
        self.surrogate_, self.fidelity_ = self._fit(model, inputs, domain, as_generator(seed))
        return self

    def _fit(self, model: Model, inputs: Inputs, domain: Domain,
             rng: np.random.Generator) -> tuple[TorchModel, float]:
        """The trained surrogate and its agreement with the model on ``X``."""
        x = inputs.array
        n = len(x)
        flat = x.reshape(n, -1).astype(np.float64)
        spread = (domain.upper - domain.lower) if domain.lower is not None else flat.std(axis=0)
        copies = [flat] + [
            domain.project(flat + rng.normal(size=flat.shape) * self.noise * spread, flat,
                           self.norm, None)
            for _ in range(self.augment)
        ]
        queries = np.concatenate(copies)
        rows = np.tile(np.arange(n), self.augment + 1)
        answer = model.predict_proba(inputs.to_model(queries.reshape((-1,) + x.shape[1:]), rows))
        labels = answer.argmax(axis=1)
        gen = torch_generator(rng)
        net = self._network(queries, answer.shape[1], gen)
        feats = torch.as_tensor(queries.reshape((-1,) + x.shape[1:]), dtype=torch.float32)
        target = torch.as_tensor(labels)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(feats), generator=gen)
            for start in range(0, len(feats), 128):
                take = order[start:start + 128]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(feats[take]), target[take]).backward()
                opt.step()
        net.eval()
        surrogate = TorchModel(net, classes=model.classes_)
        agree = surrogate.predict_proba(x).argmax(axis=1) == labels[:n]
        return surrogate, float(agree.mean())

    def _network(self, queries: np.ndarray, k: int, gen: Any) -> Any:
        """A copy of the given surrogate, or a seeded MLP on standardised inputs."""
        if self.surrogate is not None:
            return copy.deepcopy(self.surrogate)
        mean = torch.as_tensor(queries.mean(axis=0), dtype=torch.float32)
        std = torch.as_tensor(np.where(queries.std(axis=0) > 0, queries.std(axis=0), 1.0),
                              dtype=torch.float32)
        layers = [nn.Linear(queries.shape[1], self.hidden), nn.ReLU(),
                  nn.Linear(self.hidden, self.hidden), nn.ReLU(), nn.Linear(self.hidden, k)]
        for layer in layers:
            if isinstance(layer, nn.Linear):
                bound = 1 / layer.in_features ** 0.5
                nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
        return nn.Sequential(Standardise(mean, std), *layers)

    def _inner(self) -> Attack:
        from shakeout.attacks.pgd import PGD

        base = self.attack if self.attack is not None else PGD(eps=self.eps, steps=20)
        return base.replace(eps=self.eps, norm=self.norm, bounds=self.bounds,
                            constraints=self.constraints, batch_size=self.batch_size)

    @contextmanager
    def _session(self, model: Model, inputs: Inputs, domain: Domain,
                 rng: np.random.Generator) -> Iterator[Callable[..., np.ndarray]]:
        surrogate = getattr(self, "surrogate_", None)
        if surrogate is None:
            surrogate, _ = self._fit(model, inputs, domain, rng)
        with self._inner()._session(surrogate, inputs, domain, rng) as run_batch:
            yield run_batch


class Standardise(nn.Module):
    """``(x - mean) / std`` over the flattened input: the default surrogate's first layer."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) / self.std
