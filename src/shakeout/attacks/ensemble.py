"""The default threat-model grid and attack ensemble of the drill, per norm and model kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shakeout.attacks._base import Attack, check_params, drill_attack
from shakeout.errors import ValidationError
from shakeout.models import Model

# Budgets as multiples of the widest valid range of one value (L0: numbers of values).
EPS_GRID = {"linf": (0.03, 0.1, 0.3), "l2": (0.3, 1.0, 3.0), "l1": (1.0, 3.0, 10.0),
            "l0": (1.0, 3.0, 10.0)}

# name -> settings; the first white-box budgeted attack also runs the unbounded sanity check.
WHITE_BOX = {
    "linf": {"apgd-ce": {"steps": 50}, "apgd-dlr": {"steps": 50}, "fgsm": {},
             "deepfool": {"steps": 50}, "square": {"steps": 100}},
    "l2": {"apgd-ce": {"steps": 50}, "apgd-dlr": {"steps": 50}, "fgsm": {},
           "deepfool": {"steps": 50}, "square": {"steps": 100, "p_init": 0.1}},
    "l1": {"pgd": {"steps": 50, "restarts": 2}, "ead": {"steps": 50, "binary_steps": 5}},
    "l0": {"jsma": {}},
}
BLACK_BOX = {
    "linf": {"square": {"steps": 1000}, "transfer": {}},
    "l2": {"square": {"steps": 1000, "p_init": 0.1}, "hopskipjump": {"steps": 20},
           "transfer": {}},
    "l1": {"transfer": {}},
    "l0": {},
}


def default_eps(norm: str, span: float) -> tuple[float, ...]:
    """The default budget grid: the multiples in ``EPS_GRID`` of ``span``, the widest range
    of one input value (L0 budgets count values and ignore ``span``).

    >>> default_eps("linf", 1.0)
    (0.03, 0.1, 0.3)
    >>> default_eps("l0", 255.0)
    (1.0, 3.0, 10.0)
    """
    if norm == "l0":
        return EPS_GRID["l0"]
    return tuple(float(np.round(m * span, 12)) for m in EPS_GRID[norm])


def default_attacks(model: Model, norm: str, eps: float, *,
                    params: Mapping[str, Mapping[str, Any]] | None = None,
                    **threat: Any) -> list[Attack]:
    """A strong ensemble for ``norm``: parameter-free APGD with two losses, FGSM (for the
    sanity checks), a score-based black-box attack and a minimal-perturbation attack for
    torch models; for other models the black-box attacks (with a transfer attack when torch
    is installed).

    Budgeted attacks get ``eps``; minimal-perturbation attacks get none (they report the
    smallest change they find). ``threat`` holds shared settings (``bounds``,
    ``constraints``, ``batch_size``); ``params`` changes an attack's own settings by its
    name (``{"square": {"steps": 200}}``), and names an attack of this ensemble.

    >>> from shakeout.models import wrap
    >>> from sklearn.linear_model import LogisticRegression
    >>> clf = wrap(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    >>> [a.name for a in default_attacks(clf, "l2", 0.5)][:2]
    ['square-l2', 'hopskipjump-l2']
    >>> default_attacks(clf, "linf", 0.5, params={"square": {"steps": 200}})[0].steps
    200
    """
    chosen = default_settings(model, norm)
    own = check_params("the default ensemble", params, list(chosen))
    return [drill_attack(name, eps, norm, threat, {**settings, **own.get(name, {})})
            for name, settings in chosen.items()]


def default_settings(model: Model, norm: str) -> dict[str, dict[str, Any]]:
    """The attacks of the default ensemble for ``model`` and ``norm``, with their settings.

    >>> from shakeout.models import wrap
    >>> from sklearn.linear_model import LogisticRegression
    >>> default_settings(wrap(LogisticRegression().fit([[0.0], [1.0]], [0, 1])), "l2")["square"]
    {'steps': 1000, 'p_init': 0.1}
    """
    table = WHITE_BOX if model.capabilities.gradients else BLACK_BOX
    chosen = {name: dict(settings) for name, settings in table[norm].items()}
    if "transfer" in chosen and not _has_torch():
        chosen.pop("transfer")
    if not chosen:
        raise ValidationError(
            f"no default attack for norm {norm!r} on {model.name}, a model without gradients. "
            "Use norm='linf' or 'l2' (score- and decision-based attacks), or a torch model."
        )
    return chosen


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
