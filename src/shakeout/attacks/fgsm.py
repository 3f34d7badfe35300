"""FGSM: one gradient step to the edge of the budget (Goodfellow et al. 2015)."""

from __future__ import annotations

from typing import Any

from shakeout.attacks._base import GradientAttack
from shakeout.attacks.kernel import LOSSES, ascent
from shakeout._validation import check_choice


class FGSM(GradientAttack):
    """Fast gradient sign method: ``x + eps * sign(grad)`` (L2: along the normalised gradient).

    One forward and one backward pass. Cheap, and weak on purpose: the drill uses it as a
    sanity check, since an iterative attack that does worse than FGSM points to gradient
    masking or a broken evaluation.

    Parameters
    ----------
    eps : float
        Budget in ``norm``, in the model's input space.
    norm : {"linf", "l2"}, default="linf"
    loss : {"ce", "dlr", "margin"}, default="ce"
        Cross-entropy, difference of logits ratio, or logit margin.
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value: scalars or arrays of one input's shape.
    constraints : Constraints or None
        Tabular rules (immutable, integer and categorical features, a mask).
    batch_size : int, default=256
        Rows per gradient call.

    References
    ----------
    Goodfellow, Shlens, Szegedy. Explaining and harnessing adversarial examples. ICLR 2015.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import FGSM
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    ...     _ = net.bias.zero_()
    >>> X = np.array([[0.6, 0.5]])
    >>> FGSM(eps=0.2).apply(net, X, [0]).round(3).tolist()
    [[0.4, 0.5]]
    """

    slug = "fgsm"
    norms = ("linf", "l2")
    paper = "Goodfellow et al. 2015"

    def __init__(self, *, eps: float, norm: str = "linf", loss: str = "ce",
                 bounds: Any = (0.0, 1.0), constraints: Any = None, batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.loss = check_choice(self, "loss", loss, LOSSES)

    def _perturb_batch(self, kernel, x, y, t, domain, rng):
        _, _, g = kernel.gradient(x, y, t, self.loss)
        direction = ascent(kernel.usable(g, x), self.norm)
        return kernel.project(x + self.eps * direction, x, self.norm, float(self.eps))
