"""The ``drift:`` section of a plan file: tests, corrections, decision policy, monitoring."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from shakeout._schema import Schema
from shakeout.drift.decision import DecisionPolicy


class DriftPlan(Schema):
    """Options of ``shakeout drift`` and ``shakeout monitor`` (and of :class:`DriftSuite`).

    Examples
    --------
    >>> plan = DriftPlan.model_validate({"tests": ["psi", "ks"], "policy": {"psi_alert": 0.2},
    ...                                  "every": "1W"})
    >>> plan.suite_options()["tests"], plan.policy.psi_alert, plan.every
    (['psi', 'ks'], 0.2, '1W')
    """

    model_config = ConfigDict(extra="forbid")

    tests: list[str] = ["psi", "ks", "kl"]
    categorical_tests: list[str] = ["psi", "chi2"]
    multivariate: list[str] = ["mmd"]
    alpha: float = Field(0.05, gt=0, lt=1)
    correction: str = "holm"
    n_bins: int = Field(10, ge=2)
    binning: str = "quantile"
    smoothing: float = Field(1e-8, gt=0, lt=1)
    """The proportion an empty bin gets inside a logarithm (PSI, KL); called ``eps`` before,
    a name that now means only the attack budget."""
    n_permutations: int = Field(100, ge=1)
    max_rows: int = Field(2000, ge=2)
    categorical: list[str] = []
    importance: dict[str, float] | None = None
    policy: DecisionPolicy = Field(default_factory=DecisionPolicy)
    conformal_alpha: float | None = Field(None, gt=0, lt=1)
    """With a model and a holdout: conformal coverage at this miscoverage on each labelled
    current window (see :class:`~shakeout.drift.DriftSuite`)."""
    timestamp: str | None = None
    """Monitoring: the column that orders rows in time."""
    every: str | None = None
    """Monitoring: window length, a pandas frequency (``1D``, ``1W``) or a row count (``5000``)."""
    store: str | None = None
    """Monitoring: SQLAlchemy URL of the history store (default ``sqlite:///shakeout-history.db``)."""
    deescalate_after: int = Field(2, ge=1)
    """Monitoring: consecutive calmer windows before a decision steps down (it escalates
    at once)."""

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """A plan that still says ``eps`` gets the new name instead of a list of fields.

        >>> DriftPlan.model_validate({"eps": 1e-6})
        Traceback (most recent call last):
        ...
        shakeout.errors.ValidationError: DriftPlan is invalid: eps is now called smoothing (eps \
means the attack budget); write smoothing: 1e-06.
        """
        if isinstance(data, dict) and "eps" in data:
            raise ValueError("eps is now called smoothing (eps means the attack budget); "
                             f"write smoothing: {data['eps']!r}")
        return data

    def suite_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~shakeout.drift.DriftSuite`."""
        return self.model_dump(exclude={"timestamp", "every", "store", "deescalate_after"}) | {
            "policy": self.policy}
