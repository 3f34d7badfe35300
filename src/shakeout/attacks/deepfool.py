"""DeepFool: the smallest step to the nearest linearised decision boundary, repeated."""

from __future__ import annotations

from typing import Any

import torch

from shakeout._validation import check_number, check_positive_int
from shakeout.attacks._base import GradientAttack, check_steps
from shakeout.attacks.kernel import fooled, row_norm, rows


class DeepFool(GradientAttack):
    """Minimal L2 or L-inf perturbation by iterated linearisation (Moosavi-Dezfooli et al. 2016).

    At each iteration the model is linearised around the current point; for each of the
    ``candidates`` most likely other classes the distance to its linearised boundary is
    ``|z_j - z_y| / ||grad (z_j - z_y)||_q`` (``q`` the dual norm), and the point moves just
    past the nearest one. On an affine model one iteration reaches the exact minimum. The
    path found is then shortened by a binary search along the segment from ``x``, so the
    size reported is that of the boundary itself, not of the ``overshoot``.

    Each iteration costs one forward pass and ``candidates`` backward passes.

    Parameters
    ----------
    eps : float or None, default=None
        None: return the smallest perturbation found whatever its size; a number: rows
        needing more are returned unchanged.
    norm : {"l2", "linf"}, default="l2"
    steps : int, default=50
        Maximum iterations; rows stop once fooled.
    overshoot : float, default=0.02
        Relative step past each linearised boundary, so the point crosses it.
    candidates : int, default=10
        Classes considered: the most likely ones at ``x`` other than the true class.
    refine_steps : int, default=20
        Binary-search halvings along the final segment (precision ``2**-refine_steps``).
    bounds : (low, high) or None, default=(0.0, 1.0)
    constraints : Constraints or None
    batch_size : int, default=256

    References
    ----------
    Moosavi-Dezfooli, Fawzi, Frossard. DeepFool: a simple and accurate method to fool deep
    neural networks. CVPR 2016.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import DeepFool, perturbation_norm
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
    ...     _ = net.bias.zero_()
    >>> X = np.array([[0.2, 0.3]])
    >>> X_adv = DeepFool(bounds=None).apply(net, X, [0])
    >>> round(float(perturbation_norm(X_adv, X, norm="l2")[0]), 4)  # |0.5| / sqrt(2)
    0.3536
    """

    slug = "deepfool"
    norms = ("l2", "linf")
    minimal = True
    paper = "Moosavi-Dezfooli et al. 2016"

    def __init__(self, *, eps: float | None = None, norm: str = "l2", steps: int = 50,
                 overshoot: float = 0.02, candidates: int = 10, refine_steps: int = 20,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.overshoot = check_number(self, "overshoot", overshoot, 0)
        self.candidates = check_positive_int(self, "candidates", candidates)
        self.refine_steps = check_number(self, "refine_steps", refine_steps, 0, integer=True)

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        logits = kernel.predict(x)
        if t is None:
            ranked = logits.scatter(1, y[:, None], float("-inf")).argsort(dim=1, descending=True)
            others = ranked[:, : min(self.candidates, logits.shape[1] - 1)]
        else:
            others = t[:, None]
        best = x.clone()  # rows never fooled stay at x
        idx = torch.arange(len(x), device=x.device)
        total = torch.zeros_like(x)
        cur = x.clone()
        for _ in range(self.steps):
            xs = cur.detach().requires_grad_(True)
            with torch.enable_grad():
                z = kernel.logits(xs)
                hit = fooled(z.detach(), y[idx], None if t is None else t[idx])
                if hit.any():
                    best[idx[hit]] = cur[hit]
                keep = ~hit
                if not keep.any():
                    break
                step = self._step(kernel, xs, z, y[idx], others[idx], keep)
            idx, total = idx[keep], total[keep] + step
            cur = kernel.clip(x[idx] + (1 + self.overshoot) * total)
        return kernel.shortest(x, best, y, t, self.refine_steps)

    def _step(self, kernel, xs, z, y, others, keep):
        """The move to the nearest linearised boundary, for the rows still correct."""
        dual = 2 if self.norm == "l2" else 1
        z_y = z.gather(1, y[:, None]).squeeze(1)
        best_dist = best_f = best_w = None
        for j in range(others.shape[1]):
            diff = z.gather(1, others[:, j: j + 1]).squeeze(1) - z_y
            (w,) = torch.autograd.grad(diff.sum(), xs, retain_graph=True)
            w = kernel.masked(w)
            f = diff.detach().abs()
            size = row_norm(w, "l2" if dual == 2 else "l1").clamp_min(1e-12)
            dist = f / size
            if best_dist is None:
                best_dist, best_f, best_w = dist, f, w
            else:
                closer = dist < best_dist
                best_dist = torch.where(closer, dist, best_dist)
                best_f = torch.where(closer, f, best_f)
                best_w = torch.where(rows(closer, w), w, best_w)
        if self.norm == "l2":
            scale = (best_f + 1e-4) / row_norm(best_w, "l2").clamp_min(1e-12) ** 2
            step = best_w * rows(scale, best_w)
        else:
            scale = (best_f + 1e-4) / row_norm(best_w, "l1").clamp_min(1e-12)
            step = best_w.sign() * rows(scale, best_w)
        return step[keep].detach()
