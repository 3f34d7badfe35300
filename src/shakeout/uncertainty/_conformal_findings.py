"""Findings of a calibrated conformal predictor on labelled test rows: coverage with its exact
interval, mean set size or interval width, coverage per class, and both per perturbation
severity of a stress grid."""

from __future__ import annotations

import math
from dataclasses import replace
from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_grid, check_open_interval
from shakeout.errors import ValidationError
from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding
from shakeout.uncertainty._conformal_scores import calibration_rank

DRILL, GROUP = "uncertainty", "conformal"


def mean_interval(values: np.ndarray, level: float) -> tuple[float, float] | None:
    """Student-t interval for the mean of ``values`` (None with fewer than two values or an
    infinite one; a point when they are all equal).

    >>> tuple(round(v, 4) for v in mean_interval(np.array([1.0, 2.0, 3.0, 4.0]), 0.95))
    (0.4457, 4.5543)
    """
    from scipy import stats

    if len(values) < 2 or not np.all(np.isfinite(values)):
        return None
    mean, sem = float(np.mean(values)), float(stats.sem(values))
    if sem == 0:
        return (mean, mean)
    lo, hi = stats.t.interval(level, len(values) - 1, loc=mean, scale=sem)
    return (float(lo), float(hi))


def _describe(predictor: Any) -> dict[str, Any]:
    n = len(predictor.scores_)
    plain = predictor.shift is None and not getattr(predictor, "mondrian", False)
    return {"alpha": predictor.alpha, "target": 1 - predictor.alpha, "score": predictor.score,
            "n_calibration": n, "mondrian": getattr(predictor, "mondrian", False),
            "weighted": predictor.shift is not None,
            "upper_bound": 1 - predictor.alpha + 1 / (n + 1) if plain else None}


NOT_EXCHANGEABLE = ("below the promise: the test rows are not exchangeable with the calibration "
                    "rows")
MARGINAL = ("Below 1 - alpha, which marginal calibration does not promise per class; "
            "mondrian=True calibrates each class.")
WEIGHTED = ("A weighted predictor's promise holds on average over calibration draws and no "
            "exact test of one draw exists: no verdict.")


def exchangeability_p(covered: int, parts: Sequence[tuple[int, int]], alpha: float) -> float:
    """One-sided p-value of "these test rows are exchangeable with the calibration rows",
    from how many of them the sets covered.

    Given its calibration rows, split conformal covers a new row with probability
    ``C = F(q)``; for continuous scores ``C ~ Beta(k, n + 1 - k)`` over calibration draws,
    ``k = ceil((n + 1)(1 - alpha))`` (Vovk 2012, "Conditional validity of inductive conformal
    predictors", ACML; Angelopoulos & Bates 2023, "Conformal prediction: a gentle
    introduction", sec. 3.2). So ``m`` exchangeable test rows hold a beta-binomial
    ``(m, k, n + 1 - k)`` count of covered rows, and the p-value is its lower tail at
    ``covered``. Tied scores only raise coverage, so the test stays conservative. ``parts``
    lists ``(m, n)`` test and calibration rows of each separately calibrated group (one for a
    marginal predictor, one per class for Mondrian): their counts add, and the law of the sum
    is the convolution of theirs.

    Testing that the coverage interval lies below ``1 - alpha`` instead would reject about
    half the time at large ``m`` without any shift: ``C`` itself falls below ``1 - alpha``
    for nearly half of all calibration draws.

    >>> round(exchangeability_p(870, [(1000, 500)], 0.1), 4)  # 87% covered, 90% promised
    0.0415
    >>> round(exchangeability_p(870, [(600, 300), (400, 200)], 0.1), 4)  # two classes
    0.0402
    """
    from scipy import signal, stats

    laws = []
    for m, n in parts:
        if m:
            k = calibration_rank(n, alpha)
            laws.append(stats.betabinom(m, k, n + 1 - k))
    if len(laws) == 1:
        return float(laws[0].cdf(covered))
    pmf = np.ones(1)
    for law in laws:
        pmf = signal.convolve(pmf, law.pmf(np.arange(law.args[0] + 1)))
    return float(min(1.0, np.clip(pmf[:covered + 1], 0.0, None).sum()))


def _parts(predictor: Any, n_test: int,
           codes: np.ndarray | None) -> list[tuple[int, int]] | None:
    """Test and calibration rows per separately calibrated group (None: weighted, untested);
    ``codes``, the test rows' classes, matter only to a Mondrian predictor."""
    if predictor.shift is not None:
        return None
    if not getattr(predictor, "mondrian", False):
        return [(n_test, len(predictor.scores_))]
    tested = np.bincount(codes, minlength=predictor.n_classes_)
    return [(int(m), int(n)) for m, n in zip(tested, predictor.class_counts_)]


def _coverage(name: str, metric: str, covered: np.ndarray, predictor: Any, level: float,
              parts: list[tuple[int, int]] | None, *, details: Any = None,
              **fields: Any) -> Finding:
    """Coverage with its Clopper-Pearson interval and a verdict.

    With ``parts`` (see :func:`exchangeability_p`) the verdict is the exchangeability test at
    ``1 - level``: ``fail`` when it rejects. Without, a weighted predictor's coverage gets no
    verdict, and a class's coverage under marginal calibration (which promises nothing per
    class) is a ``warn`` when its whole interval lies below ``1 - alpha``.
    """
    f = proportion(name, metric, int(covered.sum()), len(covered), level, drill=DRILL,
                   group=GROUP, details={**_describe(predictor), **(details or {})}, **fields)
    target = 1 - predictor.alpha
    text = (f"Coverage {f.value:.3f} [{f.ci[0]:.3f}, {f.ci[1]:.3f}] on {len(covered)} rows; "
            f"promised at least {target:.3g}")
    if parts is None and predictor.shift is not None:
        return replace(f, status="info", message=f"{text} on average. {WEIGHTED}")
    if parts is None:
        below = f.ci[1] < target
        return replace(f, status="warn" if below else "pass",
                       message=f"{text}." + (f" {MARGINAL}" if below else ""))
    p = exchangeability_p(int(covered.sum()), parts, predictor.alpha)
    verdict = (f"{NOT_EXCHANGEABLE} (exchangeability p = {p:.2g})." if p < 1 - level else
               f"consistent with exchangeable rows (p = {p:.2g}).")
    return replace(f, p_value=p, status="fail" if p < 1 - level else "pass",
                   message=f"{text} on average over calibration draws; {verdict}")


def _size(name: str, size: np.ndarray, regression: bool, level: float, **fields: Any) -> Finding:
    metric = "interval_width" if regression else "set_size"
    finite = np.isfinite(size)
    details = {"infinite_share": float(1 - finite.mean())}
    if not regression:
        details.update(empty_share=float(np.mean(size == 0)),
                       size_counts=np.bincount(size.astype(np.int64)).tolist())
    value, ci = float(np.mean(size)), mean_interval(size, level)
    shown = f"{value:.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci is not None else "")
    what = "interval width" if regression else "set size"
    return Finding(name=name, metric=metric, value=value, ci=ci, ci_level=level, drill=DRILL,
                   group=GROUP, details=details, **fields,
                   message=f"Mean {what} {shown} over {len(size)} rows.")


def _outcome_findings(predictor: Any, covered: np.ndarray, size: np.ndarray,
                      codes: np.ndarray | None, level: float, at: float | None = None,
                      part: str | None = None, **fields: Any) -> list[Finding]:
    regression = predictor.task == "regression"
    return [
        _coverage(finding_name(DRILL, GROUP, part, "coverage", at=at), "coverage", covered,
                  predictor, level, _parts(predictor, len(covered), codes), **fields),
        _size(finding_name(DRILL, GROUP, part, "interval_width" if regression else "set_size",
                           at=at), size, regression, level, **fields),
    ]


def coverage_findings(predictor: Any, X: Any, y: Any, *, level: float = 0.95, seed: Seed = 0,
                      subject: str | None = None) -> list[Finding]:
    """How a fitted conformal predictor does on labelled test rows ``X, y``.

    Findings (``drill="uncertainty"``, ``group="conformal"``): ``coverage``, the share of rows
    whose set holds the truth, with its exact Clopper-Pearson interval and the p-value of
    :func:`exchangeability_p` (``fail`` when it rejects at ``1 - level``; a weighted predictor
    gets no verdict); ``set_size`` or ``interval_width``, the mean with a Student-t interval;
    for a classifier, ``class_coverage`` per class (tested the same way when calibrated per
    class, ``mondrian=True``, else a ``warn`` when its interval lies below ``1 - alpha``:
    marginal calibration promises nothing per class).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.uncertainty.conformal import ConformalClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> idx = np.random.default_rng(0).permutation(len(y))
    >>> X, y = X[idx], y[idx]
    >>> clf = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
    >>> cp = ConformalClassifier(clf, alpha=0.1).fit(X[600:1200], y[600:1200])
    >>> cov, size, *per_class = coverage_findings(cp, X[1200:], y[1200:])
    >>> cov.name, round(cov.value, 3), tuple(round(v, 3) for v in cov.ci), cov.status
    ('uncertainty/conformal/coverage', 0.918, (0.893, 0.939), 'pass')
    >>> size.metric, round(size.value, 2), len(per_class)
    ('set_size', 0.93, 10)
    """
    check_open_interval("coverage_findings", "level", level, 0, 1)
    predictor._fitted()
    covered, size, codes = predictor._cover(X, y, seed)
    out = _outcome_findings(predictor, covered, size, codes, level, subject=subject)
    if codes is None:
        return out
    names = predictor.classes_ if predictor.classes_ is not None else np.arange(
        int(codes.max()) + 1)
    for j, label in enumerate(names):
        rows = codes == j
        parts = ([(int(rows.sum()), int(predictor.class_counts_[j]))]
                 if predictor.mondrian else None)
        out.append(_coverage(finding_name(DRILL, GROUP, "class_coverage", str(label)),
                             "class_coverage", covered[rows], predictor, level, parts,
                             details={"class": str(label)}, subject=subject)
                   if rows.any() else _no_rows(str(label), subject))
    return out


def _no_rows(label: str, subject: str | None) -> Finding:
    return Finding(name=finding_name(DRILL, GROUP, "class_coverage", label),
                   metric="class_coverage", value=math.nan, drill=DRILL, group=GROUP,
                   subject=subject, message=f"No test rows of class {label}.",
                   details={"class": label})


def coverage_under_stress(predictor: Any, X: Any, y: Any, perturbation: Any,
                          severities: Any = None, *, level: float = 0.95, seed: Seed = 0,
                          subject: str | None = None) -> list[Finding]:
    """Coverage and set size (or width) of a calibrated predictor at each severity of an
    input perturbation of the test rows: how far the promise falls under stress.

    ``perturbation`` is a :class:`shakeout.perturb.Perturbation` of kind ``input`` or the
    name of one; it is fitted on ``X`` unless already fitted. ``severities`` default to the
    perturbation's own grid. Severity ``i`` uses child ``i`` of ``seed``'s spawn. The
    findings are ``uncertainty/conformal/<perturbation>/coverage@<severity>`` and
    ``.../set_size@<severity>`` (``interval_width`` for a regressor), with their severity and
    unit.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.uncertainty.conformal import ConformalClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> idx = np.random.default_rng(0).permutation(len(y))
    >>> X, y = X[idx], y[idx]
    >>> clf = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
    >>> cp = ConformalClassifier(clf, alpha=0.1).fit(X[600:1200], y[600:1200])
    >>> fs = coverage_under_stress(cp, X[1200:], y[1200:], "gaussian_noise", [0.0, 1.0])
    >>> [(f.severity, f.metric, round(f.value, 2), f.status) for f in fs]
    [(0.0, 'coverage', 0.92, 'pass'), (0.0, 'set_size', 0.93, 'info'), \
(1.0, 'coverage', 0.66, 'fail'), (1.0, 'set_size', 0.82, 'info')]
    """
    from shakeout.perturb import Perturbation, make

    check_open_interval("coverage_under_stress", "level", level, 0, 1)
    predictor._fitted()
    p = make(perturbation) if isinstance(perturbation, str) else perturbation
    if not isinstance(p, Perturbation) or p.kind != "input":
        raise ValidationError(
            "coverage_under_stress: perturbation must be an input perturbation (a "
            "shakeout.perturb.Perturbation of kind 'input' or its name), got "
            f"{getattr(p, 'kind', type(p).__name__)!r}."
        )
    grid = check_grid("coverage_under_stress", "severities",
                      p.default_severities if severities is None else severities,
                      high=p.max_severity)
    if not getattr(p, "fitted_", False):
        p.fit(X)
    out = []
    for severity, rng in zip(grid, as_generator(seed, "coverage_under_stress").spawn(len(grid))):
        out += coverage_at(predictor, p.apply(X, severity, rng), y, p, severity, level=level,
                           seed=rng, subject=subject)
    return out


def coverage_at(predictor: Any, X_perturbed: Any, y: Any, perturbation: Any, severity: float,
                *, level: float = 0.95, seed: Seed = 0, subject: str | None = None
                ) -> list[Finding]:
    """Coverage and set size (or width) on rows already perturbed at ``severity``: one point
    of :func:`coverage_under_stress`, for a sweep that perturbs the rows itself (the stress
    drill). ``perturbation`` names the finding and gives its unit.

    >>> from shakeout.perturb import GaussianNoise
    >>> from shakeout.uncertainty.conformal import ConformalRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(400, 2)), rng.normal(size=400)
    >>> cr = ConformalRegressor(lambda Z: np.zeros(len(Z))).fit(X[:200], y[:200])
    >>> f = coverage_at(cr, X[200:], y[200:], GaussianNoise(), 0.1)[0]
    >>> f.name, f.severity, f.unit, round(f.value, 3)
    ('uncertainty/conformal/gaussian_noise/coverage@0.1', 0.1, 'sigma (x feature std)', 0.89)
    """
    predictor._fitted()
    covered, size, codes = predictor._cover(X_perturbed, y, seed)
    return _outcome_findings(predictor, covered, size, codes, level, at=severity,
                             part=perturbation.name, severity=severity, unit=perturbation.unit,
                             subject=subject)
