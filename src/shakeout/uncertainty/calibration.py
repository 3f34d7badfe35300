"""Calibration: expected calibration error with an honest interval, and the reliability diagram.

A classifier is calibrated when, among the answers it gives with confidence ``c``, a share
``c`` is right. The expected calibration error (ECE; Naeini, Cooper & Hauskrecht 2015,
"Obtaining well calibrated probabilities using Bayesian binning", AAAI; Guo et al. 2017,
"On calibration of modern neural networks", ICML) bins the top-class confidence into
``n_bins`` equal-width bins and averages ``|accuracy - mean confidence|`` over the bins,
weighted by their rows.

The plug-in ECE is biased upwards: sampling noise alone makes each bin's accuracy miss its
confidence, so a perfectly calibrated model shows an ECE of about
``sqrt(2 / pi) * sum_b w_b * sqrt(acc_b (1 - acc_b) / n_b)``. The debiased estimate of
Kumar, Liang & Ma (2019), "Verified uncertainty calibration", NeurIPS, section 5, subtracts
that bias, read off a normal law for each bin's accuracy (in closed form here: the mean of a
folded normal), though not all of it near 0.

The interval is for the true (binned) calibration error. Away from 0 it is the debiased
estimate with the spread of its paired bootstrap (:class:`shakeout.stats.BootstrapPlan`).
At 0, a boundary where no bootstrap is honest, it is the inversion of an exact Monte Carlo
test of perfect calibration, consistency resampling (Broecker & Smith 2007, "Increasing the
reliability of reliability diagrams", Weather and Forecasting 22): labels are redrawn as
``Bernoulli(confidence)`` for every row, and the interval reaches down to 0 unless the
observed ECE is larger than that chance gives at ``1 - level``. The test's p-value is the
finding's p-value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_open_interval, check_positive_int
from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding
from shakeout.uncertainty._inputs import paired

DRILL = "uncertainty"


def bin_of(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """The equal-width bin of each confidence: bin ``b`` holds ``(b / n_bins, (b + 1) / n_bins]``
    (a confidence of 0 goes to the first bin), with the edges of ``np.linspace(0, 1, n_bins + 1)``.

    >>> bin_of(np.array([0.0, 0.1, 0.100001, 0.7, 1.0]), 10).tolist()
    [0, 0, 1, 6, 9]
    """
    edges = np.linspace(0, 1, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def _sums(proba: np.ndarray, y: np.ndarray, n_bins: int) -> np.ndarray:
    """Per row: its bin, its confidence and whether it is right, as ``(bin, conf, correct)``."""
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    return np.stack([bin_of(conf, n_bins), conf, correct])


def _bin_totals(bins: np.ndarray, conf: np.ndarray, correct: np.ndarray,
                n_bins: int) -> np.ndarray:
    """Rows, summed confidence and summed correctness per bin, shape ``(3, n_bins)``."""
    b = bins.astype(np.int64)
    return np.stack([np.bincount(b, minlength=n_bins).astype(np.float64),
                     np.bincount(b, conf, minlength=n_bins),
                     np.bincount(b, correct, minlength=n_bins)])


def _ece_from_totals(rows: np.ndarray, conf: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Plug-in ECE from per-bin totals (last axis: bins): ``sum_b |right_b - conf_b| / n``."""
    return np.abs(right - conf).sum(axis=-1) / rows.sum(axis=-1)


def _debiased_from_totals(rows: np.ndarray, conf: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Kumar et al. (2019) debiased ECE from per-bin totals (last axis: bins).

    Per bin, with gap ``d = acc - conf`` and ``s^2 = acc (1 - acc) / n_b``, the plug-in term
    ``|d|`` is corrected by its estimated bias ``E|N(d, s^2)| - |d|``.
    """
    from scipy.stats import norm

    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(rows > 0, right / rows, 0.0)
        gap = np.where(rows > 0, (right - conf) / rows, 0.0)
        sd = np.sqrt(np.where(rows > 0, acc * (1 - acc) / rows, 0.0))
        ratio = np.where(sd > 0, gap / sd, 0.0)
    folded = np.where(sd > 0, sd * np.sqrt(2 / np.pi) * np.exp(-ratio ** 2 / 2)
                      + gap * (1 - 2 * norm.cdf(-ratio)), np.abs(gap))
    return (rows * (2 * np.abs(gap) - folded)).sum(axis=-1) / rows.sum(axis=-1)


def ece(proba: Any, y: Any, *, n_bins: int = 15) -> float:
    """Plug-in expected calibration error of the top class, equal-width bins.

    Parameters
    ----------
    proba : array of shape ``(n, k)``
        Class probabilities.
    y : array of shape ``(n,)``
        True labels as column indices of ``proba`` (``model.encode_labels(labels)``).
    n_bins : int, default=15
        Equal-width confidence bins on [0, 1] (15 as in Guo et al. 2017).

    Examples
    --------
    >>> round(ece([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], n_bins=10), 6)
    0.4
    """
    n_bins = check_positive_int("ece", "n_bins", n_bins)
    totals = _bin_totals(*_sums(*paired(proba, y), n_bins), n_bins)
    return float(_ece_from_totals(*totals))


def debiased_ece(proba: Any, y: Any, *, n_bins: int = 15) -> float:
    """The ECE with its sampling bias removed (Kumar, Liang & Ma 2019, section 5).

    About 0 (either sign) for a calibrated model, where the plug-in :func:`ece` is positive.

    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 2000)
    >>> right = rng.random(2000) < conf
    >>> proba = np.c_[conf, 1 - conf]
    >>> y = np.where(right, 0, 1)
    >>> round(ece(proba, y), 3), round(debiased_ece(proba, y), 3)
    (0.013, 0.003)
    """
    n_bins = check_positive_int("debiased_ece", "n_bins", n_bins)
    totals = _bin_totals(*_sums(*paired(proba, y), n_bins), n_bins)
    return float(_debiased_from_totals(*totals))


def calibration(proba: Any, y: Any, *, n_bins: int = 15, level: float = 0.95,
                n_boot: int = 1000, seed: int = 0, subject: str | None = None) -> list[Finding]:
    """The ECE with its interval and the reliability diagram, as findings.

    Parameters
    ----------
    proba, y, n_bins
        As in :func:`ece`.
    level : float, default=0.95
        Confidence level of the intervals.
    n_boot : int, default=1000
        Bootstrap resamples of the rows for the ECE interval.
    seed : int, default=0
        Seed of the resamples.
    subject : str or None
        The model or data set the findings are about.

    Returns
    -------
    list of Finding
        ``uncertainty/calibration/ece``: the plug-in ECE as value, the debiased estimate in
        ``details["debiased"]`` and the interval around it (see the module's notes); then one
        ``reliability`` finding per non-empty bin: ``severity`` the bin's mean confidence,
        ``value`` its accuracy with a Clopper-Pearson interval (the reliability curve).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 2000)
    >>> y = np.where(rng.random(2000) < conf, 0, 1)
    >>> found = calibration(np.c_[conf, 1 - conf], y, n_bins=10, n_boot=200)
    >>> e = found[0]
    >>> e.name, round(e.value, 3), e.ci[0], round(e.ci[1], 3), e.status
    ('uncertainty/calibration/ece', 0.013, 0.0, 0.02, 'pass')
    >>> [(round(f.severity, 2), round(f.value, 2)) for f in found[1:]]
    [(0.55, 0.58), (0.65, 0.64), (0.75, 0.75), (0.85, 0.84), (0.95, 0.96)]
    """
    from shakeout.stats import BootstrapPlan, interval

    n_bins = check_positive_int("calibration", "n_bins", n_bins)
    level = check_open_interval("calibration", "level", level, 0, 1)
    p, labels = paired(proba, y)
    bins, conf, correct = _sums(p, labels, n_bins)
    rows, conf_sum, right = _bin_totals(bins, conf, correct, n_bins)
    plan = BootstrapPlan(n=len(labels), n_boot=n_boot, seed=seed)
    plug_in = float(_ece_from_totals(rows, conf_sum, right))
    debiased = float(_debiased_from_totals(rows, conf_sum, right))
    reps = _debiased_from_totals(*_replicate_totals(plan, bins, conf, correct, n_bins))
    lo, hi = interval(debiased, debiased + (reps - reps.mean()) * plan.scale, level=level)
    p_value = _consistency_p_value(plug_in, bins, conf, rows, conf_sum, n_boot, seed)
    calibrated = p_value >= 1 - level
    fields = {"drill": DRILL, "subject": subject}
    found = [Finding(
        name=finding_name(DRILL, "calibration", "ece"), metric="ece", value=plug_in,
        ci=(0.0 if calibrated else min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0)),
        ci_level=level, p_value=p_value, status="pass" if calibrated else "warn",
        group="calibration",
        message=(f"Plug-in ECE over {n_bins} equal-width bins; debiased {debiased:.4f} (Kumar "
                 "et al. 2019). "
                 + ("Consistent with perfect calibration" if calibrated else
                    "Larger than a calibrated model shows by chance")
                 + f" (consistency resampling, p = {p_value:.3g})."),
        details={"debiased": debiased, "n_bins": n_bins, "rows": len(labels),
                 "n_boot": n_boot, "binning": "equal-width"}, **fields)]
    edges = np.linspace(0, 1, n_bins + 1)
    for b in np.flatnonzero(rows):
        n_b, mean_conf = int(rows[b]), conf_sum[b] / rows[b]
        found.append(proportion(
            finding_name(DRILL, "reliability", "accuracy", at=f"{edges[b]:.3g}-{edges[b + 1]:.3g}"),
            "accuracy", int(round(right[b])), n_b, level, group="reliability",
            severity=float(mean_conf), unit="mean confidence of the bin",
            details={"bin": [float(edges[b]), float(edges[b + 1])], "rows": n_b,
                     "gap": float(right[b] / n_b - mean_conf)}, **fields))
    return found


def _replicate_totals(plan: Any, bins: np.ndarray, conf: np.ndarray, correct: np.ndarray,
                      n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin totals of every bootstrap resample, each ``(n_boot, n_bins)``: one sparse
    product of the resample counts with the rows' bin indicators."""
    from scipy import sparse

    n = len(bins)
    cols = np.concatenate([bins, bins + n_bins, bins + 2 * n_bins]).astype(np.int64)
    per_row = sparse.csr_matrix(
        (np.concatenate([np.ones(n), conf, correct]), (np.tile(np.arange(n), 3), cols)),
        shape=(n, 3 * n_bins))
    totals = (plan.counts() @ per_row).toarray()
    return totals[:, :n_bins], totals[:, n_bins:2 * n_bins], totals[:, 2 * n_bins:]


def _consistency_p_value(observed: float, bins: np.ndarray, conf: np.ndarray, rows: np.ndarray,
                         conf_sum: np.ndarray, n_boot: int, seed: int) -> float:
    """Monte Carlo p-value of "perfectly calibrated" (Broecker & Smith 2007): how often labels
    redrawn as ``Bernoulli(confidence)`` give a plug-in ECE at least ``observed``, with the
    ``(k + 1) / (B + 1)`` correction that keeps the test exact."""
    from scipy import sparse

    n, n_bins = len(conf), len(rows)
    indicator = sparse.csr_matrix((np.ones(n), (np.arange(n), bins.astype(np.int64))),
                                  shape=(n, n_bins))
    rng = np.random.default_rng([seed, 2])
    chunk = max(1, min(n_boot, 2**22 // n))  # rows x draws in memory at once
    null = []
    for start in range(0, n_boot, chunk):
        redrawn = rng.random((min(chunk, n_boot - start), n)) < conf
        right = np.asarray(indicator.T @ redrawn.T.astype(np.float64)).T
        null.append(_ece_from_totals(rows, conf_sum, right))
    exceed = int(np.sum(np.concatenate(null) >= observed - 1e-12))
    return (exceed + 1) / (n_boot + 1)
