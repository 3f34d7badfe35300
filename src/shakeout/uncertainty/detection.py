"""Detection scores: how well an uncertainty score tells shifted inputs from clean ones.

The caller scores a clean set and a shifted one (corrupted, adversarial, out of
distribution) with the same score, higher meaning "more likely shifted" (an uncertainty
such as entropy, or a negated confidence). The area under the ROC curve is scikit-learn's
``roc_auc_score``; its interval is DeLong's (DeLong, DeLong & Clarke-Pearson 1988,
"Comparing the areas under two or more correlated receiver operating characteristic
curves", Biometrics 44), from the placement values computed with mid-ranks (Sun & Xu 2014,
"Fast implementation of DeLong's algorithm", IEEE Signal Processing Letters 21). The false
positive rate at 95% true positive rate is the share of clean inputs a guard would refuse
when it catches 95% of the shifted ones (Hendrycks & Gimpel 2017, "A baseline for
detecting misclassified and out-of-distribution examples", ICLR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import as_finite_1d, check_open_interval
from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding

DRILL = "uncertainty"


def delong_interval(clean: Any, shifted: Any, *, level: float = 0.95) -> tuple[float, float,
                                                                                float]:
    """AUROC of ``shifted`` against ``clean`` with DeLong's interval: ``(auc, low, high)``.

    >>> rng = np.random.default_rng(0)
    >>> auc, lo, hi = delong_interval(rng.normal(0, 1, 300), rng.normal(1, 1, 300))
    >>> round(auc, 3), round(lo, 3), round(hi, 3)
    (0.771, 0.734, 0.808)
    """
    from scipy.stats import norm, rankdata
    from sklearn.metrics import roc_auc_score

    level = check_open_interval("delong_interval", "level", level, 0, 1)
    neg, pos = as_finite_1d(clean, name="clean"), as_finite_1d(shifted, name="shifted")
    m, n = len(pos), len(neg)
    both = np.r_[pos, neg]
    auc = float(roc_auc_score(np.r_[np.ones(m), np.zeros(n)], both))
    ranks = rankdata(both)
    # placement values: the share of the other set each score beats (ties count half)
    v_pos = (ranks[:m] - rankdata(pos)) / n
    v_neg = 1.0 - (ranks[m:] - rankdata(neg)) / m
    var = (np.var(v_pos, ddof=1) / m if m > 1 else 0.0) + \
          (np.var(v_neg, ddof=1) / n if n > 1 else 0.0)
    half = float(norm.ppf((1 + level) / 2)) * float(np.sqrt(var))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def fpr_at_tpr(clean: Any, shifted: Any, *, tpr: float = 0.95) -> tuple[float, float]:
    """The share of clean scores at or above the highest threshold that flags at least
    ``tpr`` of the shifted ones, and that threshold: ``(fpr, threshold)``.

    >>> fpr_at_tpr([0.1, 0.2, 0.3, 0.9], [0.5, 0.8, 0.95, 0.99], tpr=0.75)
    (0.25, 0.8)
    """
    tpr = check_open_interval("fpr_at_tpr", "tpr", tpr, 0, 1.0000001)
    neg, pos = as_finite_1d(clean, name="clean"), as_finite_1d(shifted, name="shifted")
    ordered = np.sort(pos)[::-1]
    threshold = float(ordered[int(np.ceil(tpr * len(pos) - 1e-9)) - 1])
    return float(np.mean(neg >= threshold)), threshold


def detection_findings(clean: Any, shifted: Any, *, score: str, shift: str,
                       level: float = 0.95, subject: str | None = None) -> list[Finding]:
    """How well ``score`` separates ``shift`` (e.g. ``"gaussian_noise"``, ``"pgd"``,
    ``"ood"``) from clean inputs: ``auroc`` with DeLong's interval, and ``fpr_at_95_tpr``
    with a Clopper-Pearson interval over the clean inputs (given the threshold read off
    the shifted ones).

    >>> rng = np.random.default_rng(0)
    >>> found = detection_findings(rng.normal(0, 1, 300), rng.normal(2, 1, 300),
    ...                            score="entropy", shift="ood")
    >>> [(f.name, round(f.value, 3)) for f in found]
    [('uncertainty/detection/ood/entropy/auroc', 0.925), \
('uncertainty/detection/ood/entropy/fpr_at_95_tpr', 0.31)]
    """
    auc, lo, hi = delong_interval(clean, shifted, level=level)
    fpr, threshold = fpr_at_tpr(clean, shifted, tpr=0.95)
    n_clean = len(np.asarray(clean))
    fields = {"drill": DRILL, "group": f"detection/{shift}", "feature": score,
              "subject": subject}
    return [
        Finding(name=finding_name(DRILL, "detection", shift, score, "auroc"), metric="auroc",
                value=auc, ci=(lo, hi), ci_level=level,
                details={"clean": n_clean, "shifted": len(np.asarray(shifted)),
                         "interval": "DeLong"}, **fields),
        proportion(finding_name(DRILL, "detection", shift, score, "fpr_at_95_tpr"),
                   "fpr_at_95_tpr", int(round(fpr * n_clean)), n_clean, level,
                   details={"threshold": threshold},
                   message="Interval over the clean inputs, given the threshold.", **fields),
    ]
