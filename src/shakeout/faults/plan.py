"""The ``faults`` section of a plan file: where faults strike, which, how many, mitigations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shakeout._schema import Schema


class FaultsPlan(Schema):
    """Settings of the faults drill as a plan file states them (see
    :func:`shakeout.faults.run` for each).

    Examples
    --------
    >>> plan = FaultsPlan.model_validate({"bits": [30, 31], "layers": ["fc"],
    ...                                   "mitigations": ["protection"]})
    >>> kwargs = plan.run_kwargs()
    >>> kwargs["bits"], kwargs["layers"], kwargs["margin"], kwargs["mitigations"]
    ([30, 31], ['fc'], 0.01, ['protection'])
    >>> FaultsPlan.model_validate({"kinds": ["melt"]})
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: FaultsPlan is invalid: kinds.0: Input should be 'flip', \
'stuck_at_0', 'stuck_at_1' or 'random_value', got 'melt'.
    """

    model_config = ConfigDict(extra="forbid")

    where: Literal["weight", "activation"] = "weight"
    kinds: list[Literal["flip", "stuck_at_0", "stuck_at_1", "random_value"]] = Field(
        default_factory=lambda: ["flip"], min_length=1)
    bits: list[int] | None = None
    layers: list[str] | None = None
    layer_types: list[str] | None = None
    margin: float = Field(0.01, gt=0, lt=1)
    confidence: float = Field(0.99, gt=0, lt=1)
    exhaustive_max: int = Field(20_000, ge=1)
    transient: bool = False
    mitigations: list[Literal["range_restriction", "redundant_execution", "protection"]] = Field(
        default_factory=list)
    n_critical: int = Field(20, ge=1)
    fault_probability: float | None = Field(None, ge=0, le=1)
    fleet: int = Field(1_000_000, ge=1)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.faults.run`."""
        return self.model_dump()
