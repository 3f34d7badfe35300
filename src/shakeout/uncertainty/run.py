"""The uncertainty drill: calibration, temperature scaling, selective prediction with a
guaranteed risk, conformal sets and (for torch models with dropout) MC dropout, on one
labelled test set and a calibration split."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_open_interval, check_positive_int
from shakeout.errors import ValidationError
from shakeout.fingerprint import fingerprint
from shakeout.models import Model, wrap
from shakeout.report.findings import error_finding, finding_name, proportion
from shakeout.report.result import Finding, Manifest, Result
from shakeout.uncertainty._inputs import as_labels
from shakeout.uncertainty.scores import SCORES

DRILL = "uncertainty"


def run(model: Any, X: Any, y: Any, *, X_cal: Any = None, y_cal: Any = None,
        calibration_share: float = 0.5, alpha: float = 0.1, conformal: str = "lac",
        risk: float = 0.05, delta: float = 0.05, scores: Sequence[str] | None = None,
        n_bins: int = 15, n_boot: int = 1000, level: float = 0.95, mc_dropout: int = 0,
        seed: Seed = 0, quiet: bool = True, data_name: str = "data") -> Result:
    """Can this model's answers be trusted? The uncertainty drill on labelled data.

    Without ``X_cal``, a seeded ``calibration_share`` of the rows is held out for
    calibration (temperature, rejection threshold, conformal quantile) and the rest is the
    test set every finding is measured on.

    Findings (``drill="uncertainty"``): the ECE with its interval and the reliability curve
    (:func:`shakeout.uncertainty.calibration`); the ECE after temperature scaling; per
    confidence score, the risk-coverage curve and AURC, and the threshold chosen by
    selection with guaranteed risk with its selective risk and coverage on the test set;
    conformal coverage and set size at ``alpha``
    (:func:`shakeout.uncertainty.coverage_findings`); with ``mc_dropout`` passes, the
    risk-coverage of the mutual information. A regressor gets conformal intervals only.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.uncertainty import run
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=5000).fit(X[:200], y[:200])
    >>> result = run(clf, X[200:], y[200:], n_boot=200, risk=0.1, seed=0)
    >>> [(f.group, round(f.value, 3)) for f in result.select(metric="ece")]
    [('calibration', 0.052), ('temperature_scaled', 0.037)]
    >>> [(f.metric, round(f.value, 3)) for f in result.select(group="conformal")][:2]
    [('coverage', 0.919), ('set_size', 1.0)]
    >>> g = result.select(metric="guaranteed_risk")[0]
    >>> round(g.value, 3), g.status
    (0.034, 'pass')
    """
    started = time.perf_counter()
    wrapped = wrap(model)
    check_open_interval("uncertainty.run", "calibration_share", calibration_share, 0, 1)
    check_positive_int("uncertainty.run", "mc_dropout", mc_dropout, 0)
    for score in scores or ():
        if score not in SCORES:
            raise ValidationError(f"uncertainty.run: scores must be among {list(SCORES)}, got "
                                  f"{score!r}.")
    rng = as_generator(seed)
    given = X_cal is not None
    X, y, X_cal, y_cal = _split(X, y, X_cal, y_cal, calibration_share, rng)
    settings = {"level": level, "subject": None}
    if wrapped.task == "regression":
        found, chosen = _conformal(wrapped, X, y, X_cal, y_cal, alpha, "absolute", level,
                                   rng), ()
    else:
        found, chosen = _classifier(wrapped, X, y, X_cal, y_cal, alpha=alpha,
                                    conformal=conformal, risk=risk, delta=delta,
                                    scores=scores, n_bins=n_bins,
                            n_boot=n_boot, mc_dropout=mc_dropout, rng=rng, **settings)
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=wrapped.name,
        model_fingerprint=wrapped.fingerprint(), data=data_name,
        data_fingerprint=fingerprint(X if hasattr(X, "columns") else np.asarray(X)),
        n_rows=len(y), timings={"total_s": time.perf_counter() - started},
        parameters={"drill": DRILL, "alpha": alpha, "conformal": conformal, "risk": risk,
                    "delta": delta, "scores": list(chosen), "n_bins": n_bins,
                    "n_boot": n_boot, "level": level, "mc_dropout": mc_dropout,
                    "calibration_rows": len(y_cal),
                    "calibration": "given" if given else f"split {calibration_share:g}"})
    return Result(title=f"Uncertainty of {wrapped.name} ({data_name})", findings=tuple(found),
                  manifest=manifest)


def _scores(scores: Sequence[str] | None, n_classes: int) -> tuple[str, ...]:
    """The scores asked for; by default all of them, or only ``max_probability`` for two
    classes (where margin and entropy rank the rows the same way).

    >>> _scores(None, 2), _scores(None, 3)[1:]
    (('max_probability',), ('margin', 'entropy'))
    """
    if scores:
        return tuple(scores)
    return ("max_probability",) if n_classes == 2 else tuple(SCORES)


def _split(X: Any, y: Any, X_cal: Any, y_cal: Any, share: float,
           rng: np.random.Generator) -> tuple[Any, np.ndarray, Any, np.ndarray]:
    """The test and calibration sets: as given, or a seeded split of ``X, y``."""
    if y is None:
        raise ValidationError("the uncertainty drill needs labels: save them as y in the .npz "
                              "or name the target column with --target.")
    y = np.asarray(y)
    if (X_cal is None) != (y_cal is None):
        raise ValidationError("uncertainty.run: pass both X_cal and y_cal, or neither (then a "
                              "share of the rows is held out for calibration).")
    if X_cal is not None:
        return X, y, X_cal, np.asarray(y_cal)
    order = rng.permutation(len(y))
    cut = int(round(share * len(y)))
    if cut < 2 or len(y) - cut < 2:
        raise ValidationError(
            f"uncertainty.run: {len(y)} rows split at calibration_share={share:g} leave "
            f"{cut} for calibration and {len(y) - cut} for testing; pass more rows or a "
            "calibration set (--calibration)."
        )
    take = (lambda idx: X.iloc[idx]) if hasattr(X, "iloc") else (lambda idx: np.asarray(X)[idx])
    cal, test = np.sort(order[:cut]), np.sort(order[cut:])
    return take(test), y[test], take(cal), y[cal]


def _classifier(model: Model, X: Any, y: np.ndarray, X_cal: Any, y_cal: np.ndarray, *,
                alpha: float, conformal: str, risk: float, delta: float,
                scores: Sequence[str] | None, n_bins: int, n_boot: int, mc_dropout: int,
                rng: np.random.Generator, level: float,
                subject: str | None) -> tuple[list[Finding], tuple[str, ...]]:
    from shakeout.uncertainty.calibration import calibration
    from shakeout.uncertainty.risk import selective_findings
    from shakeout.uncertainty.scores import confidence

    proba = model.predict_proba(X)
    labels = as_labels(model.encode_labels(y), proba.shape[1])
    right = proba.argmax(axis=1) == labels
    scores = _scores(scores, proba.shape[1])
    boot_seed = int(rng.integers(2**31 - 1))
    found = calibration(proba, labels, n_bins=n_bins, level=level, n_boot=n_boot,
                        seed=boot_seed, subject=subject)
    found.append(_temperature(model, X, labels, X_cal, y_cal, n_bins, level, n_boot,
                              boot_seed, subject))
    for score in scores:
        found += selective_findings(confidence(proba, score), right, score=score, level=level,
                                    n_boot=n_boot, seed=boot_seed, subject=subject)
        found += _guarantee(model, score, X_cal, y_cal, proba, right, risk, delta, level,
                            subject)
    found += _conformal(model, X, y, X_cal, y_cal, alpha, conformal, level, rng)
    if mc_dropout:
        found += _mc_dropout(model, X, right, mc_dropout, level, n_boot, rng, subject)
    return found, scores


def _temperature(model: Model, X: Any, labels: np.ndarray, X_cal: Any, y_cal: np.ndarray,
                 n_bins: int, level: float, n_boot: int, seed: int,
                 subject: str | None) -> Finding:
    """The test ECE after temperature scaling fitted on the calibration rows."""
    from dataclasses import replace

    from shakeout.uncertainty.calibration import calibration
    from shakeout.uncertainty.temperature import TemperatureScaled

    try:
        scaled = TemperatureScaled(model).fit(X_cal, y_cal)
    except ValidationError as exc:
        return error_finding(DRILL, "temperature_scaled", None, str(exc), metric="ece")
    ece = calibration(scaled.predict_proba(X), labels, n_bins=n_bins, level=level,
                      n_boot=n_boot, seed=seed, subject=subject)[0]
    return replace(ece, name=finding_name(DRILL, "temperature_scaled", "ece"),
                   group="temperature_scaled",
                   details={**ece.details, "temperature": scaled.temperature_},
                   message=f"After temperature scaling (T = {scaled.temperature_:.3g}, fitted "
                           f"on the calibration rows; Guo et al. 2017). {ece.message}")


def _guarantee(model: Model, score: str, X_cal: Any, y_cal: np.ndarray, proba: np.ndarray,
               right: np.ndarray, risk: float, delta: float, level: float,
               subject: str | None) -> list[Finding]:
    """The SGR threshold fitted on the calibration rows, and how it does on the test rows:
    its selective risk (``fail`` when the interval lies wholly above the target) and the
    share it answers."""
    from dataclasses import replace

    from shakeout.uncertainty.scores import confidence
    from shakeout.uncertainty.selective import Selective

    g = Selective(model, risk=risk, delta=delta, score=score).fit(X_cal, y_cal).guarantee_
    answered = confidence(proba, score) >= g.threshold
    group = f"selective/{score}"
    details = {"threshold": g.threshold, "bound": g.bound, "risk_target": risk,
               "delta": delta, "calibration_coverage": g.coverage,
               "calibration_risk": g.risk}
    fields = {"drill": DRILL, "group": group, "subject": subject, "details": details}
    k, n = int(np.sum(answered & ~right)), int(answered.sum())
    risk_found = proportion(finding_name(DRILL, "selective", score, "guaranteed_risk"),
                            "guaranteed_risk", k, n, level, **fields)
    above = n > 0 and risk_found.ci[0] > risk
    if not np.isfinite(g.threshold):
        status, text = "warn", (
            f"No threshold keeps the risk <= {risk:g} with probability >= {1 - delta:g} on "
            f"{len(y_cal)} calibration rows, so the model answers nothing: pass more "
            "calibration rows or a higher risk target.")
    elif n == 0:
        status, text = "warn", (
            f"The rule {_rule(score, g.threshold)} from selection with guaranteed risk "
            f"answers none of the {len(right)} test rows, so their risk is not measured: the "
            "test rows are less confident than the calibration rows it was chosen on.")
    else:
        status, text = "fail" if above else "pass", (
            f"Answer where {_rule(score, g.threshold)}, from selection with guaranteed risk "
            f"(Geifman & El-Yaniv 2017): risk <= {risk:g} with probability >= "
            f"{1 - delta:g}; {n} of {len(right)} test rows answered."
            + (" The test risk is above the target: calibration and test rows differ."
               if above else ""))
    risk_found = replace(risk_found, status=status, message=text)
    return [risk_found, proportion(finding_name(DRILL, "selective", score, "answered"),
                                   "answered", n, len(right), level, **fields)]


def _rule(score: str, threshold: float) -> str:
    """The answering rule in the score's own terms (entropy is answered below a ceiling; its
    confidence is the negated entropy).

    >>> _rule("entropy", -0.6463), _rule("max_probability", 0.6868)
    ('entropy <= 0.6463 nats', 'max probability >= 0.6868')
    """
    if score == "entropy":
        return f"entropy <= {-threshold:.4g} nats"
    return f"{score.replace('_', ' ')} >= {threshold:.4g}"


def _conformal(model: Model, X: Any, y: np.ndarray, X_cal: Any, y_cal: np.ndarray,
               alpha: float, score: str, level: float, rng: np.random.Generator) -> list[Finding]:
    from shakeout.uncertainty.conformal import (ConformalClassifier, ConformalRegressor,
                                                coverage_findings)

    kind = ConformalRegressor if model.task == "regression" else ConformalClassifier
    seed = int(rng.integers(2**31 - 1))
    fit = {} if model.task == "regression" else {"seed": seed}
    predictor = kind(model, alpha=alpha, score=score).fit(X_cal, y_cal, **fit)
    return coverage_findings(predictor, X, y, level=level, seed=seed)


def _mc_dropout(model: Model, X: Any, right: np.ndarray, passes: int, level: float,
                n_boot: int, rng: np.random.Generator, subject: str | None) -> list[Finding]:
    """Risk-coverage of MC dropout's mutual information (a torch model with dropout)."""
    from shakeout.uncertainty.risk import selective_findings
    from shakeout.uncertainty.scores import mc_dropout

    seed = int(rng.integers(2**31 - 1))
    d = mc_dropout(model, X, n=passes, seed=seed)
    return selective_findings(-d.epistemic, right, score="mc_dropout", level=level,
                              n_boot=n_boot, seed=seed, subject=subject)
