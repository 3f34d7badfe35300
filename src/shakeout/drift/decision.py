"""The retraining decision: alerts, performance correlation, action, with the evidence.

Three levels, each configurable through :class:`DecisionPolicy`:

1. Alerts. PSI above ``psi_alert`` on an important feature, KL above ``kl_alert`` on a
   continuous feature, KS p-value below ``ks_alpha`` after Bonferroni over the features
   (ignoring negligible effects unless told otherwise), a significant multivariate test,
   and PSI above ``psi_alert`` on the model's outputs. With ``beyond_chance``, PSI and KL
   alert only above what chance gives at the window's size.
2. Performance correlation, when labels exist: degradation above ``max_degradation``
   together with drift means retrain; drift with stable performance means investigate the
   source; degradation without input drift points at concept drift or label shift.
   Without measured performance, a shifted label mix alone means investigate first.
3. Action: ``"retrain now"``, ``"investigate first"`` or ``"continue monitoring"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shakeout.drift.psi import psi_band
from shakeout.report.result import Finding
from shakeout.stats import adjust_p_values

ACTIONS = ("continue monitoring", "investigate first", "retrain now")


class DecisionPolicy(BaseModel):
    """Thresholds of the three-level retraining framework.

    Examples
    --------
    >>> DecisionPolicy().psi_alert, DecisionPolicy(max_degradation=0.05).max_degradation
    (0.1, 0.05)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi_alert: float = Field(0.1, ge=0,
                             description="PSI above this on an important feature alerts.")
    psi_retrain: float = Field(
        0.25, ge=0, description="PSI from which drift alone says retrain (no performance "
                                "measured).")
    beyond_chance: bool = Field(
        False, description="Count a PSI or KL alert only when the value also exceeds what "
                           "samples of its size reach one time in twenty without drift.")
    kl_alert: float = Field(0.05, ge=0,
                            description="KL (nats) above this on a continuous feature alerts.")
    ks_alpha: float = Field(0.01, gt=0, lt=1,
                            description="KS p-value, after Bonferroni, below which KS alerts.")
    ignore_negligible: bool = Field(
        True, description="Ignore significant KS results with a negligible effect.")
    min_importance: float = Field(
        0.05, ge=0, le=1, description="Importance share from which a feature is important.")
    max_degradation: float = Field(
        0.03, ge=0, description="Relative performance loss that counts as degradation.")
    on_degradation_without_drift: str = Field(
        "investigate first", pattern="^(retrain now|investigate first)$",
        description="Action when performance drops but no input drifted.")


def important_features(importance: Mapping[str, float] | None, policy: DecisionPolicy,
                       features: Sequence[str]) -> set[str]:
    """Features whose importance share reaches ``min_importance`` (all, when unknown).

    >>> sorted(important_features({"a": 0.9, "b": 0.01}, DecisionPolicy(), ["a", "b"]))
    ['a']
    """
    if not importance:
        return set(features)
    return {f for f in features if importance.get(f, 0.0) >= policy.min_importance}


def _chance(f: Finding, policy: DecisionPolicy) -> bool:
    """Whether the policy discounts ``f`` as within what chance gives at its sample size."""
    return policy.beyond_chance and f.value <= f.details.get("chance_p95", -1.0)


def _alerts(findings: Sequence[Finding], policy: DecisionPolicy,
            important: set[str]) -> list[tuple[float, str, str]]:
    """(PSI-equivalent severity, feature, sentence) for every alert."""
    out = []
    for f in findings:
        if (f.drill != "drift" or f.group not in ("psi", "kl", "output")
                or not np.isfinite(f.value)):
            continue
        if f.metric == "psi" and f.value > policy.psi_alert and (
                f.group == "output" or f.feature in important) and not _chance(f, policy):
            band = psi_band(f.value)[0]
            where = "model output" if f.group == "output" else "feature"
            out.append((f.value, f.feature or "",
                        f"PSI {f.value:.3g} ({band}) on {where} {f.feature!r}"))
        elif (f.group == "kl" and f.value > policy.kl_alert and f.feature in important
              and (f.details.get("method") == "gaussian"
                   or f.details.get("binning") != "categories") and not _chance(f, policy)):
            out.append((policy.psi_alert, f.feature or "",
                        f"KL {f.value:.3g} nats on continuous feature {f.feature!r}"))
    ks = [f for f in findings if f.drill == "drift" and f.group == "ks" and f.p_value is not None]
    if ks:
        raw = [f.details.get("p_raw", f.p_value) for f in ks]
        for f, p in zip(ks, adjust_p_values(raw, "bonferroni")):
            if p < policy.ks_alpha and f.feature in important and not (
                    policy.ignore_negligible and f.effect == "negligible"):
                out.append((policy.psi_alert, f.feature or "",
                            f"KS D={f.value:.3g} on {f.feature!r} (Bonferroni p={p:.2g})"))
    for f in findings:
        if f.drill == "drift" and f.group in ("mmd", "classifier", "projection") and (
                f.status == "fail"):
            text = f.details.get("statistic_text", "")
            out.append((policy.psi_alert, "", f"{f.group} test: {text} (p={f.p_value:.2g})"))
    return out


def decide(findings: Sequence[Finding], *, policy: DecisionPolicy | None = None,
           importance: Mapping[str, float] | None = None) -> Finding:
    """The action and the evidence that led there, as a Finding (``metric="decision"``).

    ``value`` is 0 (continue monitoring), 1 (investigate first) or 2 (retrain now).

    Examples
    --------
    >>> f = Finding(name="drift/psi/age", metric="psi", value=0.31, drill="drift", group="psi",
    ...             feature="age", status="fail")
    >>> d = decide([f])
    >>> d.details["action"], d.details["evidence"][0]
    ('retrain now', "PSI 0.31 (major) on feature 'age'")
    """
    policy = policy or DecisionPolicy()
    features = sorted({f.feature for f in findings if f.drill == "drift" and f.feature
                       and f.group in ("psi", "kl", "ks")})
    important = important_features(importance, policy, features)
    alerts = sorted(_alerts(findings, policy, important), key=lambda a: -a[0])
    evidence = [a[2] for a in alerts]
    drift = bool(alerts)
    perf = next((f for f in findings if f.group == "performance" and f.metric == "degradation"),
                None)
    label_shift = [f for f in findings if f.group == "label" and f.status == "fail"]
    if perf is not None:
        degraded = perf.value > policy.max_degradation and perf.ci is not None and perf.ci[0] > 0
        evidence.append(perf.message)
        if degraded and drift:
            action, diagnosis = "retrain now", "performance degraded together with data drift"
        elif drift:
            action, diagnosis = ("investigate first", "data drifted but performance is stable: "
                                 "monitor and investigate the source")
        elif degraded:
            action = policy.on_degradation_without_drift
            diagnosis = ("performance degraded without input drift: suspect concept drift"
                         + (" or label shift" if not label_shift else "; the label mix shifted"))
        else:
            action, diagnosis = "continue monitoring", "no drift alert and performance is stable"
        if degraded and perf.details.get("baseline") == "reference":
            diagnosis += (" (unless the reference is the model's training data, whose score is "
                          "optimistic: give held-out labelled rows as the holdout)")
    else:
        worst = alerts[0][0] if alerts else 0.0
        if worst >= policy.psi_retrain:
            action, diagnosis = "retrain now", ("major drift on an important feature (no "
                                                 "performance measured)")
        elif drift:
            action, diagnosis = "investigate first", ("drift alerts without measured "
                                                       "performance to judge their impact")
        elif label_shift:
            action, diagnosis = "investigate first", ("the label mix shifted; no performance "
                                                       "measured to judge its impact")
        else:
            action, diagnosis = "continue monitoring", "no drift alert"
    evidence += [f.message for f in label_shift]  # class priors moved: context, not an alert
    level = ACTIONS.index(action)
    top = "; ".join(e.rstrip(".") for e in evidence[:3]) if evidence else "no alert fired"
    return Finding(
        name="drift/decision", metric="decision", value=float(level),
        status=("pass", "warn", "fail")[level], drill="drift", group="decision",
        message=f"{action.capitalize()}: {diagnosis}. Evidence: {top}.",
        details={"action": action, "diagnosis": diagnosis, "evidence": evidence,
                 "important_features": sorted(important), "labels": perf is not None,
                 "policy": policy.model_dump(), "bands": {"warn": 1, "fail": 2}})
