"""Split conformal prediction: classification sets and regression intervals with a coverage
promise, on any wrapped model.

A predictor is calibrated on held-out labelled rows (``fit``) and then gives, for a new row,
a set of labels (``ConformalClassifier``) or an interval (``ConformalRegressor``) that holds
the truth with probability at least ``1 - alpha`` when calibration and test rows are
exchangeable (Vovk, Gammerman & Shafer 2005, *Algorithmic learning in a random world*; Lei,
G'Sell, Rinaldo, Tibshirani & Wasserman 2018, JASA 113). Under covariate shift, weighted
conformal prediction (Tibshirani et al. 2019) restores the promise given the likelihood ratio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_choice, check_open_interval
from shakeout.errors import NotFittedError, ValidationError
from shakeout.models import Model, wrap
from shakeout.uncertainty._conformal_findings import (coverage_at, coverage_findings,
                                                      coverage_under_stress)
from shakeout.uncertainty._conformal_scores import (aps_scores, aps_sets, calibration_rank,
                                                    lac_scores, lac_sets, min_calibration_size,
                                                    threshold, weighted_thresholds)
from shakeout.uncertainty._conformal_shift import likelihood_ratio, row_weights
from shakeout.uncertainty._conformal_stress import classifier_metrics, regressor_metrics

__all__ = ["ConformalClassifier", "ConformalRegressor", "coverage_at", "coverage_findings",
           "coverage_under_stress", "min_calibration_size"]

SHIFTS = "None, 'domain' (weights from a domain classifier) or a callable likelihood ratio"


class _SplitConformal:
    """Shared by both predictors: alpha, the optional shift weights, the size check."""

    task: str = ""

    def _init_shift(self, alpha: float, shift: Any, domain_classifier: Any) -> None:
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        if not (shift is None or shift == "domain" or callable(shift)):
            raise ValidationError(f"{self.name}: shift must be {SHIFTS}, got {shift!r}.")
        if domain_classifier is not None and shift != "domain":
            raise ValidationError(
                f"{self.name}: domain_classifier is used only with shift='domain', got "
                f"shift={shift!r}. Pass shift='domain' or leave domain_classifier out."
            )
        self.shift = shift
        self.domain_classifier = domain_classifier

    @property
    def name(self) -> str:
        return type(self).__name__

    def _check_size(self, n: int, what: str = "") -> None:
        need = min_calibration_size(self.alpha)
        if n < need:
            raise ValidationError(
                f"{self.name}: {n} calibration rows{what} are too few for alpha={self.alpha}: "
                f"the conformal quantile ceil((n+1)(1-alpha)) = "
                f"{calibration_rank(n, self.alpha)} exceeds n, so every set would hold "
                f"everything. Use at least {need} calibration rows{what}, or alpha >= "
                f"{1 / (n + 1):.3g}."
            )

    def _fit_shift(self, X: Any, target: Any) -> None:
        self.ratio_ = None
        self.weights_ = None
        if self.shift is not None:
            self.ratio_ = likelihood_ratio(self.name, self.shift, self.domain_classifier, X,
                                           target)
            self.weights_ = row_weights(self.name, self.ratio_, X)
        elif target is not None:
            raise ValidationError(f"{self.name}: target rows are used only with a shift; "
                                  "pass shift='domain' to weight by a domain classifier.")

    def _limit(self, X: Any) -> float | np.ndarray:
        """The threshold: one number, or one per row of ``X`` under a shift."""
        if self.ratio_ is None:
            return self.threshold_
        return weighted_thresholds(self.scores_, self.weights_,
                                   row_weights(self.name, self.ratio_, X), self.alpha)

    def _fitted(self) -> None:
        if not hasattr(self, "scores_"):
            raise NotFittedError(f"{self.name}: call fit(X_calibration, y_calibration) first.")


def _flag(owner: Any, name: str, value: Any) -> bool:
    """``value`` if it is a bool (``check_choice`` would take 1 for True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValidationError(f"{type(owner).__name__}: {name} must be True or False, "
                              f"got {value!r}.")
    return bool(value)


def _as_model(owner: str, model: Any, task: str, other: str) -> Model:
    """``wrap(model)`` (a plain function is given ``task``), refusing the other task."""
    plain = (callable(model) and not isinstance(model, Model)
             and not hasattr(model, "predict") and not hasattr(model, "forward"))
    wrapped = wrap(model, task=task) if plain else wrap(model)
    if wrapped.task != task:
        raise ValidationError(
            f"{owner} needs a {task} model, but {wrapped.name} is a {wrapped.task} model. Use "
            f"{other} for it, or wrap(model, task={task!r}) if it is mislabelled."
        )
    return wrapped


class ConformalClassifier(_SplitConformal):
    """Prediction sets that hold the true class with probability at least ``1 - alpha``.

    Parameters
    ----------
    model : Model or anything ``shakeout.wrap`` takes
        A classifier with class probabilities.
    alpha : float, default=0.1
        Miscoverage: sets miss the true class on at most this share of rows.
    score : {"lac", "aps"}, default="lac"
        ``"lac"``: ``1 - p_y`` (Sadinle, Lei & Wasserman 2019), the smallest sets on average;
        ``"aps"``: the probability mass ranked at and above ``y`` (Romano, Sesia & Candes
        2020), sets that grow where the model is unsure.
    randomized : bool, default=False
        APS only: count ``u * p_y`` of the label's own mass, ``u ~ U(0, 1)`` per row; smaller
        sets, and fit/predict then depend on ``seed``.
    mondrian : bool, default=False
        Class-conditional (Mondrian) calibration (Vovk et al. 2005, ch. 4): one threshold per
        class from that class's calibration rows, so each class is covered at ``1 - alpha``.
    shift : None, "domain" or callable, default=None
        Weighted conformal under covariate shift (Tibshirani et al. 2019): ``"domain"`` fits
        ``domain_classifier`` on calibration rows against ``fit(..., target=)`` rows; a
        callable gives each row's likelihood ratio ``dP_target / dP_calibration`` directly.
    domain_classifier : scikit-learn classifier or None
        For ``shift="domain"``; default ``LogisticRegression(max_iter=1000)``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_digits(return_X_y=True)
    >>> idx = np.random.default_rng(0).permutation(len(y))
    >>> X, y = X[idx], y[idx]
    >>> clf = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
    >>> cp = ConformalClassifier(clf, alpha=0.05).fit(X[600:1200], y[600:1200])
    >>> sets = cp.predict(X[1200:])
    >>> round(float(sets[np.arange(len(sets)), y[1200:]].mean()), 3), sets.shape
    (0.96, (597, 10))
    """

    task = "classification"

    def __init__(self, model: Any, *, alpha: float = 0.1, score: str = "lac",
                 randomized: bool = False, mondrian: bool = False, shift: Any = None,
                 domain_classifier: Any = None):
        _as_model(self.name, model, self.task, "ConformalRegressor")
        self.model = model
        self.score = check_choice(self, "score", score, ("lac", "aps"))
        self.randomized = _flag(self, "randomized", randomized)
        self.mondrian = _flag(self, "mondrian", mondrian)
        if randomized and score != "aps":
            raise ValidationError(f"{self.name}: randomized=True needs score='aps'; LAC sets "
                                  "are not randomised.")
        self._init_shift(alpha, shift, domain_classifier)
        if mondrian and shift is not None:
            raise ValidationError(f"{self.name}: mondrian=True and a shift cannot be combined; "
                                  "choose one.")

    def fit(self, X: Any, y: Any, *, target: Any = None, seed: Seed = 0) -> "ConformalClassifier":
        """Calibrate on held-out labelled rows ``X, y`` (not those the model was trained on).

        ``target``: unlabelled rows of the shifted distribution, for ``shift="domain"``;
        ``seed``: the calibration rows' ``u`` draws of randomised APS (unused otherwise).
        """
        self.model_ = _as_model(self.name, self.model, self.task, "ConformalRegressor")
        self.classes_ = self.model_.classes_
        codes = self.model_.encode_labels(y).reshape(-1)
        proba = self.model_.predict_proba(X)
        if len(codes) != len(proba):
            raise ValidationError(f"{self.name}: X has {len(proba)} rows but y has "
                                  f"{len(codes)}; pass one label per row.")
        scores = self._all_scores(proba, as_generator(seed, self))[np.arange(len(codes)), codes]
        self._fit_shift(X, target)
        self.n_classes_ = proba.shape[1]
        self.scores_ = scores
        if self.mondrian:
            self.threshold_ = self._class_thresholds(scores, codes, proba.shape[1])
        else:
            self._check_size(len(scores))
            self.threshold_ = threshold(scores, self.alpha)
        return self

    def _class_thresholds(self, scores: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
        counts = np.bincount(codes, minlength=k)
        self.class_counts_ = counts
        need = min_calibration_size(self.alpha)
        if np.any(counts < need):
            names = self.classes_ if self.classes_ is not None else np.arange(k)
            short = ", ".join(f"{names[j]!s}: {counts[j]}" for j in np.flatnonzero(counts < need))
            raise ValidationError(
                f"{self.name}: mondrian=True needs at least {need} calibration rows of every "
                f"class for alpha={self.alpha}; too few for class(es) {short}. Add calibration "
                "rows of those classes, raise alpha, or use mondrian=False."
            )
        return np.array([threshold(scores[codes == j], self.alpha) for j in range(k)])

    def _all_scores(self, proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.score == "lac":
            return lac_scores(proba)
        return aps_scores(proba, rng.random(len(proba)) if self.randomized else None)

    def predict(self, X: Any, *, seed: Seed = 0) -> np.ndarray:
        """The sets: a boolean array ``(n, n_classes)``, column ``j`` for class ``classes_[j]``
        (``seed``: the rows' ``u`` draws of randomised APS, unused otherwise)."""
        self._fitted()
        u = as_generator(seed, self).random(len(X)) if self.randomized else None
        # one number (1, 1), one per class (1, k) with Mondrian, one per row (n, 1) under a shift
        limit = np.reshape(self._limit(X), (1, -1) if self.ratio_ is None else (-1, 1))
        out = np.empty((len(X), self.n_classes_), dtype=bool)

        def sets(rows: slice, proba: np.ndarray) -> None:
            if proba.shape[1] != self.n_classes_:
                raise ValidationError(
                    f"{self.name}: the model now gives {proba.shape[1]} class columns but was "
                    f"calibrated with {self.n_classes_}; calibrate again with fit(X, y).")
            below = limit if len(limit) == 1 else limit[rows]
            out[rows] = (lac_sets(proba, below) if self.score == "lac"
                         else aps_sets(proba, None if u is None else u[rows], below))

        self.model_.each_batch(X, sets)  # the sets of a batch while the model predicts the next
        return out

    def stress_metrics(self) -> list:
        """Coverage and mean set size as metrics of the stress drill, from the fitted threshold.

        ``shakeout.stress.run(model, X, y, metrics=["accuracy", *cp.stress_metrics()])``
        then reports ``coverage`` and ``set_size`` at every perturbation and severity with
        intervals over rows and draws, the drop from clean (``coverage_drop``: positive when
        coverage fell; ``set_size_drop``: positive when sets grew) and its p-value. Pass
        ``stress.run`` the model this predictor was calibrated on. LAC, Mondrian and
        non-randomised APS only: randomised APS and a shift-weighted predictor are refused
        (their sets need more than the probabilities; use :func:`coverage_under_stress`).

        >>> from sklearn.datasets import load_digits
        >>> from sklearn.linear_model import LogisticRegression
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
        >>> cp = ConformalClassifier(clf, alpha=0.1).fit(X[600:1200], y[600:1200])
        >>> cov, size = cp.stress_metrics()
        >>> sets = cp.predict(X[1200:])  # the same sets, so the same coverage
        >>> float(sets[np.arange(len(sets)), y[1200:]].mean()) == cov.value(
        ...     y[1200:], clf.predict_proba(X[1200:]))
        True
        >>> round(size.value(y[1200:], clf.predict_proba(X[1200:])), 2), size.higher_is_better
        (0.91, False)
        """
        return classifier_metrics(self)

    def _cover(self, X: Any, y: Any, seed: Seed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: whether the set holds the truth, its size, the true class's column."""
        sets = self.predict(X, seed=seed)
        codes = self.model_.encode_labels(y).reshape(-1)
        if len(codes) != len(sets):
            raise ValidationError(f"{self.name}: X has {len(sets)} rows but y has "
                                  f"{len(codes)}; pass one label per row.")
        return sets[np.arange(len(codes)), codes], sets.sum(axis=1).astype(np.float64), codes


class _QuantilePair:
    """Lower and upper quantile predictions from two models or one callable."""

    def __init__(self, owner: str, model: Any):
        self.owner = owner
        if isinstance(model, (tuple, list)) and len(model) == 2:
            self.models = tuple(_as_model(owner, m, "regression", "ConformalClassifier")
                                for m in model)
            self.fn = None
        elif callable(model) and not hasattr(model, "predict") and not isinstance(model, Model):
            self.models, self.fn = None, model
        else:
            raise ValidationError(
                f"{owner}: score='cqr' needs the conditional quantiles: a pair of models "
                "(lower, upper), e.g. two gradient-boosting regressors with loss='quantile', or a "
                f"callable returning (lower, upper); got {type(model).__name__}. Use "
                "score='absolute' for a single model of the mean."
            )

    def __call__(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.models is not None:
            return self.models[0].predict(X), self.models[1].predict(X)
        out = self.fn(X)
        out = np.asarray(out, dtype=np.float64) if not isinstance(out, tuple) else out
        if isinstance(out, np.ndarray) and out.ndim == 2 and out.shape[1] == 2:
            out = (out[:, 0], out[:, 1])
        if len(out) != 2 or any(np.shape(v) != (len(X),) for v in out):
            raise ValidationError(f"{self.owner}: the quantile callable must return (lower, "
                                  f"upper), two arrays of {len(X)} values, or shape (n, 2).")
        return np.asarray(out[0], dtype=np.float64), np.asarray(out[1], dtype=np.float64)


class ConformalRegressor(_SplitConformal):
    """Intervals that hold the true value with probability at least ``1 - alpha``.

    Parameters
    ----------
    model : regression model, or the quantile pair for CQR
        ``score="absolute"``: anything ``shakeout.wrap`` takes, predicting values.
        ``score="cqr"``: a pair ``(lower, upper)`` of such models, or a callable returning
        ``(lower, upper)`` arrays (or one ``(n, 2)`` array).
    alpha : float, default=0.1
        Miscoverage: intervals miss the truth on at most this share of rows.
    score : {"absolute", "cqr"}, default="absolute"
        ``"absolute"``: ``|y - f(x)|``, intervals ``f(x) -+ q`` of one width (Lei et al.
        2018); ``"cqr"``: ``max(lo(x) - y, y - hi(x))``, intervals ``[lo - q, hi + q]`` that
        follow the model's own spread (Romano, Patterson & Candes 2019, "Conformalized
        quantile regression", NeurIPS).
    shift, domain_classifier
        Weighted conformal under covariate shift, as in :class:`ConformalClassifier`.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> idx = np.random.default_rng(0).permutation(len(y))
    >>> X, y = X[idx], y[idx]
    >>> reg = Ridge(alpha=0.1).fit(X[:200], y[:200])
    >>> cr = ConformalRegressor(reg, alpha=0.1).fit(X[200:350], y[200:350])
    >>> iv = cr.predict(X[350:])
    >>> round(float(np.mean((iv[:, 0] <= y[350:]) & (y[350:] <= iv[:, 1]))), 3)
    0.891
    >>> round(float(iv[0, 1] - iv[0, 0]), 1)
    187.4
    """

    task = "regression"

    def __init__(self, model: Any, *, alpha: float = 0.1, score: str = "absolute",
                 shift: Any = None, domain_classifier: Any = None):
        self.score = check_choice(self, "score", score, ("absolute", "cqr"))
        if score == "cqr":
            _QuantilePair(self.name, model)
        elif isinstance(model, (tuple, list)):
            raise ValidationError(f"{self.name}: a pair of models is the quantile pair of "
                                  "score='cqr'; pass score='cqr', or one model for 'absolute'.")
        else:
            _as_model(self.name, model, self.task, "ConformalClassifier")
        self.model = model
        self._init_shift(alpha, shift, domain_classifier)

    def fit(self, X: Any, y: Any, *, target: Any = None) -> "ConformalRegressor":
        """Calibrate on held-out rows ``X, y`` (``target``: unlabelled shifted rows)."""
        self.model_ = (_QuantilePair(self.name, self.model) if self.score == "cqr"
                       else _as_model(self.name, self.model, self.task, "ConformalClassifier"))
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        lo, hi = self._bounds(X)
        if len(y) != len(lo):
            raise ValidationError(f"{self.name}: X has {len(lo)} rows but y has {len(y)}; "
                                  "pass one value per row.")
        if not np.all(np.isfinite(y)):
            raise ValidationError(f"{self.name}: y holds NaN or inf; drop those rows first.")
        self._fit_shift(X, target)
        self.scores_ = np.maximum(lo - y, y - hi)
        self._check_size(len(y))
        self.threshold_ = threshold(self.scores_, self.alpha)
        return self

    def _bounds(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.score == "cqr":
            return self.model_(X)
        centre = self.model_.predict(X)
        return centre, centre

    def predict(self, X: Any) -> np.ndarray:
        """The intervals: an array ``(n, 2)`` of lower and upper bounds (``inf`` possible
        under a shift, where the calibration rows weigh too little)."""
        self._fitted()
        limit = self._limit(X)
        out = np.empty((len(X), 2))

        def widen(rows: slice, lo: np.ndarray, hi: np.ndarray) -> None:
            margin = limit if np.ndim(limit) == 0 else limit[rows]
            np.subtract(lo, margin, out=out[rows, 0])
            np.add(hi, margin, out=out[rows, 1])

        if self.score == "cqr":
            widen(slice(None), *self._bounds(X))
        else:  # two additions: cheapest on each batch while it is in the cache
            self.model_.each_batch(X, lambda rows, centre: widen(rows, centre, centre),
                                   overlap=False)
        return out

    def stress_metrics(self) -> list:
        """Coverage as a metric of the stress drill (``score="absolute"``, no shift): the
        share of rows with ``|y - f(x)| <= q`` for the fitted ``q``, so
        ``shakeout.stress.run(model, X, y, metrics=["mae", *cr.stress_metrics()])`` reports it
        per perturbation and severity. The width, ``2 q``, does not move under stress.

        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn.linear_model import Ridge
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = Ridge(alpha=0.1).fit(X[:200], y[:200])
        >>> cr = ConformalRegressor(reg, alpha=0.1).fit(X[200:350], y[200:350])
        >>> (cov,) = cr.stress_metrics()
        >>> cov.name, round(cov.value(y[350:], reg.predict(X[350:])), 3)
        ('coverage', 0.88)
        """
        return regressor_metrics(self)

    def _cover(self, X: Any, y: Any, seed: Seed) -> tuple[np.ndarray, np.ndarray, None]:
        """Per row: whether the interval holds the truth, its width; no classes."""
        iv = self.predict(X)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(y) != len(iv):
            raise ValidationError(f"{self.name}: X has {len(iv)} rows but y has {len(y)}; "
                                  "pass one value per row.")
        return (iv[:, 0] <= y) & (y <= iv[:, 1]), iv[:, 1] - iv[:, 0], None
