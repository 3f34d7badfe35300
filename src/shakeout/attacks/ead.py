"""EAD: elastic-net attack, for sparse perturbations that change few input values."""

from __future__ import annotations

from typing import Any

import torch

from shakeout._validation import check_choice, check_number, check_positive_int
from shakeout.attacks._base import GradientAttack, check_steps
from shakeout.attacks.kernel import ConstantSearch, hinge, row_norm, rows


class EAD(GradientAttack):
    """Minimise ``c * max(z_y - max_{j != y} z_j + kappa, 0) + ||delta||_2^2 + beta *
    ||delta||_1`` (Chen et al. 2018).

    The L1 term makes the perturbation sparse. The smooth part is minimised by FISTA: a
    gradient step on the hinge and L2 terms from a momentum point, then the L1 term's
    proximal operator (shrink every change towards zero by ``beta``), then the valid range.
    The step size decays as ``lr * (1 - k / steps) ** 0.5``; ``c`` is searched per row as
    in Carlini-Wagner. Among successful points the one with the smallest elastic-net
    (``decision="en"``) or L1 (``decision="l1"``) size is returned; findings report it in L1.

    Each iteration costs one forward and one backward pass at the momentum point and one
    forward pass at the new point.

    Parameters
    ----------
    eps : float or None, default=None
        L1 budget. None: return the smallest perturbation found whatever its size; a
        number: rows needing more are returned unchanged.
    steps : int, default=100
        Iterations per value of ``c``.
    c : float, default=0.01
        Initial trade-off constant.
    binary_steps : int, default=9
        Values of ``c`` tried per row.
    beta : float, default=0.001
        Weight of the L1 term: the shrinkage applied at each step.
    lr : float, default=0.01
        Initial step size of the gradient step, in input units.
    kappa : float, default=0.0
        Required logit margin of the adversarial class.
    decision : {"en", "l1"}, default="en"
        Which size picks the returned point among successful ones.
    refine_steps : int, default=20
        Binary-search halvings along the segment from ``x`` to the point found, which
        removes the overshoot of the optimiser (forward passes only; skipped when
        ``kappa > 0``, which asks for a margin past the boundary).
    bounds : (low, high) or None, default=(0.0, 1.0)
    constraints : Constraints or None
    batch_size : int, default=256

    References
    ----------
    Chen, Sharma, Zhang, Yi, Hsieh. EAD: elastic-net attacks to deep neural networks via
    adversarial examples. AAAI 2018.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import EAD
    >>> net = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[2.0, 0.1, 0.1], [-2.0, -0.1, -0.1]]))
    ...     _ = net.bias.copy_(torch.tensor([-1.2, 1.2]))
    >>> X = np.array([[0.6, 0.5, 0.5]])
    >>> (EAD().apply(net, X, [0]) - X).round(2).tolist()  # only the first feature moves
    [[-0.05, 0.0, 0.0]]
    """

    slug = "ead"
    norms = ("l1",)
    minimal = True
    paper = "Chen et al. 2018"

    def __init__(self, *, eps: float | None = None, steps: int = 100, c: float = 0.01,
                 binary_steps: int = 9, beta: float = 0.001, lr: float = 0.01,
                 kappa: float = 0.0, decision: str = "en", refine_steps: int = 20,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm="l1", bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.c = check_number(self, "c", c, 0, low_open=True)
        self.binary_steps = check_positive_int(self, "binary_steps", binary_steps)
        self.beta = check_number(self, "beta", beta, 0)
        self.lr = check_number(self, "lr", lr, 0, low_open=True)
        self.kappa = check_number(self, "kappa", kappa, 0)
        self.decision = check_choice(self, "decision", decision, ("en", "l1"))
        self.refine_steps = check_number(self, "refine_steps", refine_steps, 0, integer=True)

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        search = ConstantSearch(self.c, len(x), x.device)
        best = x.clone()
        best_size = torch.full((len(x),), float("inf"), device=x.device)
        for _ in range(self.binary_steps):
            cur, slack = x.clone(), x.clone()
            succeeded = torch.zeros(len(x), dtype=torch.bool, device=x.device)
            for k in range(self.steps):
                lr = self.lr * (1 - k / self.steps) ** 0.5
                g = self._gradient(kernel, slack, x, y, t, search.c)
                new = self._shrink(kernel, slack - lr * g, x)
                slack = kernel.clip(new + k / (k + 3) * (new - cur))
                cur = new
                _, ok = hinge(kernel.predict(cur), y, t, self.kappa)
                size = self._size(cur - x)
                better = ok & (size < best_size)
                best = torch.where(rows(better, x), cur, best)
                best_size = torch.where(better, size, best_size)
                succeeded |= ok
            search.update(succeeded)
        return kernel.shortest(x, best, y, t, self.refine_steps if self.kappa == 0 else 0)

    def _gradient(self, kernel, point, x, y, t, c):
        """Gradient of ``c * hinge + ||point - x||_2^2`` at ``point``."""
        point = point.detach().requires_grad_(True)
        with torch.enable_grad():
            penalty, _ = hinge(kernel.logits(point), y, t, self.kappa)
            loss = (c * penalty + row_norm(point - x, "l2") ** 2).sum()
            (g,) = torch.autograd.grad(loss, point)
        return g

    def _shrink(self, kernel, z, x):
        """Proximal step of the L1 term, then the mask and the valid range."""
        d = z - x
        d = d.sign() * (d.abs() - self.beta).clamp_min(0)
        return kernel.clip(x + kernel.masked(d))

    def _size(self, d):
        l1 = row_norm(d, "l1")
        return l1 if self.decision == "l1" else row_norm(d, "l2") ** 2 + self.beta * l1
