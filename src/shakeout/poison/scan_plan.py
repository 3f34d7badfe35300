"""The ``scan`` section of a plan file: which scanners, the removal budget, the columns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shakeout._schema import Schema

ScannerName = Literal["robust_z", "iqr", "mahalanobis_mcd", "isolation_forest", "lof",
                      "oof_probability", "knn_labels", "confident_learning",
                      "spectral_signature", "activation_clustering"]


class ScanPlan(Schema):
    """Settings of the scan drill as a plan file states them (see
    :func:`shakeout.poison.scan`).

    ``scanners`` None runs the tabular scanners, the label scanners when the data has a
    target, and the representation scanners when the model has representations. ``mask``
    names a column holding the simulation's ground truth (True for a poisoned row) and
    ``key`` a column of row ids; both are left out of the features.

    Examples
    --------
    >>> plan = ScanPlan.model_validate({"scanners": ["iqr", "lof"], "budget": 0.1})
    >>> kwargs = plan.run_kwargs()
    >>> kwargs["scanners"], kwargs["budget"], kwargs["level"]
    (['iqr', 'lof'], 0.1, 0.95)
    >>> ScanPlan.model_validate({"scanners": ["zscore"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: ScanPlan is invalid: scanners.0: Input should be \
'robust_z', 'iqr', ...
    """

    model_config = ConfigDict(extra="forbid")

    scanners: list[ScannerName] | None = Field(None, min_length=1)
    budget: float = Field(0.05, gt=0, lt=1)
    level: float = Field(0.95, gt=0, lt=1)
    mask: str | None = None
    key: str | None = None

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`shakeout.poison.scan` (``mask`` and ``key`` are
        columns the drill takes out of the data first)."""
        return self.model_dump(exclude={"mask", "key"})
