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

from typing import TYPE_CHECKING, Any

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.attacks._base import CATALOG, Attack, load, make
    from shakeout.attacks.ensemble import default_attacks, default_eps
    from shakeout.attacks.plan import AttackPlan
    from shakeout.attacks.run import run
    from shakeout.attacks.threat import Constraints, Domain, data_bounds, perturbation_norm

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.attacks.{module}" for module, names in (
    ("_base", ("CATALOG", "Attack", "load", "make")),
    ("ensemble", ("default_attacks", "default_eps")), ("plan", ("AttackPlan",)),
    ("run", ("run",)),
    ("threat", ("Constraints", "Domain", "data_bounds", "perturbation_norm"))) for name in names}
_public, __dir__ = lazy_names(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    """A catalogued attack class (loaded from its module on first use), else a public name."""
    from shakeout.attacks._base import CATALOG, load

    classes = {cls_name: module for module, cls_name, _ in CATALOG.values()}
    if name in classes:
        return getattr(load(classes[name]), name)
    return _public(name)


__all__ = ["APGD", "BIM", "CATALOG", "FGSM", "JSMA", "PGD", "EAD", "Attack", "AttackPlan",
           "CarliniWagner", "Constraints", "DeepFool", "Domain", "HopSkipJump", "SquareAttack",
           "TransferAttack", "data_bounds", "default_attacks", "default_eps", "make",
           "perturbation_norm", "run"]
