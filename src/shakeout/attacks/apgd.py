"""APGD: PGD that chooses its own step size, so a weak step cannot flatter a model."""

from __future__ import annotations

import math
from typing import Any

import torch

from shakeout._validation import check_choice, check_number, check_positive_int
from shakeout.attacks._base import GradientAttack, check_steps
from shakeout.attacks.kernel import ascent, fooled, rows


def checkpoints(steps: int) -> set[int]:
    """Iterations where APGD may halve its step: ``ceil(p_j * steps)`` with ``p_0 = 0``,
    ``p_1 = 0.22`` and ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``.

    >>> sorted(checkpoints(100))
    [22, 41, 57, 70, 80, 87, 93, 99]
    """
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    marks = {math.ceil(round(v * steps, 9)) for v in p[1:]}
    return {m for m in marks if m < steps}


class APGD(GradientAttack):
    """Auto-PGD with cross-entropy or DLR loss, L-inf or L2 (Croce & Hein 2020).

    Starts with a step of ``2 * eps`` and halves it for a row at checkpoints where the loss
    rose in fewer than ``rho`` of the iterations since the last one, or where neither the
    step nor the best loss changed; after halving it restarts from the best point so far.
    A momentum term smooths the path. No step size to tune: this is the attack to trust when
    a model's robustness matters. Each iteration costs one forward and one backward pass.

    Parameters
    ----------
    eps : float
        Budget in ``norm``, in the model's input space.
    norm : {"linf", "l2"}, default="linf"
    steps : int, default=100
        Iterations per restart.
    loss : {"ce", "dlr"}, default="ce"
        Cross-entropy, or the difference of logits ratio, which is invariant to the scale of
        the logits and so defeats models whose softmax saturates. Targeted runs (``targets``
        in ``apply``) use the targeted versions.
    restarts : int, default=1
        Random restarts; later ones attack only rows not yet fooled.
    rho : float, default=0.75
        Share of iterations between checkpoints in which the loss must rise to keep the step.
    momentum : float, default=0.75
        Weight of the new step against the previous direction.
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value.
    constraints : Constraints or None
        Tabular rules (immutable, integer and categorical features, a mask).
    batch_size : int, default=256

    References
    ----------
    Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of diverse
    parameter-free attacks. ICML 2020.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import APGD
    >>> net = torch.nn.Linear(2, 3)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]))
    ...     _ = net.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    >>> X = np.array([[0.55, 0.5], [0.9, 0.5]], dtype=np.float32)
    >>> X_adv = APGD(eps=0.1, loss="dlr", steps=20).apply(net, X, [0, 0], seed=0)
    >>> net(torch.from_numpy(X_adv)).argmax(1).tolist()
    [2, 0]
    """

    slug = "apgd"
    norms = ("linf", "l2")
    paper = "Croce & Hein 2020"

    def __init__(self, *, eps: float, norm: str = "linf", steps: int = 100, loss: str = "ce",
                 restarts: int = 1, rho: float = 0.75, momentum: float = 0.75,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.loss = check_choice(self, "loss", loss, ("ce", "dlr"))
        self.restarts = check_positive_int(self, "restarts", restarts)
        self.rho = check_number(self, "rho", rho, 0, 1)
        self.momentum = check_number(self, "momentum", momentum, 0, 1)

    @property
    def name(self) -> str:
        return f"apgd-{self.loss}-{self.norm}"

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        best = x.clone()
        left = torch.arange(len(x), device=x.device)
        for restart in range(self.restarts):
            left = self._ascend(kernel, x, y, t, left, best)
            if len(left) == 0 or restart == self.restarts - 1:
                break
            hit = fooled(kernel.predict(best[left]), y[left], None if t is None else t[left])
            left = left[~hit]
        return best

    def _ascend(self, kernel, x, y, t, idx, best):
        """One run from a random start; returns rows not known to be fooled."""
        norm, w, eps = self.norm, checkpoints(self.steps), float(self.eps)
        s = {"idx": idx, "x": x[idx], "y": y[idx]}
        if t is not None:
            s["t"] = t[idx]
        s["eta"] = torch.full((len(idx),), 2 * eps, dtype=x.dtype, device=x.device)
        x0 = kernel.random_start(s["x"], norm, eps)
        logits, f0, g0 = kernel.gradient(x0, s["y"], s.get("t"), self.loss)
        n = len(idx)
        s.update(cur=x0, prev=x0, f=f0, g=g0, best_x=x0, best_f=f0, best_g=g0,
                 count=torch.zeros(n, device=x.device), check_f=f0.clone(),
                 reduced=torch.zeros(n, dtype=torch.bool, device=x.device),
                 done=torch.zeros(n, dtype=torch.bool, device=x.device))
        s = self._record(s, logits, best)
        last = 0
        for k in range(self.steps):
            if len(s["idx"]) == 0:
                return s["idx"]
            a = 1.0 if k == 0 else self.momentum
            g = s["g"] if norm == "linf" else kernel.usable(s["g"], s["cur"])
            z = kernel.project(s["cur"] + ascent(g, norm) * rows(s["eta"], g), s["x"], norm, eps)
            new = s["cur"] + a * (z - s["cur"]) + (1 - a) * (s["cur"] - s["prev"])
            new = kernel.project(new, s["x"], norm, eps)
            logits, f_new, g_new = kernel.gradient(new, s["y"], s.get("t"), self.loss)
            s["count"] = s["count"] + (f_new > s["f"]).to(s["count"].dtype)
            better = f_new > s["best_f"]
            s["best_f"] = torch.where(better, f_new, s["best_f"])
            s["best_x"] = torch.where(rows(better, new), new, s["best_x"])
            s["best_g"] = torch.where(rows(better, new), g_new, s["best_g"])
            s.update(prev=s["cur"], cur=new, f=f_new, g=g_new)
            s = self._record(s, logits, best)
            if k + 1 in w:
                s = self._checkpoint(s, k + 1 - last)
                last = k + 1
        rest = ~s["done"]
        best[s["idx"][rest]] = s["cur"][rest]
        return s["idx"][rest]

    def _checkpoint(self, s: dict, span: int) -> dict:
        """Halve the step where progress stalled and go back to the best point."""
        stalled = s["count"] < self.rho * span
        flat = ~s["reduced"] & (s["best_f"] <= s["check_f"])
        halve = stalled | flat
        s["eta"] = torch.where(halve, s["eta"] / 2, s["eta"])
        back = rows(halve, s["cur"])
        s["cur"] = torch.where(back, s["best_x"], s["cur"])
        s["prev"] = torch.where(back, s["best_x"], s["prev"])
        s["g"] = torch.where(back, s["best_g"], s["g"])
        s["f"] = torch.where(halve, s["best_f"], s["f"])
        s.update(reduced=halve, check_f=s["best_f"].clone(), count=torch.zeros_like(s["count"]))
        return s

    @staticmethod
    def _record(s: dict, logits: torch.Tensor, best: torch.Tensor) -> dict:
        """Keep the first fooling point of each row; drop fooled rows once they are many.

        ``logits`` belong to ``s["cur"]``, the point just evaluated.
        """
        hit = fooled(logits, s["y"], s.get("t")) & ~s["done"]
        if not hit.any():
            return s
        best[s["idx"][hit]] = s["cur"][hit]
        s["done"] = s["done"] | hit
        if 4 * int(s["done"].sum()) < len(s["done"]):
            return s
        keep = ~s["done"]
        return {k: v[keep] for k, v in s.items()}
