"""Domain-classifier drift: can a model tell current rows from reference rows?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shakeout._validation import as_generator, check_open_interval, check_positive_int
from shakeout.data import is_numeric_column
from shakeout.drift._base import (DriftTest, check_thresholds, describe_test, judge_test,
                                  make_finding)
from shakeout.drift._columns import as_frame
from shakeout.errors import ValidationError
from shakeout.report.result import Finding
from shakeout.stats import effect_label


def _encode(frame: pd.DataFrame, categories: dict[str, pd.Index]) -> np.ndarray:
    """Numbers as they are (NaN kept), categories as reference codes (unseen: one more code)."""
    cols = []
    for c in frame.columns:
        if c in categories:
            codes = categories[c].get_indexer(frame[c].astype(str)).astype(np.float64)
            codes[codes < 0] = len(categories[c])
            codes[frame[c].isna().to_numpy()] = np.nan
            cols.append(codes)
        else:
            cols.append(frame[c].to_numpy(dtype=np.float64))
    return np.column_stack(cols)


def auc_interval(auc: float, n_pos: int, n_neg: int, level: float = 0.95) -> tuple[float, float]:
    """Hanley & McNeil (1982) normal interval for an AUC.

    >>> tuple(round(v, 3) for v in auc_interval(0.7, 500, 500))
    (0.668, 0.732)
    """
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2) + (n_neg - 1) * (q2 - auc ** 2)) / (
        n_pos * n_neg)
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * np.sqrt(max(var, 0.0))
    return (float(max(0.0, auc - half)), float(min(1.0, auc + half)))


class ClassifierTest(DriftTest):
    """Train a classifier to tell current from reference rows; its cross-validated AUC is the drift.

    Rows of both samples are pooled and labelled by origin; a gradient-boosted tree model
    (scikit-learn's ``HistGradientBoostingClassifier``, which takes NaN and categories) is
    trained in ``n_folds`` stratified folds, and every row gets an out-of-fold score. An AUC
    of 0.5 means the samples cannot be told apart. The p-value is the one-sided
    Mann-Whitney test that current rows score higher than reference rows (the AUC is the
    Mann-Whitney U divided by ``n_reference * n_current``); the interval is Hanley and
    McNeil's. Univariate tests of the same run say which features moved.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    n_folds : int, default=5
        Cross-validation folds; each side needs at least this many rows.
    max_rows : int or None, default=10_000
        Subsample each side to at most this many rows (seeded).
    effect_thresholds : (float, float, float), default=(0.55, 0.6, 0.7)
        AUC at which the effect is small, medium and large.
    max_iter : int, default=100
        Boosting iterations of the classifier.
    seed : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ClassifierTest
    >>> rng = np.random.default_rng(0)
    >>> f = ClassifierTest().fit(rng.normal(size=(400, 3))).compare(
    ...     rng.normal(size=(400, 3)) + [0.6, 0, 0])
    >>> round(f.value, 2), f.status
    (0.61, 'fail')
    """

    group = metric = "classifier"
    multivariate = True
    numeric = False

    def __init__(self, *, alpha: float = 0.05, n_folds: int = 5,
                 max_rows: int | None = 10_000,
                 effect_thresholds: tuple[float, float, float] = (0.55, 0.6, 0.7),
                 max_iter: int = 100, seed: Any = 0):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.n_folds = check_positive_int(self, "n_folds", n_folds, 2)
        self.max_rows = None if max_rows is None else check_positive_int(
            self, "max_rows", max_rows, 2)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)
        self.max_iter = check_positive_int(self, "max_iter", max_iter, 1)
        as_generator(seed)
        self.seed = seed

    def fit(self, reference: Any) -> "ClassifierTest":
        """Keep the reference rows and learn the category codes."""
        frame = as_frame(reference, role="reference")
        self.columns_ = list(frame.columns)
        self.categories_ = {c: pd.Index(sorted(frame[c].dropna().astype(str).unique()))
                            for c in frame.columns if not is_numeric_column(frame[c])}
        self.reference_ = frame
        self.fitted_ = True
        return self

    def _rows(self, frame: pd.DataFrame, rng: np.random.Generator, role: str) -> pd.DataFrame:
        if len(frame) < self.n_folds:
            raise ValidationError(
                f"ClassifierTest: {role} has {len(frame)} rows; {self.n_folds}-fold "
                f"cross-validation needs at least {self.n_folds}. Use a longer window."
            )
        if self.max_rows is not None and len(frame) > self.max_rows:
            frame = frame.iloc[np.sort(rng.choice(len(frame), self.max_rows, replace=False))]
        return frame

    def compare(self, current: Any) -> Finding:
        """Cross-validated AUC of the domain classifier and its p-value."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedKFold
        from threadpoolctl import threadpool_limits

        self._require_fit()
        frame = as_frame(current, role="current")
        absent = [c for c in self.columns_ if c not in frame.columns]
        if absent:
            raise ValidationError(f"ClassifierTest: current lacks columns {absent[:10]} that "
                                  "the reference has; pass data with the same columns.")
        rng = as_generator(self.seed)
        ref = self._rows(self.reference_, rng, "reference")
        cur = self._rows(frame[self.columns_], rng, "current")
        X = np.vstack([_encode(ref, self.categories_), _encode(cur, self.categories_)])
        y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
        mask = [c in self.categories_ for c in self.columns_]
        scores = np.empty(len(y))
        folds = StratifiedKFold(self.n_folds, shuffle=True,
                                random_state=int(rng.integers(2**31 - 1)))
        # One OpenMP thread: at these sizes threads cost more than they give, and they
        # collapse when the machine is busy.
        with threadpool_limits(1, user_api="openmp"):
            for train, test in folds.split(X, y):
                clf = HistGradientBoostingClassifier(
                    max_iter=self.max_iter, categorical_features=mask if any(mask) else None,
                    random_state=int(rng.integers(2**31 - 1)))
                clf.fit(X[train], y[train])
                scores[test] = clf.predict_proba(X[test])[:, 1]
        res = stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater")
        n_ref, n_cur = len(ref), len(cur)
        auc = float(res.statistic) / (n_ref * n_cur)
        p = float(res.pvalue)
        effect = effect_label(max(auc - 0.5, 0.0), [t - 0.5 for t in self.effect_thresholds])
        text = f"AUC={auc:.3f}"
        message = describe_test("Domain classifier", "", text, p, self.alpha, effect)
        details = {"test": "Domain classifier", "statistic_text": text, "n_reference": n_ref,
                   "n_current": n_cur, "n_folds": self.n_folds,
                   "bands": {"warn": self.effect_thresholds[0],
                             "fail": self.effect_thresholds[1]}}
        return make_finding(self, feature=None, value=auc, p_value=p, effect=effect,
                            ci=auc_interval(auc, n_cur, n_ref),
                            status=judge_test(p, self.alpha, effect), message=message,
                            details=details)

