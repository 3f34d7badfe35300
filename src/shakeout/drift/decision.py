"""The retraining decision: alerts, performance correlation, action, with the evidence.

Three levels, each configurable through :class:`DecisionPolicy`:

1. Alerts. PSI above ``psi_alert`` on an important feature or on the model's outputs, KL
   above ``kl_alert`` on a continuous feature, KS with a non-negligible effect, a
   multivariate test with a non-negligible effect (MMD^2 from ``mmd_alert``), conformal
   coverage short of its promise (``DriftSuite(conformal_alpha=...)``). Each alert
   must also be beyond chance: every test and distance the decision reads forms one
   family whose p-values (chance p-values for PSI and KL) are corrected together with
   Holm's procedure (Holm 1979) at ``alpha``, so a window without drift alerts with
   probability at most ``alpha`` (measured rates: ``docs/drift.md``). With
   ``beyond_chance``, PSI and KL must also exceed their ``chance_p95``. A current window
   under ``min_rows`` rows gets no decision.
2. Performance correlation, when labels exist: degradation above ``max_degradation``
   together with drift means retrain; drift with stable performance means investigate the
   source; degradation without input drift points at concept drift or label shift.
   Without measured performance, a shifted label mix alone means investigate first.
3. Action: ``"retrain now"``, ``"investigate first"`` or ``"continue monitoring"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shakeout.drift._base import DRILL, in_band
from shakeout.drift.performance import VERDICTS, verdict
from shakeout.drift.psi import psi_band, psi_text
from shakeout.drift.units import factor_text
from shakeout.report.findings import finding_name, in_window
from shakeout.report.result import Finding
from shakeout.stats import adjust_p_values

ACTIONS = ("continue monitoring", "investigate first", "retrain now")
NO_DECISION = "no decision"
MULTIVARIATE = ("mmd", "classifier", "projection")
NAMED = 8
"""Drifted features the decision's sentence names before "and N more"."""


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
    alpha: float = Field(
        0.01, gt=0, lt=1,
        description="Family-wise false-alarm rate per window: every test and distance the "
                    "decision reads is corrected together (Holm) at this level.")
    ks_alpha: float | None = Field(
        None, gt=0, lt=1, description="Deprecated: the former KS-only level; sets alpha.")
    mmd_alert: float = Field(
        0.01, ge=0, description="MMD^2 from which a significant MMD test alerts (smaller "
                                "is a negligible effect).")
    min_rows: int = Field(
        10, ge=1, description="Rows the current window needs for a decision; fewer gives "
                              "no decision (value NaN).")
    beyond_chance: bool = Field(
        False, description="Count a PSI or KL alert only when the value also exceeds what "
                           "samples of its size reach one time in twenty without drift.")
    kl_alert: float = Field(0.05, ge=0,
                            description="KL (nats) above this on a continuous feature alerts.")
    ignore_negligible: bool = Field(
        True, description="Ignore significant KS results with a negligible effect.")
    min_importance: float = Field(
        0.05, ge=0, le=1, description="Importance share from which a feature is important.")
    max_degradation: float = Field(
        0.03, ge=0, description="Relative performance loss that counts as degradation.")
    on_degradation_without_drift: str = Field(
        "investigate first", pattern="^(retrain now|investigate first)$",
        description="Action when performance drops but no input drifted.")

    @model_validator(mode="after")
    def _ks_alpha_sets_alpha(self) -> "DecisionPolicy":
        if self.ks_alpha is not None and "alpha" not in self.model_fields_set:
            object.__setattr__(self, "alpha", self.ks_alpha)
        return self


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


def _p_value(f: Finding) -> float | None:
    """The uncorrected p-value of a finding: a test's raw p, else a distance's chance p."""
    p = f.details.get("p_raw", f.p_value)
    if p is None:
        p = f.details.get("chance_p_value")
    return None if p is None else float(p)


def _candidates(findings: Sequence[Finding], policy: DecisionPolicy,
                important: set[str]) -> list[tuple[Finding, bool, float, str]]:
    """Every finding the decision reads: (finding, effect large enough, severity, sentence).

    The family is what is read, whatever its effect: PSI and KL on important features, KS
    on important features, PSI on model outputs, the multivariate tests, and the
    exchangeability test of conformal coverage (its effect is the shortfall itself).
    """
    out = []
    for f in findings:
        if f.drill != "drift" or not np.isfinite(f.value):
            continue
        if f.metric == "psi" and f.group in ("psi", "output") and (
                f.group == "output" or f.feature in important):
            band = psi_band(f.value)[0]
            where = "model output" if f.group == "output" else "feature"
            out.append((f, f.value > policy.psi_alert and not _chance(f, policy), f.value,
                        f"PSI {psi_text(f.value)} ({band}) on {where} {f.feature!r}"))
        elif f.group == "kl" and f.feature in important and (
                f.details.get("method") == "gaussian"
                or f.details.get("binning") != "categories"):
            out.append((f, f.value > policy.kl_alert and not _chance(f, policy), policy.psi_alert,
                        f"KL {in_band(f.value, (policy.kl_alert,))} nats on continuous "
                        f"feature {f.feature!r}"))
        elif f.group == "ks" and f.feature in important and _p_value(f) is not None:
            big = not (policy.ignore_negligible and f.effect == "negligible")
            out.append((f, big, policy.psi_alert, f"KS D={f.value:.3g} on {f.feature!r}"))
        elif f.group in MULTIVARIATE and _p_value(f) is not None:
            big = (f.value >= policy.mmd_alert if f.group == "mmd"
                   else f.effect not in (None, "negligible"))
            text = f.details.get("statistic_text", f"{f.metric}={f.value:.3g}")
            out.append((f, big, policy.psi_alert, f"{f.group} test: {text}"))
        elif f.group == "conformal" and f.metric == "coverage" and _p_value(f) is not None:
            target = f.details["target"]
            out.append((f, True, policy.psi_alert,
                        f"conformal coverage {f.value:.3f} against the promised {target:.3g}: "
                        "rows no longer exchangeable with the holdout"))
        elif f.group == "label" and f.status == "fail":
            out.append((f, True, -1.0, f.message))  # context, not a drift alert
    return out


def _alerts(findings: Sequence[Finding], policy: DecisionPolicy,
            important: set[str]) -> tuple[list[tuple[float, str, str, float]], list[Finding],
                                          int]:
    """(PSI-equivalent severity, feature, sentence, Holm p-value or 1) for every alert, the
    label findings that count (a shifted label mix), and the size of the corrected family.

    An alert needs both: an effect above its threshold, and a p-value below ``alpha``
    after Holm's correction over the whole family the decision reads (Holm 1979), so that
    the chance of any alert in a window without drift is at most ``alpha``. A finding
    without any p-value (built by hand, Gaussian KL from profiles) alerts on its effect.
    """
    candidates = _candidates(findings, policy, important)
    tested = [i for i, c in enumerate(candidates) if _p_value(c[0]) is not None]
    adjusted = dict(zip(tested, adjust_p_values([_p_value(candidates[i][0]) for i in tested],
                                                "holm"))) if tested else {}
    out, labels = [], []
    for i, (f, big, severity, text) in enumerate(candidates):
        p = adjusted.get(i)
        if not big or (p is not None and p >= policy.alpha):
            continue
        if f.group == "label":
            labels.append(f)
        else:
            out.append((severity, f.feature or "",
                        text + (f" (Holm p={p:.2g})" if p is not None else ""),
                        1.0 if p is None else p))
    return out, labels, len(tested)


def decide(findings: Sequence[Finding], *, policy: DecisionPolicy | None = None,
           importance: Mapping[str, float] | None = None,
           n_rows: int | None = None) -> Finding:
    """The action and the evidence that led there, as a Finding (``metric="decision"``).

    ``value`` is 0 (continue monitoring), 1 (investigate first) or 2 (retrain now). With
    ``n_rows`` (the current window's rows) below ``policy.min_rows`` there is no decision:
    ``value`` is NaN (a gate on it fails) and the action is ``"no decision"``.

    A feature that looks like a unit change (a failing ``units`` finding, see
    :class:`~shakeout.drift.UnitChange`) is decisive: retrain now, whatever else, since
    it is a pipeline bug; so is a model that cannot run on current data (a missing column it
    needs), while reference columns missing from current call for a look at least. The
    sentence names every drifted feature, important to the
    model or not (unit changes first, then by importance and strength; the first
    ``NAMED`` and how many more), and repeats the performance finding's own verdict
    (significant and material, significant but small, not significant).

    Examples
    --------
    >>> f = Finding(name="drift/psi/age", metric="psi", value=0.31, drill="drift", group="psi",
    ...             feature="age", status="fail")
    >>> d = decide([f])
    >>> d.details["action"], d.details["evidence"][0], d.details["drifted_features"]
    ('retrain now', "PSI 0.31 (major) on feature 'age'", ['age'])
    """
    policy = policy or DecisionPolicy()
    features = sorted({f.feature for f in findings if f.drill == "drift" and f.feature
                       and f.group in ("psi", "kl", "ks", "units")})
    important = important_features(importance, policy, features)
    if n_rows is not None and n_rows < policy.min_rows:
        return _no_decision(n_rows, policy, important)
    found, label_shift, family = _alerts(findings, policy, important)
    alerts = sorted(found, key=lambda a: -a[0])
    evidence = [a[2] for a in alerts]
    drift = bool(alerts)
    units = [f for f in findings if f.drill == "drift" and f.group == "units"
             and f.status == "fail"]
    perf = next((f for f in findings if f.group == "performance" and f.metric == "degradation"),
                None)
    phrase = None
    if perf is not None:
        action, diagnosis, phrase = _with_performance(perf, drift, label_shift, policy)
        evidence.append(perf.message)
    else:
        action, diagnosis = _without_performance(alerts, label_shift, policy)
    drifted = _drifted(findings, policy, importance, features, found, units)
    if drifted and action == "continue monitoring":  # only features the model ignores
        diagnosis = diagnosis.replace("no drift alert", "no drift alert on a feature the "
                                      "model relies on", 1)
    if units:
        action, diagnosis = "retrain now", _unit_text(units) + (f"; {phrase}" if phrase else "")
        evidence = [f.message.split(": ")[0] for f in units] + evidence
    action, diagnosis, evidence = _untested(findings, action, diagnosis, evidence)
    evidence += [f.message for f in label_shift]  # class priors moved: context, not an alert
    level = ACTIONS.index(action)
    top = "; ".join(e.rstrip(".") for e in evidence[:3]) if evidence else "no alert fired"
    named = _named(drifted, units, important, importance is not None)
    return Finding(
        name=finding_name(DRILL, "decision"), metric="decision", value=float(level),
        status=("pass", "warn", "fail")[level], drill=DRILL, group="decision",
        message=f"{action.capitalize()}: {diagnosis}. {named}Evidence: {top}.",
        details={"action": action, "diagnosis": diagnosis, "evidence": evidence,
                 "drifted_features": drifted, "unit_changes": [f.feature for f in units],
                 "important_features": sorted(important), "labels": perf is not None,
                 "family_size": family, "policy": policy.model_dump(),
                 "bands": {"warn": 1, "fail": 2}})


def _untested(findings: Sequence[Finding], action: str, diagnosis: str,
              evidence: list[str]) -> tuple[str, str, list[str]]:
    """A model that cannot run on current data, or reference columns current lacks, is not
    "no drift": the first is decisive (fix the pipeline now), the second needs a look."""
    blind = [f for f in findings if f.drill == "drift" and f.group == "output"
             and "error" in f.details]
    missing = [f for f in findings if f.drill == "drift" and f.group == "schema"
               and f.metric == "missing_columns"]
    if blind:
        return ("retrain now", "the model could not be tested on current data, a pipeline "
                f"break: fix it now; {diagnosis}", [blind[0].message] + evidence)
    if missing and ACTIONS.index(action) < ACTIONS.index("investigate first"):
        return ("investigate first", f"current lacks reference columns, which were not "
                f"tested; {diagnosis}", [missing[0].message] + evidence)
    return action, diagnosis, evidence


def _with_performance(perf: Finding, drift: bool, label_shift: list[Finding],
                      policy: DecisionPolicy) -> tuple[str, str, str]:
    """Action, diagnosis and the performance phrase, in the words of the finding's verdict."""
    said = perf.details.get("verdict") or verdict(
        perf.value, perf.ci if perf.ci is not None else (0.0, 0.0), policy.max_degradation)
    threshold = perf.details.get("threshold", policy.max_degradation)
    shown = in_band(perf.value, (threshold,), 1, percent=True)
    phrase = {VERDICTS[0]: f"performance degraded {shown} ({said}; threshold {threshold:.0%})",
              VERDICTS[1]: f"performance dropped {shown}, {said} (below the {threshold:.0%} "
                           "threshold)",
              VERDICTS[2]: f"no significant performance loss (change {shown})"}[said]
    degraded = said == VERDICTS[0]
    if degraded and drift:
        action, diagnosis = "retrain now", f"{phrase} together with data drift"
    elif drift:
        action, diagnosis = ("investigate first", f"data drifted and {phrase}: monitor and "
                             "investigate the source")
    elif degraded:
        action = policy.on_degradation_without_drift
        diagnosis = (f"{phrase} without input drift: suspect concept drift"
                     + (" or label shift" if not label_shift else "; the label mix shifted"))
    else:
        action, diagnosis = "continue monitoring", f"no drift alert and {phrase}"
    if degraded and perf.details.get("baseline") == "reference":
        diagnosis += (" (unless the reference is the model's training data, whose score is "
                      "optimistic: give held-out labelled rows as the holdout)")
    return action, diagnosis, phrase


def _without_performance(alerts: list, label_shift: list[Finding],
                         policy: DecisionPolicy) -> tuple[str, str]:
    """Action and diagnosis from drift alone (no labels or no model)."""
    worst = alerts[0][0] if alerts else 0.0
    if worst >= policy.psi_retrain:
        return "retrain now", "major drift on an important feature (no performance measured)"
    if alerts:
        return "investigate first", ("drift alerts without measured performance to judge "
                                     "their impact")
    if label_shift:
        return "investigate first", ("the label mix shifted; no performance measured to judge "
                                     "its impact")
    return "continue monitoring", "no drift alert"


def _unit_text(units: list[Finding]) -> str:
    """The diagnosis of unit changes: which features, by which factor."""
    if len(units) == 1:
        named = (f"{units[0].feature!r} looks like a unit change "
                 f"({factor_text(units[0].details['factor'])})")
    else:
        named = ", ".join(f"{f.feature!r} ({factor_text(f.details['factor'])})"
                          for f in units) + " look like unit changes"
    return f"{named}, a pipeline bug: fix the units upstream now (or retrain on the new ones)"


def _drifted(findings: Sequence[Finding], policy: DecisionPolicy,
             importance: Mapping[str, float] | None, features: list[str], ours: list,
             units: list[Finding]) -> list[str]:
    """Every drifted feature, important or not: unit changes, then by importance, strength.

    A feature drifted when it alerts by the decision's rules, read over every feature
    (one Holm family), or among ``ours``, the alerts of the decision's own family of
    important features.
    """
    everywhere = _alerts(findings, policy, set(features))[0]
    strength: dict[str, tuple[float, float]] = {}
    for severity, feature, _, p in everywhere + ours:
        if feature in features:
            old = strength.get(feature, (-np.inf, 1.0))
            strength[feature] = (max(old[0], severity), min(old[1], p))
    for f in units:
        strength.setdefault(f.feature, (np.inf, 0.0))
    unit = {f.feature for f in units}
    weight = dict(importance or {})
    return sorted(strength, key=lambda c: (c not in unit, -weight.get(c, 0.0), -strength[c][0],
                                           strength[c][1], c))


def _named(drifted: list[str], units: list[Finding], important: set[str],
           known: bool) -> str:
    """A sentence naming the drifted features: the first ``NAMED`` and how many more."""
    if not drifted:
        return ""
    factor = {f.feature: factor_text(f.details["factor"]) for f in units}

    def name(c: str) -> str:
        notes = ([f"unit change {factor[c]}"] if c in factor else []) + (
            ["not important to the model"] if known and c not in important else [])
        return repr(c) + (f" ({', '.join(notes)})" if notes else "")

    more = len(drifted) - NAMED
    tail = f" and {more} more" if more > 0 else ""
    return (f"Drifted features ({len(drifted)}): "
            f"{', '.join(name(c) for c in drifted[:NAMED])}{tail}. ")


def conclude(findings: Sequence[Finding], *, policy: DecisionPolicy | None = None,
             importance: Mapping[str, float] | None = None, n_rows: int | None = None,
             window: str | None = None) -> list[Finding]:
    """The tail of every comparison: ``findings`` followed by the :func:`decide` decision on
    ``n_rows`` current rows, all tagged with ``window`` when one is given.

    >>> f = Finding(name="drift/psi/a", metric="psi", value=0.3, status="fail", drill="drift",
    ...             group="psi", feature="a", details={"bands": {"warn": 0.1, "fail": 0.25}})
    >>> [(g.name, g.window) for g in conclude([f], n_rows=5, window="w1")]
    [('drift/psi/a@w1', 'w1'), ('drift/decision@w1', 'w1')]
    """
    out = [*findings, decide(findings, policy=policy, importance=importance, n_rows=n_rows)]
    return out if window is None else in_window(out, window)


def _no_decision(n_rows: int, policy: DecisionPolicy, important: set[str]) -> Finding:
    """Too few current rows for any test to mean anything: say so, decide nothing."""
    message = (f"No decision: the current window has {n_rows} rows, fewer than the "
               f"{policy.min_rows} a decision needs (policy.min_rows); no test can tell drift "
               "from chance on so few. Use longer windows.")
    return Finding(
        name=finding_name(DRILL, "decision"), metric="decision", value=float("nan"),
        status="info", drill=DRILL, group="decision", message=message,
        details={"action": NO_DECISION, "diagnosis": "too few rows", "evidence": [],
                 "important_features": sorted(important), "labels": False, "n_rows": n_rows,
                 "policy": policy.model_dump(), "bands": {"warn": 1, "fail": 2}})
