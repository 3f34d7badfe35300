"""PGD and BIM: iterated gradient steps projected back onto the budget ball."""

from __future__ import annotations

from typing import Any

import torch

from shakeout._validation import check_choice, check_number, check_positive_int
from shakeout.attacks._base import GradientAttack, check_steps
from shakeout.attacks.kernel import LOSSES, ascent, fooled


class PGD(GradientAttack):
    """Projected gradient descent under L-inf, L2 or L1 (Madry et al. 2018).

    Each of ``steps`` iterations costs one forward and one backward pass: a step of
    ``step_size`` along the steepest-ascent direction of the loss, then a projection onto
    the ``eps`` ball and the valid range. A row stops being attacked as soon as the model
    gets it wrong, and the first point that fooled the model is the one returned, so later
    iterations cannot undo a success and fooled rows cost nothing further.

    Parameters
    ----------
    eps : float
        Budget in ``norm``, in the model's input space.
    norm : {"linf", "l2", "l1"}, default="linf"
        L1 steps move the top ``1 - l1_sparsity`` share of coordinates (Tramer & Boneh 2019)
        and project exactly onto the L1 ball (Duchi et al. 2008).
    steps : int, default=10
        Gradient iterations per restart.
    step_size : float or None
        Size of one step in ``norm``; default ``2.5 * eps / steps`` (Madry et al.).
    random_start : bool, default=True
        Start from a random point of the ball instead of ``x``.
    restarts : int, default=1
        Independent random starts; later ones attack only rows not yet fooled.
    loss : {"ce", "dlr", "margin"}, default="ce"
    l1_sparsity : float, default=0.95
        L1 only: quantile of ``|grad|`` above which coordinates move in a step.
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value: scalars or arrays of one input's shape.
    constraints : Constraints or None
        Tabular rules (immutable, integer and categorical features, a mask).
    batch_size : int, default=256

    References
    ----------
    Madry, Makelov, Schmidt, Tsipras, Vladu. Towards deep learning models resistant to
    adversarial attacks. ICLR 2018.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import PGD
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    ...     _ = net.bias.copy_(torch.tensor([0.0, 0.5]))
    >>> X = np.array([[0.3, 0.5], [0.9, 0.5]], dtype=np.float32)
    >>> X_adv = PGD(eps=0.1, steps=5).apply(net, X, [0, 0], seed=0)
    >>> net(torch.from_numpy(X_adv)).argmax(1).tolist()
    [1, 0]
    """

    slug = "pgd"
    norms = ("linf", "l2", "l1")
    paper = "Madry et al. 2018"

    def __init__(self, *, eps: float, norm: str = "linf", steps: int = 10,
                 step_size: float | None = None, random_start: bool = True, restarts: int = 1,
                 loss: str = "ce", l1_sparsity: float = 0.95, bounds: Any = (0.0, 1.0),
                 constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.step_size = None if step_size is None else check_number(self, "step_size",
                                                                      step_size, 0)
        self.random_start = check_choice(self, "random_start", random_start, (True, False))
        self.restarts = check_positive_int(self, "restarts", restarts)
        self.loss = check_choice(self, "loss", loss, LOSSES)
        self.l1_sparsity = check_number(self, "l1_sparsity", l1_sparsity, 0, 1, high_open=True)

    def _step_ratio(self) -> float:
        """Step size as a multiple of ``eps``."""
        if self.step_size is not None:
            return self.step_size / self.eps if self.eps > 0 else 0.0
        return 2.5 / self.steps

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        best = x.clone()
        left = torch.arange(len(x), device=x.device)
        for restart in range(self.restarts):
            left = self._descend(kernel, x, y, t, left, best)
            if len(left) == 0 or restart == self.restarts - 1:
                break
            hit = fooled(kernel.predict(best[left]), y[left], None if t is None else t[left])
            left = left[~hit]
        return best

    def _descend(self, kernel, x, y, t, idx, best):
        """One run from a (random) start; writes successes and final iterates into ``best``
        and returns the rows not yet known to be fooled."""
        xs, ys = x[idx], y[idx]
        ts = None if t is None else t[idx]
        eps = float(self.eps)  # the same budget for every row
        step = eps * self._step_ratio()
        xa = kernel.random_start(xs, self.norm, eps) if self.random_start else xs.clone()
        done = torch.zeros(len(idx), dtype=torch.bool, device=x.device)
        for _ in range(self.steps):
            logits, _, g = kernel.gradient(xa, ys, ts, self.loss)
            hit = fooled(logits, ys, ts) & ~done
            if hit.any():
                best[idx[hit]] = xa[hit]
                done |= hit
                if 4 * int(done.sum()) >= len(done):  # drop fooled rows once they are many
                    keep = ~done
                    idx, xs, ys, xa, g, done = (v[keep] for v in (idx, xs, ys, xa, g, done))
                    ts = None if ts is None else ts[keep]
                    if len(idx) == 0:
                        return idx
            if self.norm != "linf":
                g = kernel.usable(g, xa)
            xa = kernel.project(xa + step * ascent(g, self.norm, self.l1_sparsity), xs,
                                self.norm, eps)
        best[idx[~done]] = xa[~done]
        return idx[~done]


class BIM(PGD):
    """Basic iterative method: PGD from ``x`` itself, steps of ``eps / steps`` (Kurakin et al.
    2017).

    Parameters are those of :class:`PGD` without ``random_start`` and ``restarts`` (a
    deterministic start gains nothing from restarting); the default step size lets
    ``steps`` steps just reach the edge of the budget.

    References
    ----------
    Kurakin, Goodfellow, Bengio. Adversarial examples in the physical world. ICLR
    workshop 2017.

    Examples
    --------
    >>> from shakeout.attacks import BIM
    >>> BIM(eps=0.1, steps=4).name
    'bim-linf'
    """

    slug = "bim"
    paper = "Kurakin et al. 2017"

    def __init__(self, *, eps: float, norm: str = "linf", steps: int = 10,
                 step_size: float | None = None, loss: str = "ce", l1_sparsity: float = 0.95,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        super().__init__(eps=eps, norm=norm, steps=steps, step_size=step_size,
                         random_start=False, restarts=1, loss=loss,
                         l1_sparsity=l1_sparsity, bounds=bounds, constraints=constraints,
                         batch_size=batch_size)

    def _step_ratio(self) -> float:
        if self.step_size is None:
            return 1.0 / self.steps
        return super()._step_ratio()
