"""Selective prediction: the risk-coverage curve, its area, and a threshold with guaranteed risk.

A classifier that may abstain answers the inputs whose confidence is at least a threshold.
Lowering the threshold raises the coverage (the share answered) and, for a useful score,
the selective risk (the error rate among the answered). The risk-coverage curve and its
area (AURC; Geifman, Uziel & El-Yaniv 2019, "Bias-reduced uncertainty estimation for deep
neural classifiers", ICLR) compare scores. To deploy, :func:`guaranteed_threshold` picks the
threshold by selection with guaranteed risk (SGR; Geifman & El-Yaniv 2017, "Selective
classification for deep neural networks", NeurIPS): with probability at least ``1 - delta``
over the calibration draw, the true selective risk at the chosen threshold is at most the
target.

Confidences are "higher is surer" (:func:`shakeout.uncertainty.confidence`); rows of equal
confidence are answered or refused together, as any threshold must.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._validation import as_finite_1d, check_open_interval
from shakeout.errors import ValidationError
from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding

DRILL = "uncertainty"


def _pair(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    """Finite confidences and 0/1 correctness of the same length."""
    conf = as_finite_1d(confidence, name="confidence")
    right = np.asarray(correct)
    if right.shape != conf.shape or not np.isin(right, (0, 1)).all():
        raise ValidationError(
            f"correct must hold 0/1 (or booleans), one per confidence ({conf.shape[0]}); got "
            f"shape {right.shape}. Pass predictions == labels."
        )
    return conf, right.astype(np.float64)


def risk_coverage(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The risk-coverage curve: one point per distinct threshold, from the surest answers down.

    Parameters
    ----------
    confidence : array of shape ``(n,)``
        Higher means surer.
    correct : array of shape ``(n,)``
        1 where the model's answer is right.

    Returns
    -------
    coverage, risk, threshold : numpy.ndarray
        Answering the rows with confidence ``>= threshold[j]`` covers ``coverage[j]`` of them
        with error rate ``risk[j]``; coverage increases to 1.

    Examples
    --------
    >>> cov, risk, thr = risk_coverage([0.9, 0.8, 0.8, 0.6], [1, 1, 0, 0])
    >>> cov.tolist(), [round(r, 3) for r in risk.tolist()], thr.tolist()
    ([0.25, 0.75, 1.0], [0.0, 0.333, 0.5], [0.9, 0.8, 0.6])
    """
    conf, right = _pair(confidence, correct)
    order = np.argsort(-conf, kind="stable")
    conf, errors = conf[order], np.cumsum(1.0 - right[order])
    ends = np.flatnonzero(np.r_[conf[1:] != conf[:-1], True])  # last row of each tie group
    answered = ends + 1.0
    return answered / len(conf), errors[ends] / answered, conf[ends]


def aurc(confidence: Any, correct: Any) -> float:
    """Area under the risk-coverage curve (lower is better), a right-endpoint sum: each
    row adds its tie group's selective risk over ``1 / n`` of coverage. Without ties, the mean
    over ``k`` of the error rate of the ``k`` surest answers.

    >>> round(aurc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 0]), 6)  # (0 + 0 + 1/3 + 2/4) / 4
    0.208333
    """
    conf, right = _pair(confidence, correct)
    return float(_aurc_rows(conf[None], right[None])[0])


def _aurc_rows(conf: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The AURC of each row of ``(b, m)`` confidences and correctness (bootstrap resamples)."""
    order = np.argsort(-conf, axis=1, kind="stable")
    conf = np.take_along_axis(conf, order, axis=1)
    errors = np.cumsum(1.0 - np.take_along_axis(right, order, axis=1), axis=1)
    m = conf.shape[1]
    last = np.ones_like(conf, dtype=bool)
    last[:, :-1] = conf[:, 1:] != conf[:, :-1]  # the last row of each tie group
    ends = np.where(last, np.arange(m), m)
    ends = np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]  # each row's group end
    return (np.take_along_axis(errors, ends, axis=1) / (ends + 1.0)).mean(axis=1)


def risk_bound(errors: int, answered: int, delta: float) -> float:
    """One-sided upper ``1 - delta`` bound on a risk from ``errors`` among ``answered``: the
    binomial tail inversion ``B*`` of Geifman & El-Yaniv (2017), i.e. the Clopper-Pearson
    upper limit.

    >>> round(risk_bound(5, 100, 0.05), 4)
    0.1023
    """
    from scipy.stats import beta

    if answered <= 0 or errors >= answered:
        return 1.0
    return float(beta.ppf(1 - delta, errors + 1, answered - errors))


@dataclass(frozen=True)
class Guarantee:
    """A rejection threshold from SGR and what it promises.

    Attributes
    ----------
    threshold : float
        Answer when confidence ``>= threshold``; ``inf`` answers nothing (no threshold met
        the target).
    bound : float
        The risk bound that holds with probability ``>= 1 - delta`` (1 when nothing is
        answered).
    risk, coverage : float
        Selective risk and coverage on the calibration rows.
    errors, answered : int
        Their counts.
    risk_target, delta : float
        What was asked.
    """

    threshold: float
    bound: float
    risk: float
    coverage: float
    errors: int
    answered: int
    risk_target: float
    delta: float


def guaranteed_threshold(confidence: Any, correct: Any, *, risk: float,
                         delta: float = 0.05) -> Guarantee:
    """Selection with guaranteed risk (Geifman & El-Yaniv 2017, algorithm 1).

    A binary search over the sorted confidences tests ``k = ceil(log2 n)`` thresholds; each
    test bounds the selective risk by the binomial tail at ``delta / k`` (a union bound over
    the tests), and the threshold of largest coverage whose bound is at most ``risk`` is
    returned. The promise: with probability ``>= 1 - delta`` over the calibration rows
    (drawn like the data it will serve), the true selective risk at the returned threshold
    is at most ``bound <= risk``.

    Parameters
    ----------
    confidence, correct
        As in :func:`risk_coverage`, on a calibration split not used to fit the model.
    risk : float
        The target selective risk (error rate among answered inputs), in (0, 1).
    delta : float, default=0.05
        The allowed probability that the guarantee fails, in (0, 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 5000)
    >>> g = guaranteed_threshold(conf, rng.random(5000) < conf, risk=0.1, delta=0.05)
    >>> round(g.threshold, 2), round(g.coverage, 2), round(g.risk, 3), g.bound <= 0.1
    (0.84, 0.32, 0.08, True)
    """
    conf, right = _pair(confidence, correct)
    risk = check_open_interval("guaranteed_threshold", "risk", risk, 0, 1)
    delta = check_open_interval("guaranteed_threshold", "delta", delta, 0, 1)
    ascending = np.sort(conf)
    wrong_sorted = 1.0 - right[np.argsort(conf, kind="stable")]
    wrong_above = np.cumsum(wrong_sorted[::-1])[::-1]  # errors among rows from index z up
    n = len(conf)
    tests = max(1, math.ceil(math.log2(n)))
    best = Guarantee(threshold=math.inf, bound=1.0, risk=0.0, coverage=0.0, errors=0,
                     answered=0, risk_target=risk, delta=delta)
    low, high = 0, n - 1
    for _ in range(tests):
        z = math.ceil((low + high) / 2)
        first = int(np.searchsorted(ascending, ascending[z], side="left"))  # ties answered too
        answered, errors = n - first, int(round(wrong_above[first]))
        bound = risk_bound(errors, answered, delta / tests)
        if bound <= risk:
            high = z
            if answered > best.answered:
                best = Guarantee(threshold=float(ascending[z]), bound=bound,
                                 risk=errors / answered, coverage=answered / n, errors=errors,
                                 answered=answered, risk_target=risk, delta=delta)
        else:
            low = z
    return best


def selective_findings(confidence: Any, correct: Any, *, score: str, level: float = 0.95,
                       coverages: Any = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                       n_boot: int = 1000, seed: int = 0,
                       subject: str | None = None) -> list[Finding]:
    """The risk-coverage curve of one score as findings, and its AURC.

    One ``selective_risk`` finding per requested coverage (``severity``; the threshold that
    answers at least that share, ties included), its value the error rate among the answered
    with a Clopper-Pearson interval, so the report draws the curve; then ``aurc`` with a
    percentile interval from ``n_boot`` paired bootstrap resamples of the rows (seeded).

    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 1000)
    >>> found = selective_findings(conf, rng.random(1000) < conf, score="max_probability",
    ...                            coverages=(0.5, 1.0))
    >>> [(f.metric, f.severity, round(f.value, 3)) for f in found]
    [('selective_risk', 0.5, 0.132), ('selective_risk', 1.0, 0.236), ('aurc', None, 0.124)]
    """
    check_open_interval("selective_findings", "level", level, 0, 1)
    conf, right = _pair(confidence, correct)
    coverage, _, _ = risk_coverage(conf, right)
    order = np.argsort(-conf, kind="stable")
    wrong = np.cumsum(1.0 - right[order])
    fields = {"drill": DRILL, "group": f"selective/{score}", "subject": subject}
    found = []
    for want in np.atleast_1d(np.asarray(coverages, dtype=np.float64)):
        check_open_interval("selective_findings", "coverages", float(want), 0, 1.0000001)
        got = float(coverage[np.searchsorted(coverage, want - 1e-12)])
        answered = int(round(got * len(conf)))
        found.append(proportion(
            finding_name(DRILL, "selective", score, "selective_risk", at=float(want)),
            "selective_risk", int(round(wrong[answered - 1])), answered, level,
            severity=float(want), unit="coverage",
            details={"coverage": got, "answered": answered}, **fields))
    found.append(_aurc_finding(conf, right, score, level, n_boot, seed, fields))
    return found


def _aurc_finding(conf: np.ndarray, right: np.ndarray, score: str, level: float, n_boot: int,
                  seed: int, fields: dict[str, Any]) -> Finding:
    """The AURC with a bootstrap interval over the rows (m-out-of-n beyond ``max_rows``)."""
    from shakeout.stats import BootstrapPlan, interval

    plan = BootstrapPlan(n=len(conf), n_boot=n_boot, seed=seed)
    value = aurc(conf, right)
    reps = plan.replicates(lambda idx: _aurc_rows(conf[idx], right[idx]))
    return Finding(name=finding_name(DRILL, "selective", score, "aurc"), metric="aurc",
                   value=value, ci=interval(value, reps, level=level, scale=plan.scale),
                   ci_level=level, details={"rows": len(conf), "n_boot": n_boot}, **fields)
