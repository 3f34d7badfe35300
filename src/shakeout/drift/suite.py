"""DriftSuite: every test on every column, fitted once on the reference, run on each window.

``fit`` does the reference work once (sorting, bin edges, categories, the model's outputs,
feature importance); ``run`` compares one current sample and returns a Result whose
findings end with the decision. Columns are tested in parallel threads.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shakeout._cores import cores
from shakeout._validation import (as_generator, check_choice, check_open_interval,
                                  check_positive_int)
from shakeout.data import is_numeric_column
from shakeout.drift._base import DRILL, DriftTest, adjust_tests
from shakeout.drift._columns import as_frame, as_numbers, category_strings, holds_times
from shakeout.drift._matrix import complete_rows
from shakeout.drift._model import concept_findings, model_columns, outputs_or_reason
from shakeout.drift.anderson import ADTest
from shakeout.drift.chi2 import Chi2Test
from shakeout.drift.classifier import ClassifierTest
from shakeout.drift.decision import DecisionPolicy, conclude
from shakeout.drift.js import JSDivergence
from shakeout.drift.kl import KLDivergence
from shakeout.drift.ks import KSTest
from shakeout.drift.mmd import MMDTest
from shakeout.drift.projection import ProjectionTest
from shakeout.drift.psi import PSI
from shakeout.drift.units import UnitChange
from shakeout.drift.wasserstein import Wasserstein
from shakeout.errors import ShakeoutError, ValidationError
from shakeout.fingerprint import fingerprint
from shakeout.report.findings import error_finding, finding_name
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import METHODS as CORRECTIONS

UNIVARIATE = {"psi": PSI, "ks": KSTest, "kl": KLDivergence, "js": JSDivergence,
              "wasserstein": Wasserstein, "anderson": ADTest, "chi2": Chi2Test}
CATEGORICAL = ("psi", "kl", "js", "chi2")
MULTIVARIATE = {"mmd": MMDTest, "classifier": ClassifierTest, "projection": ProjectionTest}


def _check_names(owner: Any, name: str, values: Any, allowed: Any) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    for v in values:
        check_choice(owner, name, v, tuple(allowed))
    return values


class DriftSuite:
    """Univariate tests per column, multivariate tests, output, label and performance drift.

    Parameters
    ----------
    tests : sequence of str, default=("psi", "ks", "kl")
        Tests for numeric columns: ``psi``, ``ks``, ``kl``, ``js``, ``wasserstein``,
        ``anderson``, ``chi2``. Every numeric feature is also checked for a unit change
        (:class:`~shakeout.drift.UnitChange`, group ``units``), whatever the tests.
    categorical_tests : sequence of str, default=("psi", "chi2")
        Tests for categorical columns: ``psi``, ``kl``, ``js``, ``chi2``.
    multivariate : sequence of str, default=("mmd",)
        ``mmd``, ``classifier`` and ``projection`` over all numeric columns at once.
    alpha : float, default=0.05
        Significance level of every hypothesis test.
    correction : {"holm", "bonferroni", "bh", "none"}, default="holm"
        Multiple-testing correction of each test's p-values across features.
    n_bins, binning, smoothing
        Binning of PSI, KL, JS and chi-square on numeric columns.
    n_permutations : int, default=100
        Permutations of the MMD test.
    max_rows : int, default=2000
        Rows per side for multivariate tests (seeded subsample).
    categorical : sequence of str or None
        Columns to treat as categories even when numeric (codes, ids).
    importance : mapping or None
        Feature importance; taken from the model (or by permutation) when None.
    policy : DecisionPolicy or None
        Thresholds of the retraining decision.
    n_jobs : int or None
        Threads for per-column tests (None: up to 4, at most the CPU count).
    conformal_alpha : float or None
        With a model and a ``holdout``, calibrate split-conformal sets (LAC) or intervals
        (absolute residual) at this miscoverage on the holdout, and report their coverage and
        size on every labelled current window (group ``conformal``): a coverage the
        exchangeability test finds below ``1 - conformal_alpha`` means the window's rows are
        no longer exchangeable with the holdout, a drift alert of the decision.
    seed : int or None, default=0

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from shakeout.drift import DriftSuite
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.choice(["x", "y"], 2000)})
    >>> cur = pd.DataFrame({"a": rng.normal(0.5, 1, 2000), "b": rng.choice(["x", "y"], 2000)})
    >>> result = DriftSuite(multivariate=()).fit(ref).run(cur)
    >>> [(f.group, f.feature, f.status) for f in result.select(group="psi")]
    [('psi', 'a', 'fail'), ('psi', 'b', 'pass')]
    >>> result.select(metric="decision")[0].details["action"]
    'retrain now'
    """

    def __init__(self, *, tests: Any = ("psi", "ks", "kl"),
                 categorical_tests: Any = ("psi", "chi2"), multivariate: Any = ("mmd",),
                 alpha: float = 0.05, correction: str = "holm",
                 n_bins: int = 10, binning: str = "quantile", smoothing: float = 1e-8,
                 n_permutations: int = 100, max_rows: int = 2000, categorical: Any = None,
                 importance: Any = None, policy: DecisionPolicy | None = None,
                 n_jobs: int | None = None, conformal_alpha: float | None = None,
                 seed: Any = 0):
        self.tests = _check_names(self, "tests", tests, UNIVARIATE)
        self.categorical_tests = _check_names(self, "categorical_tests", categorical_tests,
                                              CATEGORICAL)
        self.multivariate = _check_names(self, "multivariate", multivariate, MULTIVARIATE)
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.correction = check_choice(self, "correction", correction, CORRECTIONS)
        self.n_bins = check_positive_int(self, "n_bins", n_bins, 2)
        self.binning = binning
        self.smoothing = smoothing
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        self.max_rows = check_positive_int(self, "max_rows", max_rows, 2)
        self.categorical = tuple(categorical or ())
        self.importance = dict(importance) if importance is not None else None
        self.policy = policy or DecisionPolicy()
        self.n_jobs = n_jobs if n_jobs is None else check_positive_int(self, "n_jobs", n_jobs, 1)
        self.conformal_alpha = (None if conformal_alpha is None else
                                check_open_interval(self, "conformal_alpha", conformal_alpha, 0, 1))
        as_generator(seed, owner=self)
        self.seed = seed
        self._make("psi", numeric=True)  # validate the shared binning parameters now

    def _make(self, name: str, *, numeric: bool) -> DriftTest:
        if name == "units":
            return UnitChange()
        cls = {**UNIVARIATE, **MULTIVARIATE}[name]
        kind = "numeric" if numeric else "categorical"
        seed = self._child_seed()
        binned = dict(n_bins=self.n_bins, binning=self.binning, kind=kind, seed=seed)
        if name == "psi":
            return cls(smoothing=self.smoothing, **binned)
        if name == "kl":
            return cls(smoothing=self.smoothing, alpha=self.alpha, **binned)
        if name in ("js", "chi2"):
            return cls(alpha=self.alpha, **binned)
        if name == "projection":
            return cls(alpha=self.alpha)
        if name in ("ks", "anderson", "wasserstein"):  # their permutations only on ties
            return cls(alpha=self.alpha, seed=seed)
        if name == "mmd":
            return cls(alpha=self.alpha, n_permutations=self.n_permutations,
                       max_rows=self.max_rows, seed=self.seed)
        return cls(alpha=self.alpha, max_rows=self.max_rows, seed=self.seed)

    def _child_seed(self) -> Any:
        """The suite's seed, or a fresh one drawn from its generator: one stream per test,
        so threads never share a generator."""
        if isinstance(self.seed, np.random.Generator):
            return int(self.seed.integers(2**32))
        return self.seed

    @property
    def _workers(self) -> int:
        return self.n_jobs or min(4, cores())

    # -- fit ---------------------------------------------------------------------------
    def _fit_columns(self, frame: pd.DataFrame, *, units: bool = False) -> tuple[dict, dict]:
        """Fit every applicable univariate test on every column; errors are kept, not raised.

        ``units`` adds the unit-change check to every numeric column (features only: a
        probability or a label has no unit to change).
        """
        jobs = []
        for col in frame.columns:
            numeric = is_numeric_column(frame[col]) and col not in self.categorical
            names = self.tests if numeric else self.categorical_tests
            names = (*names, "units") if units and numeric else names
            for name in names:
                jobs.append((col, name, self._make(name, numeric=numeric)))

        def fit(job):
            col, name, test = job
            try:
                return test.fit(frame[col]), None
            except ShakeoutError as exc:
                return None, str(exc)

        with ThreadPoolExecutor(self._workers) as pool:
            results = list(pool.map(fit, jobs))
        tests = {(c, n): t for (c, n, _), (t, _) in zip(jobs, results) if t is not None}
        errors = {(c, n): e for (c, n, _), (_, e) in zip(jobs, results) if e is not None}
        return tests, errors

    def fit(self, reference: Any, *, y: Any = None, model: Any = None,
            holdout: tuple[Any, Any] | None = None) -> "DriftSuite":
        """Learn everything the comparisons need from the reference (and model, labels).

        ``holdout`` is ``(X, y)``: labelled rows the model did not train on, whose score is
        the performance baseline (and where ``conformal_alpha`` calibrates). Without it the
        baseline is the model's score on the labelled reference, which is optimistic when the
        reference is its training data.
        """
        from shakeout.drift.importance import feature_importance
        from shakeout.drift.performance import score
        from shakeout.models import wrap

        start = time.perf_counter()
        frame = as_frame(reference, role="reference")
        y = _labels(y, len(frame), "y_reference", complete=True)
        # Dates and times move by themselves: comparing them says nothing about drift.
        self.times_ = [c for c in frame.columns if holds_times(frame[c])]
        frame = frame.drop(columns=self.times_)
        if frame.shape[1] == 0:
            raise ValidationError(f"the reference holds only dates or times {self.times_[:10]}; "
                                  "pass the feature columns too.")
        if len(frame) < self.policy.min_rows:
            raise ValidationError(
                f"DriftSuite: the reference has {len(frame)} rows, fewer than the "
                f"{self.policy.min_rows} any drift test needs (policy.min_rows); no test can "
                "tell drift from chance on so few. Pass a reference of at least "
                f"{self.policy.min_rows} rows (hundreds for small shifts)."
            )
        self.columns_ = list(frame.columns)
        for name, given in (("categorical", self.categorical), ("importance", self.importance)):
            unknown = [c for c in given or () if c not in self.columns_]
            if unknown:
                raise ValidationError(
                    f"DriftSuite: {name} names columns the reference lacks: {unknown[:10]}; "
                    f"its columns are {self.columns_[:20]}. Fix the names (they are "
                    "case-sensitive)."
                )
        self.tests_, self.fit_errors_ = self._fit_columns(frame, units=True)
        numeric = [c for c in self.columns_
                   if is_numeric_column(frame[c]) and c not in self.categorical]
        self.numeric_ = numeric
        self.multivariate_ = {}
        for name in self.multivariate:
            if not numeric:
                self.fit_errors_[("", name)] = f"{name}: the reference has no numeric column."
                continue
            try:
                complete, self.reference_left_out_ = complete_rows(frame, numeric, "reference")
                self.multivariate_[name] = self._make(name, numeric=True).fit(complete)
            except ShakeoutError as exc:
                self.fit_errors_[("", name)] = f"{name}: {exc}"
        self.model_ = None if model is None else wrap(model)
        self.output_tests_, self.label_tests_ = {}, {}
        if self.model_ is not None:
            self.model_columns_ = model_columns(self.model_, frame)
            model_frame = frame[self.model_columns_]
            outputs, reason = outputs_or_reason(self.model_, model_frame)
            if reason is not None:
                raise ValidationError(
                    f"the model cannot predict on the reference: {reason}. Pass the columns "
                    "the model was trained on (name the target with --target), imputed if "
                    "the model does not take NaN."
                )
            self.output_tests_, errors = self._fit_columns(outputs)
            self.fit_errors_.update({(f"output:{c}", n): e for (c, n), e in errors.items()})
        if y is not None:
            task = None if self.model_ is None else self.model_.task
            self.labels_categorical_ = task == "classification" or (
                task is None and not (np.issubdtype(y.dtype, np.floating)
                                      and len(np.unique(y)) > 20))
            self.label_tests_, errors = self._fit_columns(self._label_frame(y))
            self.fit_errors_.update({(f"label:{c}", n): e for (c, n), e in errors.items()})
        self.reference_score_, self.baseline_, self.conformal_ = None, None, None
        if self.model_ is not None and holdout is not None:
            X_holdout, y_holdout = self._holdout(holdout)
            self.reference_score_ = score(self.model_, X_holdout, y_holdout)
            self.baseline_ = "holdout"
            self.conformal_ = self._calibrate(X_holdout, y_holdout)
        elif self.conformal_alpha is not None:
            raise ValidationError(
                "DriftSuite: conformal_alpha calibrates conformal sets on labelled rows the "
                "model did not train on: pass model= and holdout=(X, y) to fit (from the CLI: "
                "--model, --target and --holdout).")
        elif self.model_ is not None and y is not None:
            self.reference_score_ = score(self.model_, model_frame, y)
            self.baseline_ = "reference"
        self.importance_ = self.importance
        if self.importance_ is None and self.model_ is not None:
            self.importance_ = feature_importance(self.model_, model_frame, y, seed=self.seed)
        self.n_reference_ = len(frame)
        self.fit_seconds_ = time.perf_counter() - start
        self.fitted_ = True
        return self

    def _holdout(self, holdout: Any) -> tuple[pd.DataFrame, np.ndarray]:
        """Held-out labelled rows, the model's columns of them and their labels."""
        try:
            X, y = holdout
        except (TypeError, ValueError):
            raise ValidationError(
                "holdout must be a pair (X, y) of held-out labelled rows.") from None
        frame = as_frame(X, role="holdout")
        y = _labels(y, len(frame), "y_holdout", complete=True)
        absent = [c for c in self.model_columns_ if c not in frame.columns]
        if absent:
            raise ValidationError(f"holdout lacks the model's columns {absent[:10]}.")
        return frame[self.model_columns_], y

    def _calibrate(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        """A split-conformal predictor at ``conformal_alpha`` calibrated on the holdout."""
        if self.conformal_alpha is None:
            return None
        from shakeout.uncertainty.conformal import ConformalClassifier, ConformalRegressor

        kind = ConformalClassifier if self.model_.task == "classification" else ConformalRegressor
        return kind(self.model_, alpha=self.conformal_alpha).fit(X, y)

    def _label_frame(self, y: np.ndarray) -> pd.DataFrame:
        """Labels as one column: class labels as categories, regression targets as numbers.

        Class labels are compared as text, with ``1.0`` read as ``1`` (labels become floats
        when a window has unlabelled rows).
        """
        if self.labels_categorical_:
            return pd.DataFrame({"label": category_strings(y, owner="labels", role="y")[0]})
        return pd.DataFrame({"label": np.asarray(y, dtype=np.float64)})

    # -- run ---------------------------------------------------------------------------
    def _compare_columns(self, tests: dict, frame: pd.DataFrame) -> list[Finding]:
        def compare(item):
            (col, name), test = item
            try:
                return test.compare(frame[col])
            except ShakeoutError as exc:
                return error_finding(DRILL, name, col, str(exc))

        with ThreadPoolExecutor(self._workers) as pool:
            findings = list(pool.map(compare, tests.items()))
        return adjust_tests(findings, self.correction, self.alpha)

    def _schema(self, frame: pd.DataFrame) -> list[Finding]:
        missing = [c for c in self.columns_ if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns_ and c not in self.times_]
        if len(missing) == len(self.columns_):
            raise ValidationError(
                f"current shares no column with the reference: reference has "
                f"{self.columns_[:10]}, current has {list(frame.columns)[:10]}."
            )
        out = []
        if self.times_:
            out.append(_schema_finding("times", "time_columns", self.times_, "info",
                                       f"Columns {self.times_[:10]} hold dates or times; they "
                                       "were not tested, as time moves by itself."))
        if missing:
            out.append(_schema_finding("missing", "missing_columns", missing, "fail",
                                       f"Current lacks {len(missing)} reference columns: "
                                       f"{missing[:10]}; they were not tested."))
        if extra:
            out.append(_schema_finding("extra", "extra_columns", extra, "warn",
                                       f"Current has {len(extra)} columns absent from the "
                                       f"reference: {extra[:10]}; they were not tested."))
        return out

    def _numbers(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns numeric in the reference, as numbers; text where numbers belong is an error.

        A column that arrives as ``object`` (all missing, booleans, numbers as text) is
        converted; a value that is not a number stops the run with the column named.
        """
        converted = {}
        for col in self.numeric_:
            if col not in frame.columns or is_numeric_column(frame[col]):
                continue
            converted[col] = as_numbers(
                frame[col], where=f"current column {col!r}",
                hint="fix the data upstream, or list the column under categorical to compare "
                     "it as categories")
        return frame.assign(**converted) if converted else frame

    def _multivariate(self, frame: pd.DataFrame) -> list[Finding]:
        """The multivariate tests on the complete numeric rows; rows left out are counted."""
        findings = []
        for name, test in self.multivariate_.items():
            try:
                cur, dropped = complete_rows(frame, self.numeric_, "current")
                found = test.compare(cur)
            except ShakeoutError as exc:
                findings.append(error_finding(DRILL, name, None, f"{name}: {exc}"))
                continue
            if dropped or self.reference_left_out_:
                found = replace(found, message=found.message + (
                    f" Rows with NaN were left out of this test: {self.reference_left_out_} "
                    f"reference, {dropped} current."),
                    details=dict(found.details, rows_left_out=dropped,
                                 reference_rows_left_out=self.reference_left_out_))
            findings.append(found)
        return findings

    def _model_side(self, frame: pd.DataFrame, y: np.ndarray | None,
                    labelled: np.ndarray | None) -> list[Finding]:
        """Output drift, then performance and concept drift on the labelled rows."""
        from shakeout.drift.performance import performance_findings, score

        if self.model_ is None:
            return []
        absent = [c for c in self.model_columns_ if c not in frame.columns]
        if absent:
            problem = f"current lacks the model's columns {absent[:10]}"
        else:
            X = frame[self.model_columns_]
            outputs, reason = outputs_or_reason(self.model_, X)
            problem = None if reason is None else f"the model cannot predict on current: {reason}"
        if problem:
            return [error_finding(DRILL, "output", None, f"{problem}; model outputs and "
                                  "performance were not tested.")]
        findings = _regroup(self._compare_columns(self.output_tests_, outputs), "output")
        if y is not None and self.reference_score_ is not None:
            current = score(self.model_, X if labelled is None else X[labelled], y)
            findings += performance_findings(self.reference_score_, current,
                                             max_degradation=self.policy.max_degradation,
                                             baseline=self.baseline_)
            findings += concept_findings(current, seed=self._child_seed())
        if y is not None and self.conformal_ is not None:
            findings += self._coverage(X if labelled is None else X[labelled], y)
        return findings

    def _coverage(self, X: pd.DataFrame, y: np.ndarray) -> list[Finding]:
        """Coverage and size of the holdout-calibrated conformal sets on labelled rows."""
        from shakeout.uncertainty.conformal import coverage_findings

        found = coverage_findings(self.conformal_, X, y, level=1 - self.alpha)[:2]
        return [replace(f, name=finding_name(DRILL, "conformal", f.metric), drill=DRILL,
                        message=f"Conformal {f.metric.replace('_', ' ')} on the window's "
                                f"labelled rows, calibrated on the holdout: {f.message}")
                for f in found]

    def run(self, current: Any, *, y: Any = None, window: str | None = None) -> Result:
        """Compare ``current`` (and its labels ``y``) with the reference: a Result."""
        if not getattr(self, "fitted_", False):
            from shakeout.errors import NotFittedError

            raise NotFittedError(
                "DriftSuite is not fitted: call fit(reference) before run(current).")
        start = time.perf_counter()
        frame = self._numbers(as_frame(current, role="current"))
        y, labelled, findings = _labelled_rows(_labels(y, len(frame), "y_current"))
        findings = self._schema(frame) + findings
        present = {k: t for k, t in self.tests_.items() if k[0] in frame.columns}
        findings += self._compare_columns(present, frame)
        findings += [error_finding(DRILL, n, c or None, e)
                     for (c, n), e in self.fit_errors_.items()
                     if c in frame.columns or c == "" or ":" in c]
        findings += self._multivariate(frame)
        findings += self._model_side(frame, y, labelled)
        if y is not None and self.label_tests_:
            findings += _regroup(self._compare_columns(self.label_tests_,
                                                       self._label_frame(y)), "label")
        findings = conclude(findings, policy=self.policy, importance=self.importance_,
                            n_rows=len(frame), window=window)
        seconds = time.perf_counter() - start
        manifest = Manifest.collect(
            seed=self.seed if isinstance(self.seed, int) else None,
            model=None if self.model_ is None else self.model_.name,
            model_fingerprint=None if self.model_ is None else self.model_.fingerprint(),
            data="current", data_fingerprint=fingerprint(frame), n_rows=len(frame),
            timings={"fit": self.fit_seconds_, "compare": seconds},
            parameters={"tests": self.tests, "categorical_tests": self.categorical_tests,
                        "multivariate": self.multivariate, "alpha": self.alpha,
                        "correction": self.correction, "n_bins": self.n_bins,
                        "binning": self.binning, "smoothing": self.smoothing,
                        "n_permutations": self.n_permutations, "max_rows": self.max_rows,
                        "n_reference": self.n_reference_, "window": window,
                        "conformal_alpha": self.conformal_alpha,
                        "importance": self.importance_, "policy": self.policy.model_dump()})
        title = f"Drift: {len(self.columns_)} features" + (f", window {window}" if window else "")
        return Result(title=title, findings=tuple(findings), manifest=manifest)


def _labels(y: Any, n: int, role: str, *, complete: bool = False) -> np.ndarray | None:
    """One label per row; ``complete`` labels (reference, holdout) may not be missing."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValidationError(f"{role} must have one label per row: {n} rows, got shape {y.shape}.")
    if complete and pd.isna(y).any():
        raise ValidationError(f"{role} has {int(pd.isna(y).sum())} missing labels; drop those "
                              "rows.")
    return y


def _schema_finding(kind: str, metric: str, columns: list[str], status: str,
                    message: str) -> Finding:
    """A finding on columns that were not tested: dates, missing or extra ones."""
    return Finding(name=finding_name(DRILL, "schema", kind), metric=metric, value=len(columns),
                   status=status, drill=DRILL, group="schema", message=message,
                   details={"columns": columns})


def _labelled_rows(y: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None,
                                                   list[Finding]]:
    """Labels without the missing ones (labels that come late), the mask, and a note."""
    if y is None or not pd.isna(y).any():
        return y, None, []
    labelled = ~pd.isna(y)
    known = int(labelled.sum())
    use = (f"label and performance tests use the {known} labelled rows" if known
           else "label and performance tests were not run")
    note = Finding(name=finding_name(DRILL, "label", "unlabelled"), metric="unlabelled_rows",
                   value=len(y) - known, status="info", drill=DRILL, group="label",
                   message=f"{len(y) - known} of {len(y)} current rows have no label; {use}.",
                   details={"rows_left_out": len(y) - known})
    return (y[labelled] if known else None), labelled, [note]


def _regroup(findings: list[Finding], group: str) -> list[Finding]:
    """Findings on model outputs or labels, renamed into their own group."""
    out = []
    for f in findings:
        details = dict(f.details, test=f.group)
        out.append(replace(f, group=group, details=details,
                           name=finding_name(DRILL, group, f.metric, f.feature)))
    return out
