"""Evasion attacks: worst-case behaviour under a stated threat model.

White-box attacks (torch models): :class:`FGSM`, :class:`PGD`, :class:`BIM`, :class:`APGD`,
:class:`CarliniWagner`, :class:`DeepFool`, :class:`JSMA`, :class:`EAD`. Black-box attacks
(any model): :class:`SquareAttack` (scores), :class:`HopSkipJump` (decisions only),
:class:`TransferAttack` (a surrogate fitted to the model's answers). :func:`run` is the drill:
robust accuracy against budget with exact intervals, the worst case over an ensemble, minimal
perturbation sizes and sanity checks against gradient masking.

White-box attacks and the transfer attack import torch when first used; ``import
shakeout.attacks`` alone does not.
"""

from __future__ import annotations

from typing import Any

from shakeout.attacks._base import CATALOG, Attack, load, make
from shakeout.attacks.ensemble import default_attacks, default_eps
from shakeout.attacks.plan import AttackPlan
from shakeout.attacks.run import run
from shakeout.attacks.threat import Constraints, Domain, data_bounds, perturbation_norm

_LAZY = {cls_name: module for module, cls_name, _ in CATALOG.values()}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(load(_LAZY[name]), name)
    raise AttributeError(f"module 'shakeout.attacks' has no attribute {name!r}")


__all__ = ["APGD", "BIM", "CATALOG", "FGSM", "JSMA", "PGD", "EAD", "Attack", "AttackPlan",
           "CarliniWagner", "Constraints", "DeepFool", "Domain", "HopSkipJump", "SquareAttack",
           "TransferAttack", "data_bounds", "default_attacks", "default_eps", "make",
           "perturbation_norm", "run"]
