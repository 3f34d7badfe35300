"""What every drift test shares: the fit/compare contract, bands, verdicts and the Finding.

A test learns reference state in ``fit`` (attributes ending in ``_``) and turns a current
sample into a :class:`~shakeout.report.Finding` in ``compare``. Distances are judged against
bands (``warn`` and ``fail`` thresholds on the value, higher is worse); hypothesis tests are
judged on the p-value *and* an effect size, so a tiny p-value on a negligible shift (easy to
get with 500,000 rows) is reported as such instead of raising an alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from shakeout._validation import check_number
from shakeout.drift._columns import Column, numeric_column
from shakeout.errors import NotFittedError, ValidationError
from shakeout.report.result import Finding
from shakeout.report.findings import adjust, finding_name

DRILL = "drift"


class DriftTest:
    """Base class: ``fit(reference)`` then ``compare(current)`` gives a Finding.

    Subclasses set ``group`` and ``metric`` (the names findings carry) and ``numeric``
    (whether they need numbers or also take categories).
    """

    group: str = ""
    metric: str = ""
    numeric: bool = True
    multivariate: bool = False

    def _require_fit(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call fit(reference) before "
                "compare(current)."
            )

    def fit(self, reference: Any) -> "DriftTest":  # pragma: no cover - interface
        raise NotImplementedError

    def compare(self, current: Any) -> Finding:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class SortedReference(DriftTest):
    """A test of one numeric feature that keeps its reference sorted (KS, AD, Wasserstein).

    ``fit`` sorts the reference once (NaN removed and counted) and every window reuses it;
    subclasses set ``min_rows``, the rows each sample needs.
    """

    min_rows: int = 1

    def fit(self, reference: Any) -> "SortedReference":
        """Sort the reference once; NaN are removed and counted."""
        col = numeric_column(reference, owner=type(self).__name__, role="reference",
                             min_rows=self.min_rows)
        self.feature_, self.n_missing_ = col.name, col.n_missing
        self.reference_ = np.sort(col.values)
        self.fitted_ = True
        return self

    def _current(self, current: Any) -> tuple[Column, str]:
        """The current sample's numeric values, and the feature name its finding carries."""
        self._require_fit()
        col = numeric_column(current, owner=type(self).__name__, role="current",
                             min_rows=self.min_rows)
        return col, (col.name if col.name != "x" else self.feature_)


def check_thresholds(owner: Any, name: str, values: Sequence[float]) -> tuple[float, ...]:
    """Three increasing, non-negative effect-size thresholds (small, medium, large)."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{type(owner).__name__}: {name} must be three numbers, got {values!r}."
        ) from None
    if len(out) != 3 or any(b <= a for a, b in zip(out, out[1:])) or out[0] < 0:
        raise ValidationError(
            f"{type(owner).__name__}: {name} must be three increasing non-negative numbers "
            f"(small, medium, large), got {values!r}."
        )
    return out


def check_bands(owner: Any, warn: float, fail: float) -> tuple[float, float]:
    """``0 <= warn <= fail``: the value where a distance turns orange, then red."""
    check_number(owner, "warn", warn, 0)
    check_number(owner, "fail", fail, 0)
    if fail < warn:
        raise ValidationError(
            f"{type(owner).__name__}: fail must be at least warn, got warn={warn!r}, "
            f"fail={fail!r}."
        )
    return float(warn), float(fail)


def band_status(value: float, warn: float, fail: float) -> str:
    """``pass`` below ``warn``, ``warn`` below ``fail``, ``fail`` from there on.

    >>> band_status(0.05, 0.1, 0.25), band_status(0.12, 0.1, 0.25), band_status(0.3, 0.1, 0.25)
    ('pass', 'warn', 'fail')
    """
    if not np.isfinite(value):
        return "warn"
    return "fail" if value >= fail else ("warn" if value >= warn else "pass")


def in_band(value: float, edges: Sequence[float], digits: int = 3, *,
            percent: bool = False) -> str:
    """``value`` printed with the fewest digits (at least ``digits`` significant ones) that
    keep it on the same side of every band edge as the real value (edges count as ``>=``).

    A PSI of 0.2496 printed as ``0.25`` beside a 0.25 "major" edge reads as major while it
    is moderate; this prints ``0.2496``. ``percent`` prints a share as a percentage.

    >>> in_band(0.2496, (0.1, 0.2, 0.25)), in_band(0.31, (0.1, 0.25)), in_band(0.25, (0.25,))
    ('0.2496', '0.31', '0.25')
    >>> in_band(0.02996, (0.03,), 1, percent=True)
    '2.996%'
    """
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    for d in range(digits, 18):
        text = f"{value:.{d}%}" if percent else f"{value:.{d}g}"
        shown = float(text[:-1]) / 100 if percent else float(text)
        if all((shown >= e) == (value >= e) for e in edges):
            return text
    return repr(value)


def judge_test(p_value: float, alpha: float, effect: str | None) -> str:
    """Verdict of a hypothesis test from significance and effect size.

    Not significant passes; significant with a negligible effect passes too (and says so);
    a small effect warns; a medium or large one fails. Without an effect size a significant
    result fails.

    >>> judge_test(1e-9, 0.05, "negligible"), judge_test(1e-9, 0.05, "small")
    ('pass', 'warn')
    """
    if not p_value < alpha or effect == "negligible":
        return "pass"
    return "warn" if effect == "small" else "fail"


def describe_test(test: str, feature: str, statistic: str, p_value: float, alpha: float,
                 effect: str | None, correction: str | None = None) -> str:
    """One sentence that puts significance and effect size side by side."""
    adj = f" after {correction}" if correction and correction != "none" else ""
    where = f" on {feature!r}" if feature else ""
    if not p_value < alpha:
        return f"{test}{where}: no significant drift ({statistic}, p={p_value:.3g}{adj})."
    if effect == "negligible":
        return (f"{test}{where}: statistically significant (p={p_value:.3g}{adj}) but the "
                f"effect is negligible ({statistic}); large samples detect tiny differences.")
    size = f"{effect} " if effect else ""
    return f"{test}{where}: {size}drift ({statistic}, p={p_value:.3g}{adj})."


def make_finding(test: DriftTest, *, feature: str | None, value: float, status: str,
                 message: str, p_value: float | None = None, effect: str | None = None,
                 ci: tuple[float, float] | None = None, metric: str | None = None,
                 details: dict | None = None) -> Finding:
    """A drift Finding named ``drift/<group>/<feature>``."""
    return Finding(name=finding_name(DRILL, test.group, feature), metric=metric or test.metric,
                   value=value, ci=ci, ci_level=0.95 if ci is not None else None,
                   p_value=p_value, status=status, drill=DRILL, group=test.group,
                   feature=feature, effect=effect, message=message, details=details or {})


def rejudge(f: Finding, alpha: float) -> Finding:
    """A test's verdict and message again, from its corrected p-value and its effect size.

    The message is written again with the corrected p-value (``details["correction"]``
    names the method), followed by the finding's ``details["notes"]`` (sentences a test
    adds after its verdict).

    >>> f = Finding(name="drift/ks/age", metric="ks", value=0.3, p_value=0.06, effect="large",
    ...             status="fail", details={"correction": "holm"})
    >>> g = rejudge(f, 0.05)
    >>> g.status, g.message
    ('pass', 'ks: no significant drift (ks=0.3, p=0.06 after holm).')
    """
    statistic = f.details.get("statistic_text", f"{f.metric}={f.value:.3g}")
    test = f.details.get("test", f.group or f.metric)
    message = describe_test(test, f.feature or "", statistic, f.p_value, alpha, f.effect,
                            f.details.get("correction"))
    if f.details.get("notes"):
        message += " " + f.details["notes"]
    return replace(f, status=judge_test(f.p_value, alpha, f.effect), message=message)


def adjust_tests(findings: Sequence[Finding], method: str, alpha: float) -> list[Finding]:
    """Each test's findings together (tests in order of first appearance), the p-values of
    each test corrected across features and the findings re-judged (:func:`rejudge`).

    The corrected p-value replaces ``p_value``; the raw one moves to ``details["p_raw"]``
    (see :func:`shakeout.report.findings.adjust`). With ``method="none"`` the findings are
    only put in order. Findings without a p-value pass through unchanged.

    >>> fs = [Finding(name=f"drift/{g}/x{i}", metric=g, value=0.3, p_value=0.02,
    ...               status="fail", effect="large", drill="drift", group=g)
    ...       for i in range(3) for g in ("ks", "psi")]
    >>> [(f.group, round(f.p_value, 2)) for f in adjust_tests(fs, "bonferroni", 0.05)][2:4]
    [('ks', 0.06), ('psi', 0.06)]
    """
    first = {g: i for i, g in enumerate(dict.fromkeys(f.group for f in findings))}
    ordered = sorted(findings, key=lambda f: first[f.group])
    if method == "none":
        return ordered
    return adjust(ordered, method, alpha, family=lambda f: f.group, judge=rejudge)
