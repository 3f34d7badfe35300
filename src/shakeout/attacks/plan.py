"""The ``attack`` section of a plan file: which attacks, which budgets, which threat model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shakeout._schema import Schema
from shakeout.attacks.threat import Constraints, data_bounds


class AttackPlan(Schema):
    """Settings of the attack drill as a plan file states them.

    ``bounds`` is ``[low, high]``, ``"data"`` (per-feature range of the attacked data) or
    null (no range). Empty ``attacks`` and ``eps`` mean the defaults. ``params`` sets an
    attack's own parameters by its name, e.g. ``{square: {steps: 500}}`` (Square's budget of
    queries per point) or ``{hopskipjump: {steps: 10}}`` (its iterations).

    Examples
    --------
    >>> plan = AttackPlan.model_validate({"attacks": ["pgd"], "eps": [0.03, 0.1],
    ...                                   "immutable": ["age"],
    ...                                   "params": {"pgd": {"steps": 20}}})
    >>> kwargs = plan.run_kwargs(None)
    >>> kwargs["attacks"], kwargs["eps"], kwargs["constraints"], kwargs["params"]
    (['pgd'], [0.03, 0.1], Constraints(immutable=['age']), {'pgd': {'steps': 20}})
    """

    model_config = ConfigDict(extra="forbid")

    attacks: list[str] = Field(default_factory=list)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    eps: list[float] = Field(default_factory=list)
    norm: Literal["linf", "l2", "l1", "l0"] = "linf"
    bounds: tuple[float, float] | Literal["data"] | None = (0.0, 1.0)
    immutable: list[str | int] = Field(default_factory=list)
    integer: list[str | int] = Field(default_factory=list)
    categorical: dict[str, list[float]] = Field(default_factory=dict)
    tolerance: float = Field(0.02, ge=0, lt=1)
    level: float = Field(0.95, gt=0, lt=1)
    sanity: bool = True
    batch_size: int | None = Field(None, ge=1)

    def run_kwargs(self, X: Any) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.attacks.run` (``X`` for ``bounds: data``)."""
        rules = Constraints(immutable=self.immutable, integer=self.integer,
                            categorical=self.categorical or None)
        has_rules = bool(self.immutable or self.integer or self.categorical)
        return {"attacks": self.attacks or None, "params": self.params or None,
                "eps": self.eps or None, "norm": self.norm,
                "bounds": data_bounds(X) if self.bounds == "data" else self.bounds,
                "constraints": rules if has_rules else None, "tolerance": self.tolerance,
                "level": self.level, "sanity": self.sanity, "batch_size": self.batch_size}
