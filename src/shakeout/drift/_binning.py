"""Bins learned from the reference, and the distances that compare binned proportions.

Numeric features get ``n_bins`` bins whose inner edges are reference quantiles (or equal
widths between the reference minimum and maximum); the outer bins are open, so current
values outside the reference range are counted, never lost. Categorical features get one
bin per reference category plus a bin for categories unseen in the reference. Both layouts
end with a bin for missing values. The layout is fixed at ``fit``, so counts from any
number of batches or partitions add up exactly (see :mod:`shakeout.drift.profile`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shakeout._validation import (as_generator, check_choice, check_number,
                                  check_positive_int)
from shakeout.data import is_numeric_column
from shakeout.drift._base import (DriftTest, band_status, check_bands, in_band, judge_test,
                                  make_finding)
from shakeout.drift._columns import (category_strings, column_name, one_dimensional,
                                     refuse_infinite)
from shakeout.errors import ValidationError
from shakeout.report.result import Finding

BINNINGS = ("quantile", "uniform")
KINDS = ("auto", "numeric", "categorical")
UNSEEN = "<unseen>"
MISSING = "<missing>"
FEW_EDGES = 64
"""Up to this many bin edges, counting by comparison beats binary search."""


def is_numeric(values: Any) -> bool:
    """Whether a column should be binned as numbers (not booleans, not text)."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    return is_numeric_column(series)


@dataclass(frozen=True)
class Binning:
    """A fixed bin layout: numeric inner ``edges`` or reference ``categories``.

    Numeric bin ``i`` holds ``edges[i-1] < x <= edges[i]`` (open at both ends); the last
    bin holds NaN. Categorical bins are the categories, then unseen, then missing.

    Examples
    --------
    >>> b = Binning.fit(np.arange(100.0), n_bins=4)
    >>> b.edges.tolist(), b.counts(np.array([-5.0, 30.0, 99.0, 500.0, np.nan])).tolist()
    ([24.75, 49.5, 74.25], [1, 1, 0, 2, 1])
    >>> c = Binning.fit(np.array(["a", "b", "a"], dtype=object))
    >>> c.labels, c.counts(np.array(["a", "z", None], dtype=object)).tolist()
    (('a', 'b', '<unseen>', '<missing>'), [1, 0, 1, 1])
    """

    kind: str
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    categories: tuple[str, ...] = ()

    @classmethod
    def fit(cls, values: Any, *, n_bins: int = 10, binning: str = "quantile",
            kind: str = "auto", owner: str = "Binning") -> "Binning":
        """Learn the layout from reference values."""
        one_dimensional(values, owner=owner, role="reference")
        if kind == "auto":
            kind = "numeric" if is_numeric(values) else "categorical"
        if kind == "categorical":
            strings, missing = category_strings(values, owner=owner, role="reference")
            present = strings[~missing]
            if present.size == 0:
                raise ValidationError(
                    f"{owner}: reference column {column_name(values)!r} is all missing "
                    f"({len(strings)} rows); nothing to bin. Drop the column or fix its source."
                )
            return cls(kind="categorical", categories=tuple(sorted(set(present.tolist()))))
        arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values,
                         dtype=np.float64)
        refuse_infinite(arr, owner=owner, role="reference", name=column_name(values))
        present = arr[~np.isnan(arr)]
        if present.size == 0:
            raise ValidationError(
                f"{owner}: reference column {column_name(values)!r} is all NaN "
                f"({arr.size} rows); nothing to bin. Drop the column or fix its source."
            )
        if binning == "quantile":
            edges = np.quantile(present, np.arange(1, n_bins) / n_bins)
        else:
            lo, hi = float(present.min()), float(present.max())
            edges = np.linspace(lo, hi, n_bins + 1)[1:-1]
        return cls(kind="numeric", edges=np.asarray(edges, dtype=np.float64))

    @functools.cached_property
    def category_index(self) -> pd.Index:
        """The reference categories as an index, built once (lookups on every batch)."""
        return pd.Index(self.categories)

    @property
    def n_bins(self) -> int:
        """Value bins, not counting the unseen and missing bins."""
        return len(self.edges) + 1 if self.kind == "numeric" else len(self.categories)

    @property
    def labels(self) -> tuple[str, ...]:
        """One label per bin, in count order."""
        if self.kind == "categorical":
            return self.categories + (UNSEEN, MISSING)
        e = [f"{v:.4g}" for v in self.edges]
        inner = [f"({a}, {b}]" for a, b in zip(e, e[1:])]
        return tuple([f"<= {e[0]}", *inner, f"> {e[-1]}", MISSING] if e else ["all", MISSING])

    def counts(self, values: Any, *, owner: str = "Binning", role: str = "data") -> np.ndarray:
        """Counts per bin (int64), the layout of :attr:`labels`; infinite values are refused."""
        if self.kind == "categorical":
            strings, missing = category_strings(values, owner="Binning", role="data")
            codes = self.category_index.get_indexer(strings)
            codes[missing] = -2  # before counting: "" may be a category as well
            out = np.bincount(codes[codes >= 0], minlength=len(self.categories))
            n_missing = int(missing.sum())
            unseen = int((codes == -1).sum())
            return np.concatenate([out, [unseen, n_missing]]).astype(np.int64)
        arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values,
                         dtype=np.float64)
        refuse_infinite(arr, owner=owner, role=role, name=column_name(values))
        nan = np.isnan(arr)
        n_missing = int(nan.sum())
        present = arr[~nan] if n_missing else arr
        return np.concatenate([value_counts(self.edges, present), [n_missing]]).astype(np.int64)

    def unseen(self, values: Any) -> dict[str, int]:
        """Categories absent from the reference and how often each occurs (categorical only)."""
        if self.kind != "categorical":
            return {}
        strings, missing = category_strings(values, owner="Binning", role="data")
        present = strings[~missing]
        new = present[self.category_index.get_indexer(present) < 0]
        return {str(k): int(v) for k, v in pd.Series(new).value_counts().items()}


def category_moves(labels: Any, reference_counts: np.ndarray, current_counts: np.ndarray,
                   top: int = 3) -> str:
    """The categories whose share moved most, by value: ``'b' 20.0% -> 50.0%``.

    >>> category_moves(["a", "b", "c"], np.array([50, 20, 30]), np.array([30, 50, 20]))
    "'b' 20.0% -> 50.0%, 'a' 50.0% -> 30.0%, 'c' 30.0% -> 20.0%"
    """
    r, _ = proportions(reference_counts, 1.0)
    c, _ = proportions(current_counts, 1.0)
    order = np.argsort(-np.abs(c - r), kind="stable")[:top]
    return ", ".join(f"{labels[i]!r} {r[i]:.1%} -> {c[i]:.1%}" for i in order
                     if r[i] != c[i])


def value_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts of ``values`` (no NaN) in the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``.

    Up to ``FEW_EDGES`` edges, one vectorised comparison per edge counts the values at or
    below it (ten times faster than locating every value by binary search); beyond that,
    ``searchsorted``. Both give the same counts.

    >>> value_counts(np.array([0.0, 1.0]), np.array([-1.0, 0.0, 0.5, 2.0])).tolist()
    [2, 1, 1]
    """
    if len(edges) > FEW_EDGES:
        return np.bincount(np.searchsorted(edges, values, side="left"),
                           minlength=len(edges) + 1)
    values = np.ascontiguousarray(values)
    at_or_below = [np.count_nonzero(values <= e) for e in edges]
    return np.diff(np.array([0, *at_or_below, len(values)], dtype=np.int64))


MIN_EXPECTED = 5
"""Smallest expected count per bin for the chi-square law to hold (Cochran's rule)."""

SIMULATE_BELOW = 50
"""Below this many expected rows in a bin of the smaller sample, chance levels and p-values
of binned statistics come from a simulated null instead of the chi-square law (measured:
the law rejects 29% of null windows at 50 rows and 7.5% at 100 rows for PSI at 0.05)."""

N_DRAWS = 2000
"""Tables drawn for a simulated null (p-values resolve down to 1 / 2001)."""


def chance_law(reference_counts: np.ndarray, n_current: int) -> tuple[float, int] | None:
    """Scale ``s`` and degrees of freedom ``k - 1`` of ``sum (c - r)^2 / r`` without drift.

    That Pearson statistic over two samples of one distribution is close to
    ``s * chi2(k - 1)``, with ``s = 1/n_ref + 1/n_cur`` and ``k`` the bins the reference
    fills. PSI is about the statistic itself, KL about half of it: without drift, PSI
    averages ``(k - 1) s``, 0.084 for ten bins, 300 reference and 168 current rows, so the
    0.1 band means little on small windows. None where the law is not trustworthy: a bin
    expecting fewer than five rows in either sample.

    >>> scale, dof = chance_law(np.array([30, 30, 30, 30, 0]), 120)
    >>> round(scale, 4), dof
    (0.0167, 3)
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    n_ref = ref.sum()
    filled = ref[ref > 0]
    if len(filled) < 2 or n_current < 1 or (
            filled.min() / n_ref * min(n_ref, n_current) < MIN_EXPECTED):
        return None
    return float(1.0 / n_ref + 1.0 / n_current), len(filled) - 1


def min_expected(reference_counts: np.ndarray, n_current: int) -> float:
    """Rows the emptiest filled reference bin expects in the smaller of the two samples.

    >>> min_expected(np.array([10, 30, 60, 0]), 50)
    5.0
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    n_ref = ref.sum()
    filled = ref[ref > 0]
    if n_ref == 0 or filled.size == 0:
        return 0.0
    return float(filled.min() / n_ref * min(n_ref, n_current))


def reference_is_fixed(binning: "Binning", binning_method: str,
                       reference_counts: np.ndarray) -> bool:
    """Whether the reference counts are fixed by the layout: quantile bins of tie-free numbers.

    Bins at reference quantiles hold ``n_ref / k`` reference rows (give or take one) by
    construction; the reference row of the table is then not random. Ties, categories and
    equal-width bins leave it random.

    >>> b = Binning.fit(np.arange(50.0), n_bins=5)
    >>> reference_is_fixed(b, "quantile", b.counts(np.arange(50.0)))
    True
    """
    if binning.kind != "numeric" or binning_method != "quantile":
        return False
    values = np.asarray(reference_counts[:-1], dtype=np.float64)
    n = values.sum()
    return bool(n > 0 and np.all(np.abs(values - n / len(values)) <= 1.0))


def null_tables(reference_counts: np.ndarray, current_counts: np.ndarray, *, fixed: bool,
                n_draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current count tables drawn without drift, each ``(n_draws, k)``.

    ``fixed=False`` (categories, ties, equal-width bins): the permutation null of the
    binned table, the pooled counts split at random into samples of the two sizes
    (multivariate hypergeometric; the exact conditional test of Fisher and of Mehta &
    Patel 1983). ``fixed=True`` (quantile bins of continuous data): the reference row is
    fixed by construction and what varies is the probability mass between reference order
    statistics. Without drift the current rows fall into the ``n_ref + 1`` gaps between
    the sorted reference values like a uniform composition (rank exchangeability), so the
    counts per bin are Dirichlet-multinomial with one unit of weight per gap: the reference
    count of each bin, plus the half gaps below the smallest and above the largest
    reference value in the outer value bins (the gaps that straddle an edge are split
    evenly).

    >>> R, C = null_tables(np.array([5, 5, 0]), np.array([4, 6, 0]), fixed=True, n_draws=3,
    ...                    rng=np.random.default_rng(0))
    >>> R.tolist()[0], C.sum(axis=1).tolist()
    ([5, 5, 0], [10, 10, 10])
    """
    r = np.asarray(reference_counts, dtype=np.int64)
    c = np.asarray(current_counts, dtype=np.int64)
    n_cur = int(c.sum())
    if fixed:
        weights = r.astype(np.float64)
        weights[0] += 0.5
        weights[len(r) - 2] += 0.5  # the last value bin (the final bin holds NaN)
        keep = weights > 0
        p = rng.dirichlet(weights[keep], size=n_draws)
        C = np.zeros((n_draws, len(r)), dtype=np.int64)
        C[:, keep] = rng.multinomial(n_cur, p)
        return np.broadcast_to(r, C.shape), C
    pooled = r + c
    C = rng.multivariate_hypergeometric(pooled, n_cur, size=n_draws)
    return pooled - C, C


def simulated_p_value(null: np.ndarray, observed: float) -> tuple[float, bool]:
    """``(1 + #{null >= observed}) / (1 + n)``, ties counted; and whether it sits at its floor.

    At the floor (no simulated value reaches the observed one) the p-value is the scaled
    chi-square tail matched to the null's mean and variance (Satterthwaite 1946), capped
    at ``1 / (1 + n)``: a huge effect is not hidden behind the simulation's resolution.

    >>> simulated_p_value(np.array([0.1, 0.2, 0.3]), 0.2)
    (0.75, False)
    """
    null = np.asarray(null, dtype=np.float64)
    tol = 1e-9 * max(1.0, abs(observed))
    hits = int(np.count_nonzero(null >= observed - tol))
    floor = 1.0 / (1 + null.size)
    if hits or not np.isfinite(observed):
        return ((1 + hits) / (1 + null.size) if hits else floor), False
    mean, var = float(null.mean()), float(null.var())
    if mean <= 0 or var <= 0:
        return floor, True
    scale, dof = var / (2 * mean), 2 * mean ** 2 / var
    return float(min(floor, stats.chi2.sf(observed / scale, dof))), True


def proportions(counts: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw proportions and a copy whose empty bins are set to ``smoothing`` (for logarithms).

    Works on one count vector or on a stack of them (bins on the last axis).

    >>> raw, smooth = proportions(np.array([3, 0, 1]), 1e-8)
    >>> raw.tolist(), smooth.tolist()
    ([0.75, 0.0, 0.25], [0.75, 1e-08, 0.25])
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    raw = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    smooth = np.where(raw > 0, raw, smoothing)
    return raw, smooth


class BinnedReference(DriftTest):
    """Tests over bins learned from the reference: ``fit`` learns the layout and counts.

    Subclasses store ``n_bins``, ``binning``, ``kind``, ``n_permutations`` and ``seed``.
    """

    numeric = False
    n_bins: int
    binning: str
    kind: str
    n_permutations: int = N_DRAWS
    seed: Any = 0

    def fit(self, reference: Any) -> "BinnedReference":
        """Learn the bins and count the reference in them."""
        self.feature_ = column_name(reference)
        self.binning_ = Binning.fit(reference, n_bins=self.n_bins, binning=self.binning,
                                    kind=self.kind, owner=type(self).__name__)
        self.reference_counts_ = self.binning_.counts(reference, owner=type(self).__name__,
                                                      role="reference")
        self.fitted_ = True
        return self

    def fit_counts(self, binning: Binning, reference_counts: np.ndarray,
                   feature: str) -> "BinnedReference":
        """Take a layout and reference counts learned elsewhere (a merged profile)."""
        self.feature_, self.binning_ = feature, binning
        self.reference_counts_ = np.asarray(reference_counts, dtype=np.int64)
        self.fitted_ = True
        return self

    def null_statistics(self, reference_counts: np.ndarray, current_counts: np.ndarray,
                        statistic: Any) -> tuple[np.ndarray, str]:
        """``statistic(R, C)`` over tables drawn without drift (:func:`null_tables`), seeded.

        Returns the simulated values and the null's name (for ``details``).
        """
        fixed = reference_is_fixed(self.binning_, self.binning, reference_counts)
        R, C = null_tables(reference_counts, current_counts, fixed=fixed,
                           n_draws=self.n_permutations, rng=as_generator(self.seed))
        name = ("dirichlet-multinomial (reference quantile bins)" if fixed
                else "permutation (multivariate hypergeometric)")
        return np.asarray(statistic(R, C), dtype=np.float64), name


class BinnedDistance(BinnedReference):
    """A distance between binned proportions; subclasses define :meth:`distance`.

    Parameters shared by every binned distance: ``n_bins`` (value bins of a numeric
    feature), ``binning`` (``"quantile"`` or ``"uniform"``), ``kind`` (``"auto"``,
    ``"numeric"`` or ``"categorical"``), ``smoothing`` (the proportion an empty bin gets
    inside a logarithm), the ``warn`` / ``fail`` bands on the value, and for the chance level
    ``n_permutations`` (tables drawn without drift on small windows) and ``seed``.
    """

    chance_factor: float | None = None
    """Without drift the distance is about this times ``sum (c - r)^2 / r`` (PSI 1, KL 1/2,
    JS 1/8); where set, findings carry what chance alone gives: the chi-square law
    (:func:`chance_law`) where every bin of the smaller sample expects ``SIMULATE_BELOW``
    rows, else a simulated null (:func:`null_tables`)."""

    judged_by_chance: bool = False
    """Whether the finding carries the chance p-value as its ``p_value`` and passes when the
    value is within chance (a band alone is not a calibrated threshold)."""

    def __init__(self, *, n_bins: int = 10, binning: str = "quantile", kind: str = "auto",
                 smoothing: float = 1e-8, warn: float, fail: float,
                 n_permutations: int = N_DRAWS, seed: Any = 0):
        self.n_bins = check_positive_int(self, "n_bins", n_bins, 2)
        self.binning = check_choice(self, "binning", binning, BINNINGS)
        self.kind = check_choice(self, "kind", kind, KINDS)
        self.smoothing = check_number(self, "smoothing", smoothing, 0, 1, low_open=True,
                                      high_open=True)
        self.warn, self.fail = check_bands(self, warn, fail)
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        as_generator(seed, owner=self)
        self.seed = seed

    def distance(self, reference_counts: np.ndarray, current_counts: np.ndarray) -> Any:
        """The distance between two count vectors of one layout (or stacks of them)."""
        raise NotImplementedError  # pragma: no cover - interface

    def compare(self, current: Any) -> Finding:
        """Count ``current`` in the reference bins and measure the distance."""
        self._require_fit()
        name = column_name(current)
        feature = name if name != "x" else self.feature_
        if len(current) == 0:
            raise ValidationError(f"{type(self).__name__}: current column {feature!r} is empty.")
        counts = self.binning_.counts(current, owner=type(self).__name__, role="current")
        return self.finding(self.reference_counts_, counts, feature=feature,
                            unseen=self.binning_.unseen(current))

    def finding(self, reference_counts: np.ndarray, current_counts: np.ndarray, *,
                feature: str, unseen: dict[str, int] | None = None) -> Finding:
        """The Finding for two count vectors; profiles call this with merged counts."""
        reference_counts = np.asarray(reference_counts, dtype=np.int64)
        current_counts = np.asarray(current_counts, dtype=np.int64)
        value = float(self.distance(reference_counts, current_counts))
        status = band_status(value, self.warn, self.fail)
        n_cur = int(current_counts.sum())
        labels = self.binning_.labels
        details = {
            "bands": {"warn": self.warn, "fail": self.fail},
            "binning": self.binning if self.binning_.kind == "numeric" else "categories",
            "n_bins": self.binning_.n_bins, "smoothing": self.smoothing,
            "bins": list(labels),
            "reference_counts": reference_counts.tolist(),
            "current_counts": current_counts.tolist(),
            **self.extra_details(value),
        }
        message = self.describe(feature, value)
        notes = []
        if self.binning_.kind == "categorical":
            details["categories"] = list(labels)
            moved = category_moves(labels, reference_counts, current_counts)
            if moved and self.effect(value) != "negligible":
                notes.append(f"largest moves: {moved}")
        if unseen:
            top = sorted(unseen, key=unseen.get, reverse=True)[:5]
            share = sum(unseen.values()) / max(n_cur, 1)
            details["unseen_categories"] = {k: unseen[k] for k in top}
            notes.append(f"{len(unseen)} categories unseen in the reference "
                         f"({', '.join(map(repr, top))}) hold {share:.1%} of current rows")
        if current_counts[-1] or reference_counts[-1]:
            notes.append(f"missing values: {int(reference_counts[-1])} reference, "
                         f"{int(current_counts[-1])} current (counted in their own bin)")
        if self.chance_factor is not None:
            notes += self._chance(reference_counts, current_counts, value, details)
        p_value = None
        effect = self.effect(value)
        if self.judged_by_chance and "chance_p_value" in details:
            p_value = details["chance_p_value"]
            status = judge_test(p_value, self.alpha, effect)
            if status == "pass" and effect != "negligible":
                notes.append(f"within what chance gives at this size (p={p_value:.3g} >= "
                             f"alpha={self.alpha:g}), so it passes")
        if notes:
            text = "; ".join(notes)
            message += " " + text[0].upper() + text[1:] + "."
        return make_finding(self, feature=feature, value=value, status=status, p_value=p_value,
                            effect=effect, message=message, details=details)

    def _chance(self, reference_counts: np.ndarray, current_counts: np.ndarray, value: float,
                details: dict) -> list[str]:
        """What chance alone gives at these sample sizes: into ``details``, and notes."""
        n_cur = int(current_counts.sum())
        bins = int(np.count_nonzero(reference_counts))
        name = self.metric.upper()
        notes = ([f"with {n_cur} current rows for {bins} bins (fewer than {MIN_EXPECTED} a "
                  f"bin) {name} is mostly noise; use windows of at least "
                  f"{MIN_EXPECTED * bins} rows"] if n_cur < MIN_EXPECTED * bins else [])
        if n_cur == 0 or bins == 0:
            return notes
        if min_expected(reference_counts, n_cur) < SIMULATE_BELOW:
            null, method = self.null_statistics(reference_counts, current_counts,
                                                self.distance)
            p95 = float(np.quantile(null, 0.95))
            p, at_floor = simulated_p_value(null, value)
            details.update(chance_method=method, n_permutations=self.n_permutations)
            if at_floor:
                details["chance_p_tail"] = "moment-matched scaled chi-square"
        else:
            law = chance_law(reference_counts, n_cur)
            if law is None:
                return notes
            scale, dof = self.chance_factor * law[0], law[1]
            p95 = float(scale * stats.chi2.ppf(0.95, dof))
            p = float(stats.chi2.sf(value / scale, dof)) if np.isfinite(value) else 0.0
            details["chance_method"] = "chi-square law"
        details["chance_p95"] = p95
        details["chance_p_value"] = float(p)
        if p95 < self.warn:
            return notes
        n_ref = int(np.sum(reference_counts))
        return notes + [f"with {n_ref} reference and {n_cur} current rows, {name} exceeds "
                        f"{p95:.3g} one time in twenty without any drift: the bands are "
                        "unreliable at this size; use longer windows"]

    def extra_details(self, value: float) -> dict:
        """What a subclass adds to ``details`` (PSI: its band name)."""
        return {}

    def effect(self, value: float) -> str:
        """Effect label of a distance: its band read as negligible, small or large."""
        return {"pass": "negligible", "warn": "small", "fail": "large"}[
            band_status(value, self.warn, self.fail)]

    def describe(self, feature: str, value: float) -> str:
        """One sentence on the value."""
        verdict = {"pass": "below", "warn": "above the warning band",
                   "fail": "above the failure band"}[band_status(value, self.warn, self.fail)]
        tail = f" ({self.warn:g})" if verdict == "below" else ""
        return (f"{self.metric.upper()} on {feature!r} is "
                f"{in_band(value, (self.warn, self.fail))}, {verdict}{tail}.")
