"""``compare``: is a new model version as good and as stable as the old one on the same rows?"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_open_interval, check_positive_int
from shakeout.data.validate import check_features, check_target
from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.fingerprint import fingerprint
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import BootstrapPlan
from shakeout.stress.metrics import get_metrics
from shakeout.stress.paired import PairedMetric, compare_outputs, floor_note, summarise
from shakeout.stress.sweep import predict_all


def _change(pm: PairedMetric, level: float, alpha: float) -> Finding:
    """How much worse the new model is on one metric: a warning when significantly worse and
    not negligibly; a p-value at the bootstrap floor says so."""
    significant = pm.change.p_value < alpha
    worse = pm.change.value > 0
    verdict = ("no significant difference" if not significant else
               f"new model significantly {'worse' if worse else 'better'} ({pm.effect} effect)")
    details = {"old": pm.a.value, "new": pm.b.value, "old_ci": pm.a.ci, "new_ci": pm.b.ci,
               "direction": "positive means the new model is worse", "test": pm.test,
               **pm.floor_details}
    metric = f"{pm.metric.name}_change"
    return Finding(
        name=finding_name("compare", metric), metric=metric, value=pm.change.value,
        ci=pm.change.ci, ci_level=level, p_value=pm.change.p_value,
        status="warn" if significant and worse and pm.effect != "negligible" else "pass",
        drill="compare", group="versions", effect=pm.effect,
        message=verdict + floor_note(details, pm.change.p_value), details=details)


def compare(old: Any, new: Any, X: Any, y: Any, *, metrics: Sequence[str] | None = None,
            n_bootstrap: int = 1000, level: float = 0.95, alpha: float = 0.05,
            seed: Seed = 0, data_name: str = "data") -> Result:
    """Agreement, flip rate and paired metric differences between two models.

    Each metric's change is "how much worse the new model is" (negative: better), with a
    paired bootstrap interval and a p-value (exact McNemar for accuracy).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> old = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    >>> new = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    >>> r = compare(old, new, X, y, n_bootstrap=200)
    >>> change = r.select(metric="accuracy_change")[0]
    >>> round(change.value, 3), change.status
    (0.056, 'warn')
    """
    started = time.perf_counter()
    check_positive_int("compare", "n_bootstrap", n_bootstrap, 10)
    check_open_interval("compare", "level", level, 0, 1)
    check_open_interval("compare", "alpha", alpha, 0, 1)
    rng = as_generator(seed)
    old, new = wrap(old), wrap(new)
    if old.task != new.task:
        raise ValidationError(f"compare: the old model is a {old.task} model and the new one a "
                              f"{new.task} model; compare like with like.")
    X = check_features(old, X, name="X (old model)")
    check_features(new, X, name="X (new model)")
    y_old = check_target(old, y, len(X))
    if new.task == "classification" and not np.array_equal(y_old, check_target(new, y, len(X))):
        raise ValidationError("compare: the two models order their classes differently.")
    metric_list = get_metrics(metrics, old.task)
    out_old = predict_all(old, X, old.batch_size)
    out_new = predict_all(new, X, new.batch_size)
    if out_old.shape != out_new.shape:
        raise ValidationError(f"compare: outputs differ in shape, {out_old.shape} vs "
                              f"{out_new.shape}.")
    plan = BootstrapPlan(n=len(X), n_boot=n_bootstrap, seed=int(rng.integers(2**31)))
    paired, st = compare_outputs(y_old, summarise(y_old, out_old, metric_list, plan, level),
                                 out_new,
                                 metric_list, plan, old.task, level)
    findings = [_change(pm, level, alpha) for pm in paired]
    if st.flip_rate is not None:
        agree = st.flip_rate
        findings.append(Finding(
            name=finding_name("compare", "agreement"), metric="agreement", value=1 - agree.value,
            ci=(1 - agree.ci[1], 1 - agree.ci[0]), ci_level=level, status="info",
            drill="compare", group="versions", message="share of rows with the same prediction"))
        findings.append(Finding(
            name=finding_name("compare", "flip_rate"), metric="flip_rate", value=agree.value,
            ci=agree.ci, ci_level=level, status="info", drill="compare", group="versions",
            message="share of rows whose predicted class differs between versions"))
    findings.append(Finding(
        name=finding_name("compare", "mean_abs_change"), metric="mean_abs_change",
        value=st.mean_abs_change.value, ci=st.mean_abs_change.ci, ci_level=level,
        status="info", drill="compare", group="versions",
        message="mean absolute change in the predicted probability or value"))
    findings.append(Finding(
        name=finding_name("compare", "prediction_ks"), metric="prediction_ks",
        value=st.ks_statistic, p_value=st.ks_p_value,
        status="warn" if st.ks_p_value < alpha else "pass",
        drill="compare", group="versions",
        message="KS distance between the two prediction distributions; p-value of the paired "
                "Wilcoxon signed-rank test of the per-row change"))
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=f"{old.name} -> {new.name}",
        model_fingerprint=f"{old.fingerprint()} -> {new.fingerprint()}", data=data_name,
        data_fingerprint=fingerprint(X), n_rows=len(X),
        timings={"total_s": time.perf_counter() - started},
        parameters={"drill": "compare", "metrics": [m.name for m in metric_list],
                    "n_bootstrap": n_bootstrap, "level": level, "alpha": alpha})
    return Result(title=f"Comparison of {old.name} and {new.name} on {data_name}",
                  findings=tuple(findings), manifest=manifest)
