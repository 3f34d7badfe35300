"""The ``stress`` section of a plan file."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from shakeout._schema import Schema
from shakeout.stats import METHODS
from shakeout.stress.features import DEFAULT_SHIFT
from shakeout.stress.sweep import Sweep


class PerturbationSpec(Schema):
    """One perturbation of the plan: a registered name, its parameters and grid.

    Examples
    --------
    >>> spec = PerturbationSpec(name="gaussian_noise", severities=[0, 0.1], params={"relative": True})
    >>> spec.to_sweep().label
    'gaussian_noise'
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    severities: list[float] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    def to_sweep(self) -> Sweep:
        from shakeout.perturb import make

        p = make(self.name, **self.params)
        grid = tuple(self.severities) if self.severities is not None else p.default_severities
        return Sweep(p, grid, self.label or "")


class StressPlan(Schema):
    """Which perturbations, metrics and statistics the stress drill uses.

    ``perturbations`` empty means the defaults for the data (see ``default_sweeps``).
    """

    model_config = ConfigDict(extra="forbid")

    perturbations: list[PerturbationSpec] = Field(default_factory=list)
    metrics: list[str] | None = None
    n_bootstrap: int = Field(1000, ge=10)
    repeats: int = Field(5, ge=1)
    level: float = Field(0.95, gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    correction: str = Field("holm", pattern="^(" + "|".join(METHODS) + ")$")
    batch_size: int | None = Field(None, ge=1)
    sensitivity: bool = True
    top_k: int = Field(5, ge=1)
    sensitivity_shift: float = Field(DEFAULT_SHIFT, gt=0, le=1)
    allow_nan: bool = False

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`shakeout.stress.run`."""
        sweeps = [p.to_sweep() for p in self.perturbations] or None
        return {"sweeps": sweeps, "metrics": self.metrics, "n_bootstrap": self.n_bootstrap,
                "repeats": self.repeats,
                "level": self.level, "alpha": self.alpha, "correction": self.correction,
                "batch_size": self.batch_size, "sensitivity": self.sensitivity,
                "top_k": self.top_k, "sensitivity_shift": self.sensitivity_shift,
                "allow_nan": self.allow_nan}
