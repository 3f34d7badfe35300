"""Domain-classifier drift: can a model tell current rows from reference rows?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shakeout._validation import as_generator, check_open_interval, check_positive_int
from shakeout.data import is_numeric_column
from shakeout.drift._base import (DriftTest, check_thresholds, describe_test, in_band,
                                  judge_test, make_finding)
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


def mann_whitney_auc(current_scores: np.ndarray, reference_scores: np.ndarray
                     ) -> tuple[float, float]:
    """AUC of scores that should rank current rows above reference rows, and its p-value.

    The AUC is the Mann-Whitney U over the product of the counts (ties count a half, as
    ``sklearn.metrics.roc_auc_score``); the p-value is scipy's one-sided Mann-Whitney test
    (1 when every score ties).

    >>> mann_whitney_auc(np.array([0.9, 0.8, 0.4]), np.array([0.1, 0.4, 0.3]))[0]
    0.9444444444444444
    """
    res = stats.mannwhitneyu(current_scores, reference_scores, alternative="greater")
    auc = float(res.statistic) / (len(current_scores) * len(reference_scores))
    return auc, (float(res.pvalue) if np.isfinite(res.pvalue) else 1.0)


def _hanley_mcneil_var(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley and McNeil's (1982) variance of an AUC estimate at true AUC ``auc``."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    return max((auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2)
                + (n_neg - 1) * (q2 - auc ** 2)) / (n_pos * n_neg), 0.0)


def auc_interval(auc: float, n_pos: int, n_neg: int, level: float = 0.95) -> tuple[float, float]:
    """Score-type interval for an AUC: every ``theta`` with ``|auc - theta| <= z se(theta)``.

    Hanley and McNeil's (1982) variance is evaluated at each candidate ``theta`` and the
    test inverted, as the Wilson interval inverts the binomial test (the score-type
    intervals Newcombe 2006 evaluates, Stat. Med. 25, 559-573). The Wald form ``auc +- z
    se(auc)`` shrinks when the estimate strays from 0.5 and covered 0.5 in only 90% of
    no-drift windows at 15 rows a side; at ``theta = 0.5`` this one is the two-sided
    Mann-Whitney test, so it covers 0.5 whenever that test does not reject.

    >>> tuple(round(v, 3) for v in auc_interval(0.7, 500, 500))
    (0.667, 0.731)
    """
    from scipy import optimize

    z = float(stats.norm.ppf(0.5 + level / 2))

    def gap(theta: float) -> float:
        return abs(auc - theta) - z * np.sqrt(_hanley_mcneil_var(theta, n_pos, n_neg))

    # inside the interval by construction, also at an AUC of exactly 0 or 1
    mid = float(np.clip(auc, 1e-12, 1 - 1e-12))
    lo = 0.0 if gap(0.0) <= 0 else optimize.brentq(gap, 0.0, mid)
    hi = 1.0 if gap(1.0) <= 0 else optimize.brentq(gap, mid, 1.0)
    return (float(lo), float(hi))


class ClassifierTest(DriftTest):
    """Train a classifier to tell current from reference rows; its held-out AUC is the drift.

    Rows of both samples are pooled and labelled by origin, and split at random, within
    each origin, into a training part and a held-out part (``test_fraction`` of each side).
    A gradient-boosted tree model (scikit-learn's ``HistGradientBoostingClassifier``, which
    takes NaN and categories) learns on the training part and scores the held-out rows. An
    AUC of 0.5 means the samples cannot be told apart. This is the classifier two-sample
    test of Lopez-Paz and Oquab (2017, "Revisiting classifier two-sample tests", ICLR):
    the model never saw the held-out rows, so under no drift their scores are exchangeable
    between the two origins, and the one-sided Mann-Whitney test that current rows score
    higher than reference rows (the AUC is the Mann-Whitney U divided by the product of the
    held-out counts) has its nominal level at every sample size. The interval inverts
    Hanley and McNeil's (1982) variance on the held-out scores (:func:`auc_interval`).

    Pooling out-of-fold scores of a cross-validation instead (as this test once did) is not
    valid: scores from different folds' models are not exchangeable, and a nominal 5% test
    rejected 13% of the time at 200 rows a side.

    Univariate tests of the same run say which features moved.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    test_fraction : float, default=0.5
        Share of each side's rows held out to test the classifier, in (0, 1); the rest
        trains it. Each side needs at least two rows.
    max_rows : int or None, default=10_000
        Subsample each side to at most this many rows (seeded).
    effect_thresholds : (float, float, float), default=(0.55, 0.6, 0.7)
        AUC at which the effect is small, medium and large.
    max_iter : int, default=100
        Boosting iterations of the classifier. Its leaves hold at least a tenth of the
        training rows, at most 20 (scikit-learn's default), so small windows still split.
    seed : int, Generator or None, default=0
        Seed of the subsample, the split and the classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ClassifierTest
    >>> rng = np.random.default_rng(0)
    >>> f = ClassifierTest().fit(rng.normal(size=(400, 3))).compare(
    ...     rng.normal(size=(400, 3)) + [0.6, 0, 0])
    >>> round(f.value, 2), f.status
    (0.59, 'warn')
    """

    group = metric = "classifier"
    multivariate = True
    numeric = False

    def __init__(self, *, alpha: float = 0.05, test_fraction: float = 0.5,
                 max_rows: int | None = 10_000,
                 effect_thresholds: tuple[float, float, float] = (0.55, 0.6, 0.7),
                 max_iter: int = 100, seed: Any = 0):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.test_fraction = check_open_interval(self, "test_fraction", test_fraction, 0, 1)
        self.max_rows = None if max_rows is None else check_positive_int(
            self, "max_rows", max_rows, 2)
        self.effect_thresholds = check_thresholds(self, "effect_thresholds", effect_thresholds)
        self.max_iter = check_positive_int(self, "max_iter", max_iter, 1)
        as_generator(seed, owner=self)
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
        if len(frame) < 2:
            raise ValidationError(
                f"ClassifierTest: {role} has {len(frame)} rows; the test needs at least 2 "
                "a side (one to train the classifier, one held out to test it). Use a "
                "longer window."
            )
        if self.max_rows is not None and len(frame) > self.max_rows:
            frame = frame.iloc[np.sort(rng.choice(len(frame), self.max_rows, replace=False))]
        return frame

    def _split(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Training and held-out positions of one side: at least one row in each."""
        n_test = int(min(n - 1, max(1, round(self.test_fraction * n))))
        order = rng.permutation(n)
        return np.sort(order[n_test:]), np.sort(order[:n_test])

    def compare(self, current: Any) -> Finding:
        """Held-out AUC of the domain classifier and its p-value."""
        from sklearn.ensemble import HistGradientBoostingClassifier
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
        n_ref, n_cur = len(ref), len(cur)
        y = np.r_[np.zeros(n_ref), np.ones(n_cur)]
        (ref_train, ref_test), (cur_train, cur_test) = (self._split(n_ref, rng),
                                                        self._split(n_cur, rng))
        train = np.r_[ref_train, cur_train + n_ref]
        test = np.r_[ref_test, cur_test + n_ref]
        mask = [c in self.categories_ for c in self.columns_]
        # One OpenMP thread: at these sizes threads cost more than they give, and they
        # collapse when the machine is busy.
        with threadpool_limits(1, user_api="openmp"):
            clf = HistGradientBoostingClassifier(
                max_iter=self.max_iter, categorical_features=mask if any(mask) else None,
                min_samples_leaf=int(np.clip(len(train) // 10, 1, 20)),
                random_state=int(rng.integers(2**31 - 1)))
            clf.fit(X[train], y[train])
            scores = clf.predict_proba(X[test])[:, 1]
        held = y[test]
        t_ref, t_cur = len(ref_test), len(cur_test)
        auc, p = mann_whitney_auc(scores[held == 1], scores[held == 0])
        effect = effect_label(max(auc - 0.5, 0.0), [t - 0.5 for t in self.effect_thresholds])
        text = f"AUC={in_band(auc, self.effect_thresholds)}"
        message = describe_test("Domain classifier", "", text, p, self.alpha, effect)
        details = {"test": "Domain classifier", "statistic_text": text, "n_reference": n_ref,
                   "n_current": n_cur, "n_test_reference": t_ref, "n_test_current": t_cur,
                   "p_method": "held-out Mann-Whitney (Lopez-Paz and Oquab 2017)",
                   "bands": {"warn": self.effect_thresholds[0],
                             "fail": self.effect_thresholds[1]}}
        return make_finding(self, feature=None, value=auc, p_value=p, effect=effect,
                            ci=auc_interval(auc, t_cur, t_ref),
                            status=judge_test(p, self.alpha, effect), message=message,
                            details=details)
