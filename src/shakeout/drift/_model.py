"""What a model adds to drift: the columns it reads, its answers as columns, and streaming
change detectors over its errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.drift._base import DRILL
from shakeout.errors import ShakeoutError, ValidationError, first_line
from shakeout.report.findings import error_finding, finding_name
from shakeout.report.result import Finding


def model_columns(model: Any, frame: pd.DataFrame) -> list[str]:
    """The columns the model was fitted on when it records them, else every column.

    Other columns (ids, text the model never saw) are still tested for drift.
    """
    names = model.capabilities.feature_names
    if names is None:
        return list(frame.columns)
    names = list(names)
    absent = [c for c in names if c not in frame.columns]
    if absent:
        raise ValidationError(
            f"the reference lacks columns the model was fitted on: {absent[:10]}; pass data "
            "with the model's features."
        )
    return names


def outputs(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's answers as columns: class probabilities and the predicted class, or values."""
    X = frame if model.capabilities.frames else frame.to_numpy()
    if model.task != "classification":
        return pd.DataFrame({"prediction": np.asarray(model.predict(X), dtype=np.float64)})
    proba = model.predict_proba(X)
    classes = model.classes_ if model.classes_ is not None else np.arange(proba.shape[1])
    cols = {f"p({c})": proba[:, j] for j, c in enumerate(classes)}
    if proba.shape[1] == 2:
        cols = {f"p({classes[1]})": proba[:, 1]}
    out = pd.DataFrame(cols)
    out["predicted class"] = pd.Series(np.asarray(classes)[proba.argmax(axis=1)]).astype(str)
    return out


def outputs_or_reason(model: Any, X: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    """The model's answers as columns, or why it could not answer (its error's first line)."""
    try:
        return outputs(model, X), None
    except ShakeoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the model raises on this data
        return None, first_line(exc, limit=200)


def concept_findings(current: Any, *, alpha: float = 0.05, n_permutations: int = 500,
                     seed: Any = 0) -> list[Finding]:
    """A streaming change detector over the current per-row errors, in arrival order,
    with its threshold calibrated on this window by permutation.

    DDM (0/1 errors of a classifier) or Page-Hinkley (absolute errors of a regressor) at
    river's defaults alarm in a third to a half of windows whose error rate never changes.
    Without a change the errors are exchangeable, so the detector's own statistic
    (maximised over the window) over ``n_permutations`` shuffles of the same errors is its
    exact null (Pitman 1937): the threshold is that null's ``1 - alpha`` quantile, the
    p-value the share of shuffles that reach the observed statistic, and a window without
    change warns with probability ``alpha``.
    """
    from shakeout._validation import as_generator
    from shakeout.drift._binning import simulated_p_value
    from shakeout.drift.streaming import DDM, PageHinkley, detections
    from shakeout.errors import MissingDependencyError

    errors = np.asarray(current.rows if current.metric == "mae" else 1.0 - current.rows,
                        dtype=np.float64)
    detector = DDM() if current.metric == "accuracy" else PageHinkley()
    name = type(detector).__name__
    rng = as_generator(seed)
    shuffled = rng.permuted(np.broadcast_to(errors, (n_permutations, len(errors))), axis=1)
    null = detector.null_scores(shuffled)
    observed = float(detector.null_scores(errors[None])[0])
    p, _ = simulated_p_value(null, observed) if len(errors) else (1.0, False)
    threshold = float(np.quantile(null, 1 - alpha, method="higher")) if len(errors) else 0.0
    hits: list[int] = []
    if p < alpha and np.isfinite(threshold):
        calibrated = detector.with_threshold(threshold)
        try:
            hits = detections(calibrated, errors)
        except MissingDependencyError as exc:
            return [error_finding(DRILL, "concept", None, str(exc))]
    status = "warn" if p < alpha else "pass"
    where = f"first at row {hits[0]}" if hits else "none"
    return [Finding(name=finding_name(DRILL, "concept", name.lower()), metric="detections",
                    value=len(hits), p_value=float(p), status=status, drill=DRILL,
                    group="concept",
                    message=f"{name} over the current errors in arrival order, its threshold "
                            f"calibrated on this window by permutation: {len(hits)} change "
                            f"points ({where}), p={p:.3g}.",
                    details={"detector": name, "rows": hits[:100], "threshold": threshold,
                             "statistic": observed, "p_method": "permutation",
                             "n_permutations": n_permutations})]
