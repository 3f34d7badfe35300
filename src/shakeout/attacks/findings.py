"""The attack drill's findings: clean accuracy, each attack at each budget, the ensemble's
worst case and the smallest changes found, built with the findings toolkit
(:mod:`shakeout.report.findings`), so their exact and median intervals are every pillar's.

>>> clean_accuracy(45, 50, 0.95).name
'attack/clean/accuracy'
"""

from __future__ import annotations

import numpy as np

from shakeout.attacks.sanity import Outcome
from shakeout.report.findings import finding_name, median_finding, proportion
from shakeout.report.result import Finding

DRILL = "attack"


def clean_accuracy(n_ok: int, n: int, level: float) -> Finding:
    """The share of points the model gets right before any attack."""
    return proportion(finding_name(DRILL, "clean", "accuracy"), "accuracy", n_ok, n, level,
                      drill=DRILL, group="clean",
                      message=f"{n_ok} of {n} points correct before any attack.")


def attack_findings(o: Outcome, n: int, n_ok: int, level: float, unit: str) -> list[Finding]:
    """Robust accuracy and success rate of one attack at one budget."""
    fooled = int(o.fooled.sum())
    common = {"drill": DRILL, "group": o.attack, "severity": o.eps, "unit": unit}
    details = {"n": n, "clean_correct": n_ok, "fooled": fooled, "seconds": round(o.seconds, 4),
               "adversarial_confidence_median": _median(o.confidence), **o.details}
    return [
        proportion(finding_name(DRILL, o.attack, "robust_accuracy", at=o.eps),
                   "robust_accuracy", n_ok - fooled, n, level, details=details,
                   message=f"{n_ok - fooled} of {n} points still correct under {o.attack} "
                           f"at eps={o.eps:g}.", **common),
        proportion(finding_name(DRILL, o.attack, "attack_success_rate", at=o.eps),
                   "attack_success_rate", fooled, n_ok, level, details=details,
                   message=f"{fooled} of {n_ok} clean-correct points fooled.", **common),
    ]


def ensemble_findings(runs: list[Outcome], eps: float, n: int, labels: np.ndarray,
                      correct: np.ndarray, level: float, unit: str) -> list[Finding]:
    """The worst case over attacks at one budget: overall, per class, and its confidence."""
    if not runs:
        return []
    hits = np.array([o.fooled for o in runs])
    any_hit = hits.any(axis=0)
    n_ok = hits.shape[1]
    fooled = int(any_hit.sum())
    only = {o.attack: int((o.fooled & (hits.sum(axis=0) == 1)).sum()) for o in runs}
    first = np.argmax(hits, axis=0)
    conf = np.array([o.confidence for o in runs])[first, np.arange(n_ok)]
    conf = np.where(any_hit, conf, np.nan)
    common = {"drill": DRILL, "group": "ensemble", "severity": eps, "unit": unit}
    robust_rows = np.zeros(n, dtype=bool)
    robust_rows[np.flatnonzero(correct)[~any_hit]] = True
    per_class, class_findings = {}, []
    for label in np.unique(labels):
        rows = labels == label
        k, m = int(robust_rows[rows].sum()), int(rows.sum())
        per_class[str(label)] = {"n": m, "robust": k, "robust_accuracy": k / m}
        class_findings.append(proportion(
            f"{finding_name(DRILL, 'ensemble', 'class_robust_accuracy', at=eps)}/{label}",
            "class_robust_accuracy", k, m, level, feature=f"class {label}",
            message=f"class {label}: {k} of {m} points robust at eps={eps:g}.", **common))
    details = {"attacks": [o.attack for o in runs], "found_only_by": only, "n": n,
               "clean_correct": n_ok, "fooled": fooled, "per_class": per_class}
    out = [
        proportion(finding_name(DRILL, "ensemble", "robust_accuracy", at=eps),
                   "robust_accuracy", n_ok - fooled, n, level, details=details,
                   message=f"{n_ok - fooled} of {n} points robust to every attack at "
                           f"eps={eps:g}.", **common),
        proportion(finding_name(DRILL, "ensemble", "attack_success_rate", at=eps),
                   "attack_success_rate", fooled, n_ok, level, details=details,
                   message=f"{fooled} of {n_ok} clean-correct points fooled by at least one "
                           "attack.", **common),
    ]
    if fooled:
        values = conf[any_hit]
        out.append(median_finding(
            finding_name(DRILL, "ensemble", "adversarial_confidence", at=eps),
            "adversarial_confidence", values, level,
            details={"fooled": fooled, "quantiles": _quantiles(values)},
            message=f"median top probability of the {fooled} fooling predictions: the model "
                    "is this sure of its wrong answers.", **common))
    return out + class_findings


def min_perturbation(name: str, sizes: np.ndarray, seconds: float, level: float,
                     unit: str) -> Finding:
    """The distribution of the smallest change found per clean-correct point (``inf`` where
    none was found).

    >>> f = min_perturbation("deepfool-l2", np.array([0.1, 0.2, 0.3]), 0.01, 0.95, "l2")
    >>> round(f.value, 3), f.ci, "No 95% interval" in f.message
    (0.2, None, True)
    """
    found = np.isfinite(sizes)
    return median_finding(
        finding_name(DRILL, name, "min_perturbation"), "min_perturbation", sizes, level,
        drill=DRILL, group=name, unit=unit,
        details={"n": len(sizes), "found": int(found.sum()), "quantiles": _quantiles(sizes),
                 "mean_of_found": float(sizes[found].mean()) if found.any() else None,
                 "seconds": round(seconds, 4)},
        message=f"median smallest {unit} change that fools the model over "
                f"{len(sizes)} clean-correct points ({int((~found).sum())} not fooled at "
                "any size: inf).")


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else None


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": float(np.quantile(values, q / 100)) for q in (10, 25, 50, 75, 90)}
