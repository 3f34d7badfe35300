"""The Scanner protocol and the tabular scanners: per-feature robust z-scores and Tukey fences,
robust Mahalanobis distance (minimum covariance determinant), isolation forest, local outlier
factor.

A scanner gives every training row a suspicion score, higher meaning more suspicious. The
multivariate scanners are scikit-learn's estimators; on a large table each fits on a seeded
subsample of at most ``max_fit_rows`` rows and then scores every row in batches of
``batch_size`` rows, so memory stays bounded by the subsample and one batch (beside the table
itself). With no more rows than ``max_fit_rows`` the scores are scikit-learn's, bit for bit.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from shakeout._validation import (as_finite_array, as_generator, check_number,
                                  check_positive_int)
from shakeout.errors import NotFittedError, ValidationError

BATCH_SIZE = 65_536
"""Rows scored per batch by the scanners that score in batches."""


@runtime_checkable
class Scanner(Protocol):
    """What every scanner provides (tabular, label and representation scanners alike).

    Attributes
    ----------
    name : str
        Its name in findings and the quarantine file (``"robust_z"``, ``"lof"``...).
    needs : tuple of str
        What it needs beside the rows: among ``"labels"``, ``"model"``, ``"representations"``.
    threshold : float or None
        The method's own rule: a score above it is flagged (None: the method has none).
    """

    name: str
    needs: tuple[str, ...]
    threshold: float | None

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        """One suspicion score per row, ``(n,)`` floats, never NaN."""

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        """Short words saying why row ``index`` scored as it did (for the quarantine file)."""


def as_matrix(X: Any, *, owner: str) -> tuple[np.ndarray, list[str]]:
    """Rows as a finite float matrix ``(n, p)`` and the feature names.

    A DataFrame's boolean columns count as 0/1; a text column is refused (encode it first);
    images ``(n, c, h, w)`` are flattened to one row each.

    >>> import pandas as pd
    >>> M, names = as_matrix(pd.DataFrame({"a": [1.0, 2.0], "b": [True, False]}), owner="s")
    >>> M.tolist(), names
    ([[1.0, 1.0], [2.0, 0.0]], ['a', 'b'])
    >>> as_matrix(pd.DataFrame({"a": [1.0], "c": ["x"]}), owner="RobustZScore")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: RobustZScore: column 'c' is not numeric; encode it \
(e.g. one-hot) or drop it before scanning.
    """
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        for column in X.columns:
            kind = X[column].dtype
            if not (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind)):
                raise ValidationError(f"{owner}: column {str(column)!r} is not numeric; encode "
                                      "it (e.g. one-hot) or drop it before scanning.")
        names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64)
    else:
        X = np.asarray(X)
        names = []
    M = as_finite_array(X, name=f"{owner}: X", ndim=None)
    M = M.reshape(len(M), -1) if M.ndim != 2 else M
    return M, names or [f"x{j}" for j in range(M.shape[1])]


def _spread(column: np.ndarray, centre: float, robust: float, per_sigma: float) -> float:
    """A feature's scale: ``robust`` (a MAD or IQR); where it is 0 (over half the values
    tie), the mean absolute deviation in the same units (``1.2533 * per_sigma`` times it: the
    normal law's ratios); 1 for a constant feature, whose deviations are all 0."""
    if robust > 0:
        return robust
    mean_ad = float(np.mean(np.abs(column - centre)))
    return 1.2533 * per_sigma * mean_ad if mean_ad > 0 else 1.0


class _PerFeature:
    """Per-feature scores: ``|deviation| / scale`` per cell, the row's worst feature wins."""

    needs: tuple[str, ...] = ()
    unit = ""

    def __init__(self, *, batch_size: int = BATCH_SIZE) -> None:
        self.batch_size = check_positive_int(self, "batch_size", batch_size)

    def _centre_scale(self, column: np.ndarray) -> tuple[float, float, float]:
        """(low, high, scale): the cell's score is ``max(low - x, x - high) / scale``."""
        raise NotImplementedError  # pragma: no cover - each scanner defines it

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        M, self.feature_names_ = as_matrix(X, owner=type(self).__name__)
        # One column at a time: the quantiles copy a column, never the table.
        bounds = np.array([self._centre_scale(M[:, j]) for j in range(M.shape[1])])
        low, high, scale = bounds.T
        out = np.empty(len(M))
        self.feature_ = np.empty(len(M), dtype=np.int64)
        for start in range(0, len(M), self.batch_size):
            rows = M[start:start + self.batch_size]
            cells = np.maximum(low - rows, rows - high) / scale
            self.feature_[start:start + len(rows)] = worst = np.argmax(cells, axis=1)
            out[start:start + len(rows)] = cells[np.arange(len(rows)), worst]
        return out

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        if not hasattr(self, "feature_"):
            raise NotFittedError(f"{type(self).__name__}: call scores(X) before reasons().")
        feature = self.feature_names_[int(self.feature_[index])]
        return [f"{feature} at {scores[index]:.1f} {self.unit}"]


class RobustZScore(_PerFeature):
    """Per-feature robust z-score: ``|x - median| / (1.4826 MAD)``, the row's largest.

    The modified z-score of Iglewicz & Hoaglin (1993), "How to Detect and Handle Outliers",
    ASQC Basic References in Quality Control 16: the median and the median absolute
    deviation (MAD) are not moved by the outliers they look for; ``1.4826 MAD`` estimates the
    standard deviation of a normal feature, and a row above ``threshold`` (3.5, their rule)
    on any feature is flagged. Where over half a feature's values tie (MAD 0) its scale is
    ``1.2533`` times its mean absolute deviation. Exact on every row (a column's median is
    linear time); scored in batches.

    Examples
    --------
    >>> X = np.c_[np.arange(10.0), np.r_[np.zeros(9), 50.0]]
    >>> scanner = RobustZScore()
    >>> z = scanner.scores(X)
    >>> int(np.argmax(z)), round(float(z.max()), 1), scanner.reasons(z, 9)
    (9, 8.0, ['x1 at 8.0 robust z'])
    """

    name = "robust_z"
    threshold = 3.5
    unit = "robust z"

    def _centre_scale(self, column: np.ndarray) -> tuple[float, float, float]:
        median = float(np.median(column))
        mad = 1.482602218505602 * float(np.median(np.abs(column - median)))
        scale = _spread(column, median, mad, 1.0)
        return median, median, scale


class TukeyIQR(_PerFeature):
    """Tukey's fences per feature: how many interquartile ranges a value lies beyond the box.

    Tukey (1977), "Exploratory Data Analysis", Addison-Wesley: a value outside
    ``[Q1 - k IQR, Q3 + k IQR]`` with ``k = 1.5`` is an outlier. The score of a row is the
    largest ``max(Q1 - x, x - Q3) / IQR`` over its features, so it is flagged exactly when
    some value lies outside the fences (score above ``threshold = k``); rows inside the box
    score below 0. Where a feature's IQR is 0 its scale is ``1.349 * 1.2533`` times its mean
    absolute deviation (an IQR's size for a normal feature).

    Parameters
    ----------
    k : float, default=1.5
        The fence, in interquartile ranges beyond the quartiles (3 is Tukey's "far out").

    Examples
    --------
    >>> X = np.c_[np.arange(10.0), np.r_[np.arange(9.0), 30.0]]
    >>> scanner = TukeyIQR()
    >>> s = scanner.scores(X)
    >>> bool(s[9] > scanner.threshold), scanner.reasons(s, 9)
    (True, ['x1 at 5.2 IQR beyond the quartiles'])
    """

    name = "iqr"
    unit = "IQR beyond the quartiles"

    def __init__(self, *, k: float = 1.5, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(batch_size=batch_size)
        self.k = check_number(self, "k", k, 0, None, low_open=True)

    @property
    def threshold(self) -> float:
        return self.k

    def _centre_scale(self, column: np.ndarray) -> tuple[float, float, float]:
        q1, median, q3 = (float(v) for v in np.percentile(column, [25, 50, 75]))
        return q1, q3, _spread(column, median, q3 - q1, 1.349)


def fit_rows(n: int, max_fit_rows: int, rng: np.random.Generator) -> np.ndarray | None:
    """The rows a detector fits on: None (all) when ``n <= max_fit_rows``, else a seeded
    sorted subsample of ``max_fit_rows`` rows.

    >>> fit_rows(10, 20, np.random.default_rng(0)) is None
    True
    >>> fit_rows(10, 3, np.random.default_rng(0)).tolist()
    [5, 6, 9]
    """
    if n <= max_fit_rows:
        return None
    return np.sort(rng.choice(n, size=max_fit_rows, replace=False))


def random_state(seed: Any, owner: Any) -> int:
    """scikit-learn's ``random_state`` for ``seed``: an int seed as it is, else a draw from
    the generator (None: fresh entropy).

    >>> random_state(7, "x"), random_state(np.random.default_rng(0), "x")
    (7, 1826701614)
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    return int(as_generator(seed, owner).integers(2**31 - 1))


def batched(score: Any, M: np.ndarray, batch_size: int) -> np.ndarray:
    """``score(rows)`` over ``M`` in batches of ``batch_size`` rows, concatenated."""
    return np.concatenate([np.asarray(score(M[i:i + batch_size]), dtype=np.float64)
                           for i in range(0, len(M), batch_size)])


class _Detector:
    """A scikit-learn detector fitted on (a subsample of) the rows, scoring every row."""

    needs: tuple[str, ...] = ()
    label = ""

    def __init__(self, *, max_fit_rows: int, batch_size: int, seed: Any) -> None:
        self.max_fit_rows = check_positive_int(self, "max_fit_rows", max_fit_rows, 2)
        self.batch_size = check_positive_int(self, "batch_size", batch_size)
        as_generator(seed, self)
        self.seed = seed

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        M, _ = as_matrix(X, owner=type(self).__name__)
        if len(M) < 2:
            raise ValidationError(f"{type(self).__name__}: needs at least 2 rows to compare "
                                  f"rows with each other, got {len(M)}.")
        rows = fit_rows(len(M), self.max_fit_rows, as_generator(self.seed))
        return self._score(M, rows, random_state(self.seed, self))

    def _score(self, M: np.ndarray, rows: np.ndarray | None, state: int) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - each detector defines it

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        return [f"{self.label} {scores[index]:.3g}"]


class RobustMahalanobis(_Detector):
    """Squared Mahalanobis distance from the minimum covariance determinant estimate.

    Rousseeuw (1984), "Least median of squares regression", JASA 79; the FAST-MCD algorithm
    of Rousseeuw & Van Driessen (1999), Technometrics 41, as scikit-learn's ``MinCovDet``
    implements it: location and scatter from the half of the rows with the smallest
    covariance determinant, so a cluster of poisoned rows does not pull the estimate toward
    itself. A row whose squared distance exceeds the chi-square 97.5% quantile with ``p``
    degrees of freedom (``threshold``, set when scoring) is flagged, the reweighting rule of
    FAST-MCD. Fits on at most ``max_fit_rows`` rows (FAST-MCD's cost grows with them).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(200, 3)), [[6.0, 6.0, 6.0]]]
    >>> scanner = RobustMahalanobis(seed=0)
    >>> d2 = scanner.scores(X)
    >>> int(np.argmax(d2)), bool(d2[200] > scanner.threshold), round(scanner.threshold, 2)
    (200, True, 9.35)
    """

    name = "mahalanobis_mcd"
    label = "robust squared Mahalanobis distance"
    threshold: float | None = None

    def __init__(self, *, max_fit_rows: int = 20_000, batch_size: int = BATCH_SIZE,
                 seed: Any = 0) -> None:
        super().__init__(max_fit_rows=max_fit_rows, batch_size=batch_size, seed=seed)

    def _score(self, M: np.ndarray, rows: np.ndarray | None, state: int) -> np.ndarray:
        from scipy.stats import chi2
        from sklearn.covariance import MinCovDet

        fit = M if rows is None else M[rows]
        if len(fit) <= M.shape[1]:
            raise ValidationError(f"RobustMahalanobis: needs more rows than features, got "
                                  f"{len(fit)} rows and {M.shape[1]} features; scan more rows "
                                  "or leave out mahalanobis_mcd.")
        self.estimator_ = MinCovDet(random_state=state).fit(fit)
        self.threshold = float(chi2.ppf(0.975, M.shape[1]))
        return batched(self.estimator_.mahalanobis, M, self.batch_size)


class IsolationForestScanner(_Detector):
    """Isolation forest's anomaly score ``s(x) = 2^(-E h(x) / c(psi))``, in (0, 1].

    Liu, Ting & Zhou (2008), "Isolation Forest", ICDM: an outlier is isolated by few random
    splits. The score is minus scikit-learn's ``IsolationForest.score_samples``; above
    ``threshold = 0.5`` a row is flagged (the paper's rule, scikit-learn's
    ``contamination="auto"``). The forest fits on at most ``max_fit_rows`` rows (each tree
    draws 256 of them, as in the paper) and scores every row in batches.

    Parameters
    ----------
    n_estimators : int, default=100
        Trees in the forest.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(300, 2)), [[5.0, -5.0]]]
    >>> s = IsolationForestScanner(seed=0).scores(X)
    >>> int(np.argmax(s)), bool(s[300] > 0.5)
    (300, True)
    """

    name = "isolation_forest"
    label = "isolation forest score"
    threshold = 0.5

    def __init__(self, *, n_estimators: int = 100, max_fit_rows: int = 100_000,
                 batch_size: int = BATCH_SIZE, seed: Any = 0) -> None:
        super().__init__(max_fit_rows=max_fit_rows, batch_size=batch_size, seed=seed)
        self.n_estimators = check_positive_int(self, "n_estimators", n_estimators)

    def _score(self, M: np.ndarray, rows: np.ndarray | None, state: int) -> np.ndarray:
        from sklearn.ensemble import IsolationForest

        self.estimator_ = IsolationForest(n_estimators=self.n_estimators, random_state=state)
        self.estimator_.fit(M if rows is None else M[rows])
        return -batched(self.estimator_.score_samples, M, self.batch_size)


class LOFScanner(_Detector):
    """Local outlier factor: a row's local density relative to its neighbours'.

    Breunig, Kriegel, Ng & Sander (2000), "LOF: identifying density-based local outliers",
    SIGMOD. The score is scikit-learn's LOF (minus its ``negative_outlier_factor_``), about
    1 inside a cluster; above ``threshold = 1.5`` a row is flagged (scikit-learn's
    ``contamination="auto"`` offset). With more than ``max_fit_rows`` rows, LOF is fitted on
    a seeded subsample (``novelty=True``): those rows keep their own LOF, every other row is
    scored against them in batches; a neighbour search costs ``max_fit_rows`` distances per
    row, hence the small default.

    Parameters
    ----------
    n_neighbors : int, default=20
        Neighbours defining the locality (Breunig et al. suggest 10 to 50).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(300, 2)), [[4.0, 4.0]]]
    >>> lof = LOFScanner().scores(X)
    >>> int(np.argmax(lof)), bool(lof[300] > 1.5)
    (300, True)
    """

    name = "lof"
    label = "local outlier factor"
    threshold = 1.5

    def __init__(self, *, n_neighbors: int = 20, max_fit_rows: int = 10_000,
                 batch_size: int = BATCH_SIZE, seed: Any = 0) -> None:
        super().__init__(max_fit_rows=max_fit_rows, batch_size=batch_size, seed=seed)
        self.n_neighbors = check_positive_int(self, "n_neighbors", n_neighbors)

    def _score(self, M: np.ndarray, rows: np.ndarray | None, state: int) -> np.ndarray:
        from sklearn.neighbors import LocalOutlierFactor

        fit = M if rows is None else M[rows]
        k = min(self.n_neighbors, len(fit) - 1)
        self.estimator_ = LocalOutlierFactor(n_neighbors=k, novelty=rows is not None).fit(fit)
        if rows is None:
            return -self.estimator_.negative_outlier_factor_.astype(np.float64)
        out = -batched(self.estimator_.score_samples, M, self.batch_size)
        out[rows] = -self.estimator_.negative_outlier_factor_
        return out


__all__ = ["BATCH_SIZE", "IsolationForestScanner", "LOFScanner", "RobustMahalanobis",
           "RobustZScore", "Scanner", "TukeyIQR", "as_matrix", "batched", "fit_rows",
           "random_state"]
