"""The torch kernel of the white-box attacks: losses, steps, projections, one gradient call.

Every white-box attack runs inside :func:`session`, the shared torch runtime's inference
context (:func:`shakeout.models.runtime.inference`): eval mode and parameters frozen (an
attack needs input gradients only, and weight gradients would cost a third of every backward
pass), both restored afterwards. Random draws use a ``torch.Generator`` seeded from the
caller's numpy generator: the global torch seed is never touched.

Public for every pillar that attacks a model: certification's soundness check runs PGD on
the smoothed classifier with these projections and steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from shakeout.attacks.threat import Domain
from shakeout.models.runtime import inference, torch_generator

LOSSES = ("ce", "dlr", "margin")


def rows(v: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor | float:
    """A per-row value ``(n,)`` shaped to broadcast over a batch ``like`` ``(n, ...)``; a
    number (the same for every row) is returned as it is."""
    if not isinstance(v, torch.Tensor):
        return v
    return v.reshape((-1,) + (1,) * (like.ndim - 1))


def row_norm(d: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-row size of a batch of perturbations."""
    flat = d.flatten(1)
    if norm == "linf":
        return flat.abs().amax(dim=1)
    if norm == "l2":
        return flat.norm(dim=1)
    if norm == "l1":
        return flat.abs().sum(dim=1)
    return (flat != 0).sum(dim=1).to(d.dtype)


def project_l1(d: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row onto the L1 ball of radius ``eps`` (Duchi et al. 2008)."""
    flat = d.flatten(1)
    inside = flat.abs().sum(dim=1) <= eps
    u = flat.abs().sort(dim=1, descending=True).values
    css = u.cumsum(dim=1)
    j = torch.arange(1, flat.shape[1] + 1, device=d.device, dtype=d.dtype)
    cond = u * j > css - eps[:, None]
    rho = cond.to(d.dtype).mul(j).argmax(dim=1)
    theta = (css.gather(1, rho[:, None]).squeeze(1) - eps) / (rho + 1).to(d.dtype)
    theta = torch.where(inside, torch.zeros_like(theta), theta.clamp_min(0))
    out = flat.sign() * (flat.abs() - theta[:, None]).clamp_min(0)
    return out.view_as(d)


def project_ball(d: torch.Tensor, norm: str, eps: torch.Tensor | float) -> torch.Tensor:
    """Project each row of ``d`` onto the ``norm`` ball of radius ``eps`` (a per-row tensor, or
    one number for every row)."""
    if norm == "linf":
        if not isinstance(eps, torch.Tensor):
            return d.clamp(-eps, eps)
        e = rows(eps, d)
        return torch.maximum(torch.minimum(d, e), -e)
    if norm == "l2":
        size = row_norm(d, "l2")
        return d * rows(torch.clamp(eps / size.clamp_min(1e-12), max=1.0), d)
    if not isinstance(eps, torch.Tensor):
        eps = torch.full((len(d),), eps, dtype=d.dtype, device=d.device)
    return project_l1(d, eps)


def ascent(g: torch.Tensor, norm: str, sparsity: float = 0.95) -> torch.Tensor:
    """The steepest-ascent direction of unit size for gradient ``g`` under ``norm``.

    Linf: the sign; L2: the normalised gradient; L1: the signs of the gradient's largest
    ``1 - sparsity`` share of coordinates, scaled to unit L1 size (Tramer & Boneh 2019).
    """
    if norm == "linf":
        return g.sign()
    if norm == "l2":
        return g / rows(row_norm(g, "l2").clamp_min(1e-12), g)
    flat = g.flatten(1).abs()
    k = max(1, round((1 - sparsity) * flat.shape[1]))
    cut = flat.topk(k, dim=1).values[:, -1:]
    e = (flat >= cut).to(g.dtype) * g.flatten(1).sign()
    e = e / e.abs().sum(dim=1, keepdim=True).clamp_min(1)
    return e.view_as(g)


def loss_values(name: str, logits: torch.Tensor, y: torch.Tensor,
                targets: torch.Tensor | None) -> torch.Tensor:
    """Per-row loss an attack maximises; targeted losses pull towards ``targets``.

    ``ce`` is cross-entropy; ``margin`` the logit margin of Carlini & Wagner (2017);
    ``dlr`` the scale-invariant difference of logits ratio of Croce & Hein (2020), which
    needs three classes (four when targeted) and falls back to ``margin`` with fewer.
    """
    if name == "ce":
        if targets is None:
            return F.cross_entropy(logits, y, reduction="none")
        return -F.cross_entropy(logits, targets, reduction="none")
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf")).amax(dim=1)
    k = logits.shape[1]
    if targets is None:
        diff = other - z_y
        if name == "dlr" and k >= 3:
            top = logits.sort(dim=1, descending=True).values
            return diff / (top[:, 0] - top[:, 2] + 1e-12)
        return diff
    z_t = logits.gather(1, targets[:, None]).squeeze(1)
    if name == "dlr" and k >= 4:
        top = logits.sort(dim=1, descending=True).values
        return (z_t - z_y) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)
    best_other = logits.scatter(1, targets[:, None], float("-inf")).amax(dim=1)
    return z_t - best_other


def fooled(logits: torch.Tensor, y: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Rows whose prediction is wrong (untargeted) or is the target (targeted)."""
    pred = logits.argmax(dim=1)
    return pred != y if targets is None else pred == targets


class Kernel:
    """One white-box run: the model's logits, the threat model as tensors, a generator.

    Built by :func:`session`; attacks call :meth:`gradient` once per step.
    """

    def __init__(self, model: Any, domain: Domain, rng: np.random.Generator):
        self.model = model
        self.device = model.device
        self.domain = domain
        self.gen = torch_generator(rng, self.device)
        shape = (1,) + domain.shape

        def tensor(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else torch.tensor(
                np.array(a).reshape(shape), dtype=torch.float32, device=self.device)

        self.lower, self.upper = tensor(domain.lower), tensor(domain.upper)
        self.mask = tensor(domain.shaped_mask)
        uniform = domain.lower is not None and np.ptp(domain.lower) == 0 \
            and np.ptp(domain.upper) == 0
        self._range = (float(domain.lower[0]), float(domain.upper[0])) if uniform else None

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, k)``; a single-logit binary model gets the column ``0`` beside it."""
        out = self.model.logits(x)
        if out.ndim != 2:
            out = out.reshape(len(out), -1)
        if out.shape[1] == 1:
            out = torch.cat([torch.zeros_like(out), out], dim=1)
        return out

    def gradient(self, x: torch.Tensor, y: torch.Tensor, targets: torch.Tensor | None,
                 loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One forward and one backward pass: ``(logits, per-row loss, input gradient)``."""
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.logits(x)
            values = loss_values(loss, logits, y, targets)
            (g,) = torch.autograd.grad(values.sum(), x)
        return logits.detach(), values.detach(), g

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Logits without a graph."""
        with torch.no_grad():
            return self.logits(x)

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """Into the valid range."""
        if self._range is not None:
            return x.clamp(*self._range)
        if self.lower is None:
            return x
        return torch.clamp(x, min=self.lower, max=self.upper)

    def masked(self, d: torch.Tensor) -> torch.Tensor:
        """Zero where the threat model forbids change."""
        return d if self.mask is None else d * self.mask

    def usable(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The gradient without the coordinates that cannot move: masked, or at a bound
        with the gradient pointing out of the range."""
        g = self.masked(g)
        if self.lower is None:
            return g
        blocked = ((x >= self.upper) & (g > 0)) | ((x <= self.lower) & (g < 0))
        return g.masked_fill(blocked, 0.0)

    def project(self, x_adv: torch.Tensor, x: torch.Tensor, norm: str,
                eps: torch.Tensor | float) -> torch.Tensor:
        """Mask, budget, then range; clipping to the range only shrinks the perturbation."""
        return self.clip(x + project_ball(self.masked(x_adv - x), norm, eps))

    def shortest(self, x: torch.Tensor, adv: torch.Tensor, y: torch.Tensor,
                 targets: torch.Tensor | None, steps: int) -> torch.Tensor:
        """The adversarial point nearest ``x`` on each segment from ``x`` to ``adv``: a binary
        search of ``steps`` halvings (forward passes only). Rows where ``adv`` does not fool
        the model are returned as they are."""
        if steps == 0:
            return adv
        low = torch.zeros(len(x), device=x.device, dtype=x.dtype)
        high = torch.ones_like(low)
        ok = fooled(self.predict(adv), y, targets)
        for _ in range(steps):
            mid = (low + high) / 2
            hit = fooled(self.predict(x + rows(mid, x) * (adv - x)), y, targets)
            high = torch.where(hit, mid, high)
            low = torch.where(hit, low, mid)
        return torch.where(rows(ok, x), x + rows(high, x) * (adv - x), adv)

    def random_start(self, x: torch.Tensor, norm: str, eps: torch.Tensor | float) -> torch.Tensor:
        """A random point of the budget ball around ``x`` (uniform in the Linf box; radius
        ``eps * u**(1/d)`` along a random direction for L2 and L1)."""
        if norm == "linf":
            u = torch.rand(x.shape, generator=self.gen, device=self.device, dtype=x.dtype)
            d = (2 * u - 1) * rows(eps, x)
        else:
            z = torch.randn(x.shape, generator=self.gen, device=self.device, dtype=x.dtype)
            if norm == "l1":
                z = z.sign() * torch.empty_like(z).exponential_(generator=self.gen)
            dim = z[0].numel()
            r = torch.rand(len(x), generator=self.gen, device=self.device, dtype=x.dtype)
            d = z / rows(row_norm(z, norm).clamp_min(1e-12), z) * rows(eps * r ** (1 / dim), z)
        return self.project(x + d, x, norm, eps)


@contextmanager
def session(model: Any, domain: Domain, rng: np.random.Generator) -> Iterator[Kernel]:
    """Eval mode and frozen parameters for the duration of an attack, then restore both."""
    with inference(model, grad=True, freeze=True):
        yield Kernel(model, domain, rng)


def hinge(logits: torch.Tensor, y: torch.Tensor, targets: torch.Tensor | None,
          kappa: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Carlini & Wagner's ``max(gap + kappa, 0)`` and which rows already succeed.

    ``gap`` is ``z_y - max_{j != y} z_j`` (untargeted) or ``max_{j != t} z_j - z_t``
    (targeted): negative once the attack succeeds; ``kappa`` asks for that much margin.
    """
    gap = -loss_values("margin", logits, y, targets)
    success = fooled(logits, y, targets) & (gap <= -kappa)
    return (gap + kappa).clamp_min(0), success


class ConstantSearch:
    """Per-row binary search over the constant ``c`` weighing success against distance.

    A row that succeeded with ``c`` tries a smaller one next (halfway to the largest
    failing ``c``); a row that failed tries ten times more until an upper bound is known
    (Carlini & Wagner 2017).
    """

    def __init__(self, c: float, n: int, device: Any):
        self.c = torch.full((n,), float(c), device=device)
        self.low = torch.zeros(n, device=device)
        self.high = torch.full((n,), float("inf"), device=device)

    def update(self, success: torch.Tensor) -> None:
        self.high = torch.where(success, torch.minimum(self.high, self.c), self.high)
        self.low = torch.where(success, self.low, torch.maximum(self.low, self.c))
        known = torch.isfinite(self.high)
        self.c = torch.where(known, (self.low + self.high) / 2, self.c * 10)
