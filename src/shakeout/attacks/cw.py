"""Carlini-Wagner L2: the smallest L2 change found by optimisation in a change of variables."""

from __future__ import annotations

from typing import Any

import torch

from shakeout._validation import check_choice, check_number, check_positive_int
from shakeout.attacks._base import GradientAttack, check_steps
from shakeout.attacks.kernel import ConstantSearch, hinge, row_norm, rows

_EDGE = 1e-3  # how close to a bound a clean value at the bound starts, in tanh space


class CarliniWagner(GradientAttack):
    """Minimise ``||delta||_2^2 + c * max(z_y - max_{j != y} z_j + kappa, 0)`` (Carlini & Wagner
    2017).

    The valid range is built in by optimising ``w`` with ``x' = low + h * (tanh(w / h) + 1)``,
    ``h = (high - low) / 2``, so no clipping distorts the gradient (unbounded inputs use
    ``x' = w``). Adam runs ``steps`` iterations for each of ``binary_steps`` values of ``c``,
    found per row by binary search: a row that succeeded tries a smaller ``c``, one that
    failed a larger one. The smallest successful perturbation over all runs is returned.

    Each iteration costs one forward and one backward pass, so the attack costs
    ``steps * binary_steps * candidates`` of them: accurate, and slow next to PGD.

    Parameters
    ----------
    eps : float or None, default=None
        None: return the smallest perturbation found whatever its size; a number: rows
        needing more are returned unchanged.
    steps : int, default=100
        Adam iterations per value of ``c``.
    c : float, default=0.01
        Initial trade-off constant.
    binary_steps : int, default=9
        Values of ``c`` tried per row.
    lr : float, default=0.02
        Adam's initial step, in input units (it decays linearly to zero over each run, so
        the point settles instead of circling the boundary). 0.02 suits inputs in [0, 1];
        scale it with the range of yours.
    kappa : float, default=0.0
        Required logit margin of the adversarial class (confidence).
    abort_early : bool, default=True
        Stop a run of Adam when the total loss has not fallen by 0.01% over a tenth of
        ``steps``.
    candidates : int, default=1
        Untargeted only: 1 for the loss against the runner-up class, ``k`` to attack
        towards each of the ``k`` most likely other classes and keep the smallest change.
    refine_steps : int, default=20
        Binary-search halvings along the segment from ``x`` to the point found, which
        removes the overshoot of the optimiser (forward passes only; skipped when
        ``kappa > 0``, which asks for a margin past the boundary).
    bounds : (low, high) or None, default=(0.0, 1.0)
    constraints : Constraints or None
    batch_size : int, default=256

    References
    ----------
    Carlini, Wagner. Towards evaluating the robustness of neural networks. IEEE S&P 2017.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import CarliniWagner, perturbation_norm
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
    ...     _ = net.bias.zero_()
    >>> X = np.array([[0.2, 0.3]])
    >>> X_adv = CarliniWagner(bounds=None).apply(net, X, [0])
    >>> round(float(perturbation_norm(X_adv, X, norm="l2")[0]), 3)  # minimum: 0.354
    0.354
    """

    slug = "cw"
    norms = ("l2",)
    minimal = True
    paper = "Carlini & Wagner 2017"

    def __init__(self, *, eps: float | None = None, steps: int = 100, c: float = 0.01,
                 binary_steps: int = 9, lr: float = 0.02, kappa: float = 0.0,
                 abort_early: bool = True, candidates: int = 1, refine_steps: int = 20,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm="l2", bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.c = check_number(self, "c", c, 0, low_open=True)
        self.binary_steps = check_positive_int(self, "binary_steps", binary_steps)
        self.lr = check_number(self, "lr", lr, 0, low_open=True)
        self.kappa = check_number(self, "kappa", kappa, 0)
        self.abort_early = check_choice(self, "abort_early", abort_early, (True, False))
        self.candidates = check_positive_int(self, "candidates", candidates)
        self.refine_steps = check_number(self, "refine_steps", refine_steps, 0, integer=True)

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        goals = [t]
        if t is None and self.candidates > 1:
            logits = kernel.predict(x)
            ranked = logits.scatter(1, y[:, None], float("-inf")).argsort(dim=1, descending=True)
            goals = [ranked[:, j] for j in range(min(self.candidates, logits.shape[1] - 1))]
        best = x.clone()
        best_size = torch.full((len(x),), float("inf"), device=x.device)
        for goal in goals:
            found, size = self._optimise(kernel, x, y, t, goal)
            better = size < best_size
            best = torch.where(rows(better, x), found, best)
            best_size = torch.where(better, size, best_size)
        return kernel.shortest(x, best, y, t, self.refine_steps if self.kappa == 0 else 0)

    def _optimise(self, kernel, x, y, t, goal):
        """Binary search over ``c`` with Adam for each value; the smallest success per row.

        The loss pulls towards ``goal`` (None: the runner-up class); success is judged on
        the attack's own aim ``t`` (None: any wrong class).
        """
        to_x, w0 = self._variables(kernel, x)
        search = ConstantSearch(self.c, len(x), x.device)
        best = x.clone()
        best_size = torch.full((len(x),), float("inf"), device=x.device)
        for _ in range(self.binary_steps):
            w = w0.clone().requires_grad_(True)
            opt = torch.optim.Adam([w], lr=self.lr)
            decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / self.steps)
            succeeded = torch.zeros(len(x), dtype=torch.bool, device=x.device)
            previous = float("inf")
            for k in range(self.steps):
                with torch.enable_grad():
                    xa = to_x(w)
                    size = row_norm(xa - x, "l2") ** 2
                    logits = kernel.logits(xa)
                    penalty, _ = hinge(logits, y, goal, self.kappa)
                    _, ok = hinge(logits.detach(), y, t, self.kappa)
                    loss = (size + search.c * penalty).sum()
                    opt.zero_grad()
                    loss.backward()
                opt.step()
                decay.step()
                with torch.no_grad():
                    better = ok & (size < best_size)
                    best = torch.where(rows(better, x), xa.detach(), best)
                    best_size = torch.where(better, size.detach(), best_size)
                    succeeded |= ok
                if self.abort_early and (k + 1) % max(1, self.steps // 10) == 0:
                    if loss.item() > 0.9999 * previous:
                        break
                    previous = loss.item()
            search.update(succeeded)
        return best, best_size

    def _variables(self, kernel, x):
        """The change of variables ``w -> x'`` and the ``w`` of the clean point.

        ``x' = low + span * (tanh(2 w / span) + 1) / 2``: the range is built in, and near the
        middle of the range one unit of ``w`` is one unit of input, so ``lr`` is in input units.
        """
        mask = kernel.mask
        if kernel.lower is None:
            def to_x(w):
                return x + kernel.masked(w - x)
            return to_x, x.clone()
        low, span = kernel.lower, kernel.upper - kernel.lower
        fixed = span <= 0
        half = (span / 2).clamp_min(1e-12)
        unit = ((x - low) / half - 1).clamp(-1 + _EDGE, 1 - _EDGE)
        w0 = torch.atanh(unit) * half

        def to_x(w):
            mapped = low + half * (torch.tanh(w / half) + 1)
            mapped = torch.where(fixed, x, mapped)
            return mapped if mask is None else x + mask * (mapped - x)

        return to_x, w0
