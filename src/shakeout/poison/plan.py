"""The ``poison`` section of a plan file: which attacks, which poisoning rates, how sure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from shakeout._schema import Schema
from shakeout.errors import ValidationError

AttackName = Literal["label_flip", "patch_backdoor", "tabular_backdoor", "clean_label_backdoor",
                     "subpopulation"]
Rate = Annotated[float, Field(ge=0, lt=1)]


class PoisonPlan(Schema):
    """Settings of the poison drill as a plan file states them (see
    :func:`shakeout.poison.run`).

    ``params`` sets an attack's own parameters by its name, e.g.
    ``{label_flip: {mode: targeted, source: 1, target: 0}}`` or
    ``{patch_backdoor: {target: 0, size: 3}}``.

    Examples
    --------
    >>> plan = PoisonPlan.model_validate({"attacks": ["patch_backdoor"], "rates": [0, 0.05],
    ...                                   "params": {"patch_backdoor": {"size": 2}}})
    >>> kwargs = plan.run_kwargs()
    >>> kwargs["attacks"]["patch_backdoor"].size, kwargs["rates"], kwargs["level"]
    (2, [0.0, 0.05], 0.95)
    >>> PoisonPlan.model_validate({"rates": [0, 1.5]})
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: PoisonPlan is invalid: rates.1: Input should be less \
than 1, got 1.5.
    """

    model_config = ConfigDict(extra="forbid")

    attacks: list[AttackName] = Field(default_factory=lambda: ["label_flip"], min_length=1)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rates: list[Rate] = Field(default_factory=lambda: [0.0, 0.01, 0.03, 0.1], min_length=1)
    trials: int = Field(1, ge=1)
    level: float = Field(0.95, gt=0, lt=1)
    alpha: float = Field(0.001, gt=0, lt=1)
    """The bagging certificate's error probability (Jia, Cao & Gong 2021)."""

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.poison.run`: the attacks built with their
        parameters."""
        from shakeout.poison.attacks import make

        unused = sorted(set(self.params) - set(self.attacks))
        if unused:
            raise ValidationError(
                f"poison: params name {unused}, which is not among the attacks "
                f"{self.attacks}; add it to attacks or remove its params.")
        return {"attacks": {a: make(a, **self.params.get(a, {})) for a in self.attacks},
                "rates": list(self.rates), "trials": self.trials, "level": self.level,
                "alpha": self.alpha}
