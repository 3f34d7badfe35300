"""``stress.run``: the whole perturbation drill on one model and one data set."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._cores import in_background
from shakeout._validation import (Seed, as_generator, check_choice, check_open_interval,
                                  check_positive_int)
from shakeout.data.validate import check_features, check_target
from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.fingerprint import fingerprint
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import METHODS, BootstrapPlan
from shakeout.stress.defaults import default_sweeps, is_image_batch
from shakeout.stress.metrics import Metric, get_metrics
from shakeout.stress.features import DEFAULT_SHIFT
from shakeout.stress.sensitivity import sensitivity_findings
from shakeout.stress.sweep import KINDS, Sweep, predict_all, run_sweeps

MIN_ROWS = 2
"""Fewer rows than this admit no interval at all: ``stress.run`` refuses them."""

DEFAULT_REPEATS = 5
"""Draws per severity by default: enough for the draw spread to enter every interval (and a
t-interval on it for model-side perturbations) at five times the predictions of one draw."""


def run(model: Any, X: Any, y: Any, *, sweeps: Sequence[Sweep] | None = None,
        metrics: Sequence[str | Metric] | None = None, n_bootstrap: int = 1000, level: float = 0.95,
        alpha: float = 0.05, correction: str = "holm", batch_size: int | None = None,
        sensitivity: bool = True, top_k: int = 5, sensitivity_shift: float = DEFAULT_SHIFT,
        allow_nan: bool = False, max_bootstrap_rows: int = 10_000,
        repeats: int = DEFAULT_REPEATS, seed: Seed = 0, quiet: bool = True,
        data_name: str = "data") -> Result:
    """Measure how a model degrades under perturbation, with intervals, tests and a score.

    For each perturbation and severity, over ``repeats`` draws of the perturbation: every
    metric with its interval (the degradation curve), the drop from clean with a paired
    interval and a p-value (exact McNemar / sign-flip for accuracy, paired bootstrap
    otherwise) adjusted across the grid (``correction``), the flip rate, the mean absolute
    change in predictions and the paired shift of the prediction distribution; per
    perturbation, a robustness score. Intervals account for the rows and the draws (see
    :mod:`shakeout.stress.paired`); accuracy and flip rate get Wilson score intervals and the
    accuracy drop Newcombe's paired interval, which stay honest on few rows. With ``sensitivity``: the top-k
    features by per-feature perturbation, permutation importance, and Sobol indices (or
    Morris screening when there are many features).

    Parameters
    ----------
    model : any model ``shakeout.wrap`` accepts
    X, y : features (array, images or DataFrame) and labels
    sweeps : list of Sweep or None
        Perturbations and their severity grids; None chooses defaults for the data.
    metrics : list of str or Metric, or None
        Names of :data:`shakeout.stress.METRICS` or :class:`~shakeout.stress.metrics.Metric`
        objects (a fitted conformal predictor's ``stress_metrics()`` gives coverage and set
        size); the first is the primary metric (robustness score); defaults per task.
    n_bootstrap : int, default=1000
        Bootstrap resamples for every interval.
    level : float, default=0.95
        Confidence level of intervals.
    alpha : float, default=0.05
        Significance level for verdicts after correction.
    correction : {"holm", "bonferroni", "bh", "none"}, default="holm"
    sensitivity_shift : float, default=0.1
        Per-feature shift up and down of the sensitivity ranking, as a fraction of each
        feature's range (0.1: +-10%).
    max_bootstrap_rows : int, default=10000
        Above this many rows the m-out-of-n bootstrap bounds the cost.
    repeats : int, default=5
        Independent draws of each perturbation at every severity (the same draws at every
        severity: common random numbers). Metrics are those of the pooled rows x draws;
        intervals include the draw-to-draw spread, so a result does not hinge on one draw.
        A model-side perturbation needs at least 2 to give its draw spread an interval.
    seed : int, Generator or None
        Same seed, same numbers (for the same batch size).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from shakeout.perturb import GaussianNoise
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> result = run(clf, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.5))], n_bootstrap=200,
    ...              sensitivity=False, seed=0)
    >>> drop = result.select(metric="accuracy_drop")[0]
    >>> round(drop.value, 3), drop.status
    (0.024, 'warn')
    """
    started = time.perf_counter()
    check_positive_int("stress.run", "n_bootstrap", n_bootstrap, 10)
    check_open_interval("stress.run", "level", level, 0, 1)
    check_open_interval("stress.run", "alpha", alpha, 0, 1)
    check_choice("stress.run", "correction", correction, METHODS)
    check_positive_int("stress.run", "top_k", top_k)
    check_positive_int("stress.run", "repeats", repeats)
    rng = as_generator(seed)
    model = wrap(model)
    X = check_features(model, X, allow_nan=allow_nan)
    y = check_target(model, y, len(X))
    if len(X) < MIN_ROWS:
        raise ValidationError(
            f"stress.run: X has {len(X)} row(s); at least {MIN_ROWS} are needed for any "
            "interval (with one row every resample is that row). Pass more rows.")
    metric_list = get_metrics(metrics, model.task)
    batch_size = check_positive_int("stress.run", "batch_size", batch_size or model.batch_size)
    sweeps = list(sweeps) if sweeps is not None else default_sweeps(model, X)
    if not sweeps:
        raise ValidationError("stress.run: sweeps is empty; pass at least one Sweep or None.")
    one_draw = [s.label for s in sweeps if KINDS[s.perturbation.kind].shared]
    if repeats < 2 and one_draw:
        warnings.warn(
            f"stress.run: {', '.join(one_draw)} perturb(s) the model with one draw shared by "
            "every row; with repeats=1 its intervals leave out the draw-to-draw spread. Use "
            "repeats >= 5.", stacklevel=2)
    labels = [s.label for s in sweeps]
    if len(set(labels)) != len(labels):
        raise ValidationError(f"stress.run: sweep labels must be unique, got {labels}; set label=.")

    timings: dict[str, float] = {}
    plan = BootstrapPlan(n=len(X), n_boot=n_bootstrap, seed=int(rng.integers(2**31)),
                         max_rows=max_bootstrap_rows)
    # the resamples (plan.counts waits for them) and the data's fingerprint on the other
    # core while the model predicts
    in_background(plan.counts)
    data_print = in_background(lambda: fingerprint(X))
    t = time.perf_counter()
    clean = predict_all(model, X, batch_size)
    timings["clean_predict_s"] = time.perf_counter() - t
    _check_label_range(model, y, clean)
    t = time.perf_counter()
    findings: list[Finding] = run_sweeps(
        model, X, y, sweeps, metrics=metric_list, plan=plan, level=level, alpha=alpha,
        correction=correction, batch_size=batch_size, rng=rng.spawn(1)[0], clean=clean,
        quiet=quiet, repeats=repeats)
    timings["sweep_s"] = time.perf_counter() - t
    if sensitivity:
        t = time.perf_counter()
        findings += sensitivity_findings(model, X, y, metric=metric_list[0],
                                         top_k=top_k, level=level, rng=rng.spawn(1)[0],
                                         images=is_image_batch(X), shift=sensitivity_shift)
        timings["sensitivity_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=model.name,
        model_fingerprint=model.fingerprint(), data=data_name,
        data_fingerprint=data_print.result(),
        n_rows=len(X), timings=timings,
        parameters={"drill": "stress", "metrics": [m.name for m in metric_list],
                    "n_bootstrap": n_bootstrap, "level": level, "alpha": alpha,
                    "correction": correction, "batch_size": batch_size,
                    "max_bootstrap_rows": max_bootstrap_rows, "repeats": repeats,
                    "sensitivity_shift": sensitivity_shift,
                    "sweeps": {s.label: {"perturbation": repr(s.perturbation),
                                         "severities": list(s.severities),
                                         "unit": s.perturbation.unit} for s in sweeps}})
    return Result(title=f"Stress test of {model.name} on {data_name}", findings=tuple(findings),
                  manifest=manifest)


def _check_label_range(model: Any, y: np.ndarray, clean: np.ndarray) -> None:
    if model.task == "classification" and model.classes_ is None:
        k = clean.shape[1]
        if y.min() < 0 or y.max() >= k:
            raise ValidationError(
                f"labels must be class indices 0..{k - 1} for this model (it outputs {k} "
                f"classes), got values from {y.min()} to {y.max()}."
            )
