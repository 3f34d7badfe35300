"""Label-consistency scanners: out-of-fold probability of the given label, kNN label
disagreement, and confident learning's off-diagonal confident joint.

A flipped or poisoned label disagrees with what the rest of the data says about its row. The
out-of-fold scanners ask a model that never saw the row (``cross_val_predict``: each row is
predicted by the model fitted on the other folds); the kNN scanner asks the row's nearest
neighbours.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import as_generator, check_positive_int
from shakeout.errors import NotFittedError, ValidationError
from shakeout.poison.scanners import as_matrix, random_state


def label_codes(y: Any, n: int, *, owner: str, min_rows: int = 1) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """The distinct labels and each row's code ``0..k-1``, checked for a label scanner.

    Every class needs ``min_rows`` rows (the folds of cross-validation), and there must be
    two classes at least.

    >>> classes, codes = label_codes(["b", "a", "b"], 3, owner="s")
    >>> classes.tolist(), codes.tolist()
    (['a', 'b'], [1, 0, 1])
    >>> label_codes([1, 1, 1], 3, owner="KNNLabels")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: KNNLabels: the target has one class (1); a label scanner \
compares each row's label with what the other rows say, so it needs two classes at least. \
Check the target column, or leave out the label scanners.
    """
    if y is None:
        raise ValidationError(f"{owner}: needs the labels y (name the target column with "
                              "--target), or leave out the label scanners.")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValidationError(f"{owner}: y must hold one label per row ({n}), got shape "
                              f"{y.shape}.")
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValidationError(
            f"{owner}: the target has one class ({classes[0].item()!r}); a label scanner compares "
            "each row's label with what the other rows say, so it needs two classes at "
            "least. Check the target column, or leave out the label scanners.")
    if counts.min() < min_rows:
        rare = classes[np.argmin(counts)].item()
        raise ValidationError(
            f"{owner}: class {rare!r} has {counts.min()} rows, fewer than the {min_rows} "
            f"folds of cross-validation; lower cv, or drop that class.")
    return classes, codes.reshape(-1)


def default_estimator() -> Any:
    """Standardised logistic regression: what the out-of-fold scanners fit when given none."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _estimator(estimator: Any, model: Any) -> Any:
    """The estimator to cross-validate: the scanner's own, else the scan's model when it is
    scikit-learn-style (a wrapped one's estimator), else :func:`default_estimator`."""
    from shakeout.models.sklearn import SklearnModel

    if estimator is not None:
        return estimator
    if isinstance(model, SklearnModel):
        return model.estimator
    if hasattr(model, "fit") and hasattr(model, "predict_proba") and hasattr(model, "get_params"):
        return model
    return default_estimator()


def out_of_fold_proba(X: Any, codes: np.ndarray, *, estimator: Any, cv: int,
                      seed: Any) -> np.ndarray:
    """Class probabilities of each row from the model fitted on the other folds.

    scikit-learn's ``cross_val_predict(method="predict_proba")`` over a shuffled
    ``StratifiedKFold(cv)``; the estimator is cloned (a fitted one is refitted per fold).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> p = out_of_fold_proba(X, y, estimator=default_estimator(), cv=5, seed=0)
    >>> p.shape, round(float(p[np.arange(150), y].mean()), 3)
    ((150, 3), 0.872)
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state(seed, "cv"))
    try:
        return cross_val_predict(clone(estimator), X, codes, cv=folds, method="predict_proba")
    except (AttributeError, TypeError) as exc:
        raise ValidationError(
            f"out-of-fold probabilities need a scikit-learn-style classifier with fit and "
            f"predict_proba; {type(estimator).__name__} failed ({exc}).") from None


class _OutOfFold:
    """Shared by the scanners that read out-of-fold probabilities of the given labels."""

    needs: tuple[str, ...] = ("labels",)

    def __init__(self, *, estimator: Any = None, cv: int = 5, seed: Any = 0) -> None:
        self.estimator = estimator
        self.cv = check_positive_int(self, "cv", cv, 2)
        as_generator(seed, self)
        self.seed = seed

    def _proba(self, X: Any, y: Any, model: Any) -> np.ndarray:
        owner = type(self).__name__
        M, _ = as_matrix(X, owner=owner)
        self.classes_, self.codes_ = label_codes(y, len(M), owner=owner, min_rows=self.cv)
        self.proba_ = out_of_fold_proba(M, self.codes_, estimator=_estimator(self.estimator,
                                                                                model),
                                        cv=self.cv, seed=self.seed)
        return self.proba_

    def _given(self, index: int) -> str:
        if not hasattr(self, "proba_"):
            raise NotFittedError(f"{type(self).__name__}: call scores(X, y) before reasons().")
        p = self.proba_[index]
        given, likely = (self.classes_[i].item() for i in (self.codes_[index], np.argmax(p)))
        return (f"out-of-fold P(label {given!r}) = {p[self.codes_[index]]:.2f}, most likely "
                f"{likely!r}")


class OutOfFoldProbability(_OutOfFold):
    """One minus the out-of-fold predicted probability of the row's given label.

    A row whose label the model, fitted without it, finds unlikely is suspect: the
    self-confidence score of Northcutt, Jiang & Chuang (2021), "Confident Learning:
    Estimating Uncertainty in Dataset Labels", JAIR 70. The model is ``estimator`` (any
    scikit-learn-style classifier), else the scan's model when it is one, else a
    standardised logistic regression; probabilities come from ``cv``-fold cross-validation.
    Above ``threshold = 0.5`` (the given label is less likely than not) a row is flagged.

    Parameters
    ----------
    estimator : scikit-learn classifier, optional
        Cloned and fitted once per fold.
    cv : int, default=5
        Folds (stratified, shuffled with ``seed``).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> y_bad = y.copy(); y_bad[:10] = 1 - y_bad[:10]
    >>> scanner = OutOfFoldProbability(seed=0)
    >>> s = scanner.scores(X, y_bad)
    >>> int((np.argsort(-s)[:10] < 10).sum()), scanner.reasons(s, 0)
    (7, ['out-of-fold P(label 1) = 0.00, most likely 0'])
    """

    name = "oof_probability"
    threshold = 0.5

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        p = self._proba(X, y, model)
        return 1.0 - p[np.arange(len(p)), self.codes_]

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        return [self._given(index)]


def confident_joint(proba: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """The confident joint of given and latent labels, and the rows off its diagonal.

    Northcutt, Jiang & Chuang (2021), JAIR 70, eq. (1): the threshold of class ``j`` is the
    mean predicted probability of ``j`` over the rows labelled ``j`` (its average
    self-confidence); a row labelled ``i`` is counted in cell ``(i, j)`` where ``j`` is the
    most probable of the classes whose probability reaches their threshold; a row reaching
    no threshold is not counted. Rows counted off the diagonal (``j != i``) are the label
    issues of the paper's ``C_{ỹ,y*}`` method. Exactly the paper: no tolerance on the
    thresholds, no calibration of the counts.

    Returns
    -------
    joint : (k, k) int array
        ``joint[i, j]``: rows labelled ``i`` confidently of class ``j``.
    off_diagonal : (n,) bool array
    thresholds : (k,) float array

    Examples
    --------
    >>> proba = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.85, 0.15], [0.1, 0.9]])
    >>> joint, off, t = confident_joint(proba, np.array([0, 0, 1, 1, 1]))
    >>> t.round(3).tolist(), joint.tolist(), off.tolist()
    ([0.8, 0.617], [[1, 0], [1, 2]], [False, False, False, True, False])
    """
    k = proba.shape[1]
    thresholds = np.array([proba[codes == j, j].mean() for j in range(k)])
    confident = proba >= thresholds
    counted = confident.any(axis=1)
    latent = np.argmax(np.where(confident, proba, -np.inf), axis=1)
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (codes[counted], latent[counted]), 1)
    return joint, counted & (latent != codes), thresholds


def normalized_margin(proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``p(given) - max over other classes p(other)``, in [-1, 1]: the ranking of
    Northcutt et al. (2021), section 3.2 (the lower, the likelier a label issue).

    >>> normalized_margin(np.array([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4]]), np.array([0, 2])).round(3).tolist()
    [0.5, -0.1]
    """
    rows = np.arange(len(proba))
    given = proba[rows, codes]
    others = proba.copy()
    others[rows, codes] = -np.inf
    return given - others.max(axis=1)


class ConfidentLearning(_OutOfFold):
    """Confident learning's label issues: rows off the diagonal of the confident joint,
    ranked by normalized margin.

    Northcutt, Jiang & Chuang (2021), "Confident Learning: Estimating Uncertainty in Dataset
    Labels", JAIR 70: per-class thresholds are the mean self-confidence of each class, the
    confident joint counts each row in (given label, most probable confident class) and the
    off-diagonal rows are the issues (see :func:`confident_joint`), on out-of-fold
    probabilities as for :class:`OutOfFoldProbability`. The score puts every issue above
    every other row and, within each, the lower normalized margin ``m`` first:
    ``(1 - m) / 2`` plus 1 for an issue, so ``threshold = 1`` flags exactly the issues.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> y_bad = y.copy(); y_bad[:10] = 1 - y_bad[:10]
    >>> scanner = ConfidentLearning(seed=0)
    >>> s = scanner.scores(X, y_bad)
    >>> flagged = s > scanner.threshold
    >>> int(flagged.sum()), int(flagged[:10].sum()), scanner.joint_.tolist()
    (13, 8, [[148, 4], [9, 288]])
    """

    name = "confident_learning"
    threshold = 1.0

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        p = self._proba(X, y, model)
        self.joint_, issues, self.thresholds_ = confident_joint(p, self.codes_)
        return issues + (1.0 - normalized_margin(p, self.codes_)) / 2

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        words = self._given(index)
        return [f"off the confident joint's diagonal: {words}" if scores[index] > 1 else words]


class KNNLabels:
    """The share of a row's ``k`` nearest neighbours whose label differs from its own.

    The edited nearest-neighbour idea of Wilson (1972), "Asymptotic properties of nearest
    neighbor rules using edited data", IEEE Trans. SMC 2: a label the neighbourhood does not
    share is suspect. Neighbours are found by scikit-learn's ``NearestNeighbors`` on
    standardised features (each feature to mean 0, standard deviation 1), the row itself
    excluded; above ``threshold = 0.5`` (most neighbours disagree) a row is flagged.

    Parameters
    ----------
    k : int, default=10
        Neighbours asked.

    Examples
    --------
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] * 1e-3
    >>> y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    >>> knn = KNNLabels(k=3)
    >>> s = knn.scores(X, y)
    >>> s.round(2).tolist()[4:7], knn.reasons(s, 5)
    ([0.33, 1.0, 0.0], ['3 of 3 nearest neighbours labelled otherwise'])
    """

    name = "knn_labels"
    needs: tuple[str, ...] = ("labels",)
    threshold = 0.5

    def __init__(self, *, k: int = 10) -> None:
        self.k = check_positive_int(self, "k", k)

    def scores(self, X: Any, y: Any = None, model: Any = None) -> np.ndarray:
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import StandardScaler

        M, _ = as_matrix(X, owner="KNNLabels")
        _, codes = label_codes(y, len(M), owner="KNNLabels")
        if len(M) <= self.k:
            raise ValidationError(f"KNNLabels: needs more rows than k={self.k} neighbours, got "
                                  f"{len(M)}; lower k.")
        Z = StandardScaler().fit_transform(M)
        # Without a query, scikit-learn leaves each row out of its own neighbours (ties too).
        neighbours = NearestNeighbors(n_neighbors=self.k).fit(Z).kneighbors(
            return_distance=False)
        return (codes[neighbours] != codes[:, None]).mean(axis=1)

    def reasons(self, scores: np.ndarray, index: int) -> list[str]:
        return [f"{round(scores[index] * self.k)} of {self.k} nearest neighbours labelled "
                "otherwise"]


__all__ = ["ConfidentLearning", "KNNLabels", "OutOfFoldProbability", "confident_joint",
           "default_estimator", "label_codes", "normalized_margin", "out_of_fold_proba"]
