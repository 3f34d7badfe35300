"""JSMA: change the pair of input values the Jacobian says matters most, again and again."""

from __future__ import annotations

from typing import Any

import torch

from shakeout._validation import check_number
from shakeout.attacks._base import GradientAttack
from shakeout.attacks.kernel import fooled, rows
from shakeout.errors import ValidationError

_PAIR_VALUES = 1 << 22  # pair-saliency values held at once (memory bound: d * d per row)


class JSMA(GradientAttack):
    """Jacobian-based saliency map attack: an L0 attack that changes few values a lot
    (Papernot et al. 2016).

    Each iteration takes the gradients of the goal logit and of the sum of the others and
    scores every pair of still-unused input values: targeted, the pair must raise the target
    logit (``alpha > 0``) and lower the others (``beta < 0``), scored ``alpha * |beta|``;
    untargeted, the roles of the true class and the others swap. The best pair moves by
    ``theta`` times its range and leaves the search. It stops when the model is fooled or
    ``min(eps, gamma * d)`` values have changed.

    Each iteration costs one forward and two backward passes, plus ``d * d`` pair scores per
    row, so it suits inputs up to a few thousand values.

    Parameters
    ----------
    eps : int or None, default=None
        L0 budget: how many input values may change. None: as many as ``gamma`` allows.
    theta : float, default=1.0
        Change per chosen value, as a signed share of its range: ``1.0`` sets it to the top
        of the range, ``-1.0`` to the bottom.
    gamma : float, default=0.15
        Most values changed, as a share of the input size.
    bounds : (low, high), default=(0.0, 1.0)
        Required: ``theta`` is a share of it.
    constraints : Constraints or None
    batch_size : int, default=256

    References
    ----------
    Papernot, McDaniel, Jha, Fredrikson, Celik, Swami. The limitations of deep learning in
    adversarial settings. IEEE EuroS&P 2016.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import JSMA
    >>> net = torch.nn.Linear(4, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[0.0, 0.0, -1.0, -1.0], [0.0, 0.0, 1.0, 1.0]]))
    ...     _ = net.bias.copy_(torch.tensor([0.5, -0.5]))
    >>> X_adv = JSMA(gamma=0.5).apply(net, np.zeros((1, 4)), [0])
    >>> X_adv.tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """

    slug = "jsma"
    norms = ("l0",)
    minimal = True
    paper = "Papernot et al. 2016"

    def __init__(self, *, eps: int | None = None, theta: float = 1.0, gamma: float = 0.15,
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm="l0", bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        if bounds is None:
            raise ValidationError(
                "JSMA: bounds are required, since theta moves a value by a share of its range; "
                "pass bounds=(low, high) or bounds=data_bounds(X_train)."
            )
        self.theta = check_number(self, "theta", theta, -1, 1)
        if self.theta == 0:
            raise ValidationError("JSMA: theta must not be 0; use 1.0 to raise values, -1.0 to "
                                  "lower them.")
        self.gamma = check_number(self, "gamma", gamma, 0, 1, low_open=True)

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        n = len(x)
        flat_low, flat_high = kernel.lower.flatten(1), kernel.upper.flatten(1)
        span = flat_high - flat_low
        d = x[0].numel()
        limit = int(self.gamma * d) if self.eps is None else min(int(self.eps), int(self.gamma * d))
        usable = (span > 0).expand(n, d).clone()
        if kernel.mask is not None:
            usable &= kernel.mask.flatten(1).bool().expand(n, d)
        usable &= (x.flatten(1) < flat_high) if self.theta > 0 else (x.flatten(1) > flat_low)
        adv = x.clone()
        active = torch.ones(n, dtype=torch.bool, device=x.device)
        goal = y if t is None else t
        for _ in range(limit // 2):
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            alpha, beta, hit = self._gradients(kernel, adv[idx], y[idx], goal[idx], t is None)
            active[idx[hit]] = False
            pairs = self._best_pairs(alpha, beta, usable[idx], t is None)
            stuck = pairs[:, 0] < 0
            active[idx[stuck]] = False
            move = ~hit & ~stuck
            moving, chosen = idx[move], pairs[move]
            flat = adv.flatten(1).clone()
            for j in range(2):
                col = chosen[:, j]
                step = self.theta * span[0, col]
                flat[moving, col] = torch.clamp(flat[moving, col] + step, flat_low[0, col],
                                                flat_high[0, col])
                usable[moving, col] = False
            adv = flat.view_as(x)
        final = fooled(kernel.predict(adv), y, t)
        return torch.where(rows(final, x), adv, x)

    def _gradients(self, kernel, x, y, goal, untargeted):
        """Gradients of the goal logit and of the other logits' sum; rows already fooled."""
        xs = x.detach().requires_grad_(True)
        with torch.enable_grad():
            z = kernel.logits(xs)
            own = z.gather(1, goal[:, None]).sum()
            (g_goal,) = torch.autograd.grad(own, xs, retain_graph=True)
            (g_all,) = torch.autograd.grad(z.sum(), xs)
        hit = fooled(z.detach(), y, None if untargeted else goal)
        alpha, beta = g_goal.flatten(1), (g_all - g_goal).flatten(1)
        if self.theta < 0:
            alpha, beta = -alpha, -beta
        return alpha, beta, hit

    def _best_pairs(self, alpha, beta, usable, untargeted):
        """The best usable pair per row, ``(-1, -1)`` where no pair qualifies."""
        n, d = alpha.shape
        out = torch.full((n, 2), -1, dtype=torch.long, device=alpha.device)
        chunk = max(1, _PAIR_VALUES // (d * d))
        eye = torch.eye(d, dtype=torch.bool, device=alpha.device)
        for start in range(0, n, chunk):
            a = alpha[start:start + chunk]
            b = beta[start:start + chunk]
            ok = usable[start:start + chunk]
            A = a[:, :, None] + a[:, None, :]
            B = b[:, :, None] + b[:, None, :]
            if untargeted:  # lower the true class, raise the others
                good, score = (A < 0) & (B > 0), -A * B
            else:  # raise the target, lower the others
                good, score = (A > 0) & (B < 0), A * -B
            good &= ok[:, :, None] & ok[:, None, :] & ~eye
            score = torch.where(good, score, torch.full_like(score, -1.0))
            best = score.flatten(1).argmax(dim=1)
            found = score.flatten(1).amax(dim=1) >= 0
            pair = torch.stack([best // d, best % d], dim=1)
            out[start:start + chunk] = torch.where(found[:, None], pair, out[start:start + chunk])
        return out
