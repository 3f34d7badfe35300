"""The ``certify`` section of a plan file: the noise, the sample sizes, the radii."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from shakeout._schema import Schema


class CertifyPlan(Schema):
    """Settings of the certify drill as a plan file states them.

    ``sigma`` is the Gaussian's standard deviation (``norm: l2``) or the uniform noise's
    half-width (``norm: l1``), in input units or, with ``relative: true``, in units of each
    feature's standard deviation. Empty ``radii`` means the default grid (multiples of
    ``sigma``). See :func:`shakeout.certify.run` for every setting.

    Examples
    --------
    >>> plan = CertifyPlan.model_validate({"sigma": 0.5, "n": 10_000, "radii": [0, 0.25]})
    >>> kwargs = plan.run_kwargs()
    >>> kwargs["sigma"], kwargs["n"], kwargs["radii"], kwargs["n0"]
    (0.5, 10000, [0.0, 0.25], 100)
    >>> CertifyPlan.model_validate({"n0": 500, "n": 100})
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: CertifyPlan is invalid: n0 (noisy passes that pick the \
class) must be at most n (passes that bound its probability), got n0=500 > n=100.
    """

    model_config = ConfigDict(extra="forbid")

    sigma: float = Field(0.25, gt=0)
    norm: Literal["l2", "l1"] = "l2"
    relative: bool = False
    n0: int = Field(100, ge=1)
    n: int = Field(100_000, ge=1)
    alpha: float = Field(0.001, gt=0, lt=1)
    radii: list[float] = Field(default_factory=list)
    level: float = Field(0.95, gt=0, lt=1)
    batch_size: int = Field(4096, ge=1)
    sanity: bool = True
    sanity_n: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _selection_within_estimation(self) -> "CertifyPlan":
        if self.n0 > self.n:
            raise ValueError(f"n0 (noisy passes that pick the class) must be at most n (passes "
                             f"that bound its probability), got n0={self.n0} > n={self.n}")
        return self

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.certify.run`."""
        return {"sigma": self.sigma, "norm": self.norm, "relative": self.relative,
                "n0": self.n0, "n": self.n, "alpha": self.alpha, "radii": self.radii or None,
                "level": self.level, "batch_size": self.batch_size, "sanity": self.sanity,
                "sanity_n": self.sanity_n}
