"""The ``uncertainty`` section of a plan file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shakeout._schema import Schema


class UncertaintyPlan(Schema):
    """Settings of the uncertainty drill as a plan file states them.

    ``calibration`` is a labelled data file held out for calibration (``target`` names its
    target column when it is a table); without it, ``calibration_share`` of the data is
    held out, seeded. ``alpha`` is the conformal miscoverage, ``risk`` and ``delta`` the
    target selective risk and the probability that its guarantee fails. Empty ``scores``
    means every score (``max_probability`` alone for two classes); ``mc_dropout`` is the
    number of MC-dropout passes (0: none; a torch model with dropout layers).

    Examples
    --------
    >>> plan = UncertaintyPlan.model_validate({"alpha": 0.05, "scores": ["entropy"]})
    >>> kwargs = plan.run_kwargs()
    >>> kwargs["alpha"], kwargs["scores"], kwargs["calibration_share"]
    (0.05, ['entropy'], 0.5)
    """

    model_config = ConfigDict(extra="forbid")

    calibration: str | None = None
    target: str | None = None
    calibration_share: float = Field(0.5, gt=0, lt=1)
    alpha: float = Field(0.1, gt=0, lt=1)
    conformal: Literal["lac", "aps"] = "lac"
    risk: float = Field(0.05, gt=0, lt=1)
    delta: float = Field(0.05, gt=0, lt=1)
    scores: list[Literal["max_probability", "margin", "entropy"]] = Field(default_factory=list)
    n_bins: int = Field(15, ge=1)
    n_boot: int = Field(1000, ge=10)
    level: float = Field(0.95, gt=0, lt=1)
    mc_dropout: int = Field(0, ge=0)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.uncertainty.run` (the calibration file is
        loaded by the drill)."""
        return {"calibration_share": self.calibration_share, "alpha": self.alpha,
                "conformal": self.conformal, "risk": self.risk, "delta": self.delta,
                "scores": list(self.scores) or None, "n_bins": self.n_bins,
                "n_boot": self.n_boot, "level": self.level, "mc_dropout": self.mc_dropout}
