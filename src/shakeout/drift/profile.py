"""Mergeable profiles: drift on data larger than memory, or spread over a cluster.

A :class:`ProfileSpec` learns a fixed layout from a reference sample: for each numeric
column the PSI bins (``n_bins`` reference quantiles) and a finer *sketch* of
``sketch_bins`` reference-quantile bins; for each categorical column its categories. A
:class:`Profile` of any batch or partition holds counts in that layout, the unseen
categories, and moments (count, mean, sum of squared deviations, min, max). Counts add up,
so profiles merge **exactly**: the PSI, KL, JS and chi-square of merged profiles equal the
in-memory values bit for bit, whatever the partitioning. Moments merge by Chan et al.'s
formula (exact up to floating-point rounding).

The sketch gives the KS statistic with a stated bound: with ``D_grid`` the largest CDF gap
at the sketch edges and ``r_j``, ``c_j`` the reference and current shares of bin ``j``,
``D_grid <= D <= D_grid + max_j min(r_j, c_j)``. Reference-quantile bins make the bound
at most about ``1 / sketch_bins``, ties included (a value that fills several quantiles gets
a bin of its own, which adds nothing); the finding reports it, and the p-value is computed
at ``D_grid`` (the conservative end).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import check_choice, check_positive_int
from shakeout.data import is_numeric_column, parquet_batches
from shakeout.drift._base import DRILL, adjust_tests, describe_test, judge_test, make_finding
from shakeout.drift._binning import BINNINGS, Binning
from shakeout.drift._columns import as_frame, as_numbers
from shakeout.drift.chi2 import Chi2Test
from shakeout.drift.decision import DecisionPolicy, conclude
from shakeout.drift.js import JSDivergence
from shakeout.drift.kl import KLDivergence
from shakeout.drift.ks import KSTest, ks_p_value
from shakeout.drift.psi import PSI
from shakeout.errors import NotFittedError, ValidationError
from shakeout.report.findings import error_finding
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import METHODS as CORRECTIONS
from shakeout.stats import effect_label

PROFILE_TESTS = ("psi", "ks", "kl", "js", "chi2")


@dataclass
class ColumnProfile:
    """Counts and moments of one column over the rows profiled so far."""

    counts: np.ndarray
    sketch: np.ndarray | None = None
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    unseen: dict[str, int] = field(default_factory=dict)

    def merge(self, other: "ColumnProfile") -> "ColumnProfile":
        """Counts add; moments combine by Chan, Golub and LeVeque's update."""
        n = self.n + other.n
        if n:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.n / n
            m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        else:
            mean, m2 = 0.0, 0.0
        unseen = dict(self.unseen)
        for k, v in other.unseen.items():
            unseen[k] = unseen.get(k, 0) + v
        return ColumnProfile(
            counts=self.counts + other.counts,
            sketch=None if self.sketch is None else self.sketch + other.sketch,
            n=n, mean=mean, m2=m2, minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum), unseen=unseen)

    @property
    def variance(self) -> float:
        """Sample variance (``n - 1`` in the denominator)."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(),
                "sketch": None if self.sketch is None else self.sketch.tolist(),
                "n": self.n, "mean": self.mean, "m2": self.m2,
                "minimum": None if not np.isfinite(self.minimum) else self.minimum,
                "maximum": None if not np.isfinite(self.maximum) else self.maximum,
                "unseen": dict(self.unseen)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ColumnProfile":
        sketch = data.get("sketch")
        return cls(counts=np.asarray(data["counts"], dtype=np.int64),
                   sketch=None if sketch is None else np.asarray(sketch, dtype=np.int64),
                   n=int(data["n"]), mean=float(data["mean"]), m2=float(data["m2"]),
                   minimum=np.inf if data.get("minimum") is None else float(data["minimum"]),
                   maximum=-np.inf if data.get("maximum") is None else float(data["maximum"]),
                   unseen={str(k): int(v) for k, v in dict(data.get("unseen", {})).items()})


class ProfileSpec:
    """The layout every profile of one reference shares: bins, sketch edges, categories.

    Parameters
    ----------
    n_bins : int, default=10
        PSI / KL / JS / chi-square bins of a numeric column.
    binning : {"quantile", "uniform"}, default="quantile"
    sketch_bins : int, default=1000
        Reference-quantile bins of the KS sketch; the KS bound is about ``1 / sketch_bins``.
    categorical : sequence of str or None
        Columns to treat as categories even when numeric.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from shakeout import drift
    >>> from shakeout.drift import ProfileSpec, PSI
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"a": rng.normal(size=10_000)})
    >>> cur = pd.DataFrame({"a": rng.normal(0.2, 1, size=10_000)})
    >>> spec = ProfileSpec().fit(ref)
    >>> parts = [spec.profile(cur.iloc[i:i + 2_500]) for i in range(0, 10_000, 2_500)]
    >>> merged = parts[0].merge(parts[1]).merge(parts[2]).merge(parts[3])
    >>> result = drift.run(spec.profile(ref), merged)
    >>> psi = result.select(group="psi")[0].value
    >>> psi == PSI().fit(ref["a"]).compare(cur["a"]).value
    True
    """

    def __init__(self, *, n_bins: int = 10, binning: str = "quantile", sketch_bins: int = 1000,
                 categorical: Any = None):
        self.n_bins = check_positive_int(self, "n_bins", n_bins, 2)
        self.binning = check_choice(self, "binning", binning, BINNINGS)
        self.sketch_bins = check_positive_int(self, "sketch_bins", sketch_bins, 2)
        self.categorical = tuple(categorical or ())

    def fit(self, reference: Any) -> "ProfileSpec":
        """Learn the layout from a reference table (or a uniform sample of it)."""
        frame = as_frame(reference, role="reference")
        self.bins_: dict[str, Binning] = {}
        self.sketches_: dict[str, Binning] = {}
        for col in frame.columns:
            numeric = is_numeric_column(frame[col]) and col not in self.categorical
            kind = "numeric" if numeric else "categorical"
            self.bins_[col] = Binning.fit(frame[col], n_bins=self.n_bins, binning=self.binning,
                                          kind=kind, owner="ProfileSpec")
            if numeric:
                sketch = Binning.fit(frame[col], n_bins=self.sketch_bins, kind="numeric",
                                     owner="ProfileSpec")
                self.sketches_[col] = Binning(kind="numeric", edges=_split_atoms(sketch.edges))
        self.columns_ = list(frame.columns)
        self.fitted_ = True
        return self

    def _require_fit(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError("ProfileSpec is not fitted: call fit(reference_sample) first.")

    def profile(self, batch: Any) -> "Profile":
        """The profile of one batch or partition (a DataFrame, Arrow table or record batch).

        A batch of no rows (a partition a filter emptied, a zero-row file) profiles to
        zero counts, which merge as nothing.
        """
        self._require_fit()
        if hasattr(batch, "to_pandas") and not isinstance(batch, pd.DataFrame):
            batch = batch.to_pandas()
        empty = isinstance(batch, pd.DataFrame) and len(batch) == 0
        frame = batch.rename(columns=str) if empty else as_frame(batch, role="batch")
        absent = [c for c in self.columns_ if c not in frame.columns]
        if absent:
            raise ValidationError(f"ProfileSpec: batch lacks columns {absent[:10]} of the "
                                  "reference; every partition needs the same columns.")
        columns = {}
        for col in self.columns_:
            values = frame[col]
            if empty:
                sketch = self.sketches_.get(col)
                columns[col] = ColumnProfile(
                    counts=np.zeros(len(self.bins_[col].labels), dtype=np.int64),
                    sketch=None if sketch is None else np.zeros(len(sketch.edges) + 1,
                                                                dtype=np.int64))
                continue
            if col in self.sketches_:
                values = _numbers(values, col)
            binning = self.bins_[col]
            prof = ColumnProfile(counts=binning.counts(values), unseen=binning.unseen(values))
            if col in self.sketches_:
                x = values.to_numpy(dtype=np.float64)
                x = x[~np.isnan(x)]
                prof.sketch = self.sketches_[col].counts(x)[:-1]
                if x.size:
                    prof.n, prof.mean = int(x.size), float(x.mean())
                    prof.m2 = float(np.sum((x - prof.mean) ** 2))
                    prof.minimum, prof.maximum = float(x.min()), float(x.max())
            columns[col] = prof
        return Profile(spec=self, columns=columns, n_rows=len(frame))

    def profile_batches(self, batches: Iterable[Any]) -> "Profile":
        """Profile an iterable of batches, merging as it goes (memory: one batch).

        No batches at all (an empty Spark partition) give the profile of no rows.
        """
        self._require_fit()
        total = None
        for batch in batches:
            part = self.profile(batch)
            total = part if total is None else total.merge(part)
        return self.profile(pd.DataFrame(columns=self.columns_)) if total is None else total

    def profile_parquet(self, path: str | Path, *, batch_size: int = 65_536) -> "Profile":
        """Stream a parquet file or folder of files in batches; never loads the whole table.

        A folder is read as Spark, Dask and Arrow read it (see
        :func:`shakeout.data.parquet_batches`): paths with a part starting with ``_`` or
        ``.`` (``_temporary/``, ``_SUCCESS``, checksums) are skipped.
        """
        self._require_fit()
        check_positive_int(self, "batch_size", batch_size)
        total = None
        for file, batch in parquet_batches(path, columns=self.columns_, batch_size=batch_size):
            try:
                part = self.profile(batch)
            except ValidationError as error:
                raise ValidationError(f"{file}: {error}") from None
            total = part if total is None else total.merge(part)
        if total is None:
            raise ValidationError(f"parquet {str(path)!r} holds no rows; point to the data "
                                  "to profile.")
        return total

    def profile_dask(self, frame: Any) -> "Profile":
        """Profile each partition of a Dask DataFrame where it lives, then merge the profiles."""
        import dask

        self._require_fit()
        parts = [dask.delayed(self.profile)(part) for part in frame.to_delayed()]
        return Profile.merge_all(dask.compute(*parts))

    def to_dict(self) -> dict[str, Any]:
        """The layout as plain JSON values."""
        self._require_fit()
        return {"n_bins": self.n_bins, "binning": self.binning,
                "sketch_bins": self.sketch_bins, "categorical": list(self.categorical),
                "columns": {c: {"kind": b.kind, "edges": b.edges.tolist(),
                                "categories": list(b.categories),
                                "sketch": (self.sketches_[c].edges.tolist()
                                           if c in self.sketches_ else None)}
                            for c, b in self.bins_.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProfileSpec":
        spec = cls(n_bins=data["n_bins"], binning=data["binning"],
                   sketch_bins=data["sketch_bins"], categorical=data.get("categorical"))
        spec.bins_, spec.sketches_ = {}, {}
        for col, c in data["columns"].items():
            spec.bins_[col] = Binning(kind=c["kind"], edges=np.asarray(c["edges"], dtype=float),
                                      categories=tuple(c["categories"]))
            if c.get("sketch") is not None:
                spec.sketches_[col] = Binning(kind="numeric",
                                              edges=np.asarray(c["sketch"], dtype=float))
        spec.columns_ = list(data["columns"])
        spec.fitted_ = True
        return spec

    def same_layout(self, other: "ProfileSpec") -> bool:
        """Whether profiles of ``self`` and ``other`` can be merged or compared."""
        return self is other or self.to_dict() == other.to_dict()


@dataclass
class Profile:
    """Counts and moments per column of the rows profiled, in one :class:`ProfileSpec` layout.

    Examples
    --------
    >>> spec = ProfileSpec().fit(pd.DataFrame({"a": np.arange(100.0)}))
    >>> both = spec.profile(pd.DataFrame({"a": [1.0, 2.0]})) + spec.profile(
    ...     pd.DataFrame({"a": [np.nan]}))
    >>> both.n_rows, both.columns["a"].counts.tolist()
    (3, [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    """

    spec: ProfileSpec
    columns: dict[str, ColumnProfile]
    n_rows: int

    def merge(self, other: "Profile") -> "Profile":
        """The profile of both sets of rows (exact for counts)."""
        if not self.spec.same_layout(other.spec):
            raise ValidationError("Profile.merge: the profiles come from different ProfileSpecs; "
                                  "profile every partition with one fitted spec.")
        return Profile(spec=self.spec, n_rows=self.n_rows + other.n_rows,
                       columns={c: p.merge(other.columns[c]) for c, p in self.columns.items()})

    __add__ = merge

    @staticmethod
    def merge_all(profiles: Iterable["Profile"]) -> "Profile":
        """Merge any number of profiles (at least one)."""
        profiles = list(profiles)
        if not profiles:
            raise ValidationError("Profile.merge_all: no profile was given.")
        total = profiles[0]
        for p in profiles[1:]:
            total = total.merge(p)
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: ship profiles from workers, store them, merge them later."""
        return {"spec": self.spec.to_dict(), "n_rows": self.n_rows,
                "columns": {c: p.to_dict() for c, p in self.columns.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Profile":
        return cls(spec=ProfileSpec.from_dict(data["spec"]), n_rows=int(data["n_rows"]),
                   columns={c: ColumnProfile.from_dict(p) for c, p in data["columns"].items()})


def _numbers(values: pd.Series, col: str) -> pd.Series:
    """A batch's values of a numeric reference column as floats; text or inf is an error."""
    x = as_numbers(values, where=f"ProfileSpec: batch column {col!r}")
    n_inf = int(np.isinf(x.to_numpy()).sum())
    if n_inf:
        raise ValidationError(
            f"ProfileSpec: batch column {col!r} contains {n_inf} infinite values. Replace them "
            "(clip or set to NaN) first."
        )
    return x


def _split_atoms(edges: np.ndarray) -> np.ndarray:
    """Sketch edges with each value that fills several reference quantiles in a bin of its own.

    Such a value (an integer code, a constant, a spike at zero) would otherwise share its bin
    with the values just below it, and the KS bound would grow by its share; an extra edge
    just below it makes the CDF gap exact there.

    >>> _split_atoms(np.array([1.0, 2.0, 2.0, 3.0])).tolist() == [
    ...     1.0, np.nextafter(2.0, -np.inf), 2.0, 3.0]
    True
    """
    atoms = edges[1:][edges[1:] == edges[:-1]]
    return np.unique(np.concatenate([edges, np.nextafter(atoms, -np.inf)]))


def sketch_ks(reference: ColumnProfile, current: ColumnProfile,
              edges: np.ndarray | None = None) -> tuple[float, float]:
    """(``D_grid``, bound): the KS distance at the sketch edges and its maximal error.

    Given the sketch ``edges``, a bin of one value (an edge and the float just below it,
    see ``_split_atoms``) has no inside, so it adds nothing to the bound.

    >>> r = ColumnProfile(counts=np.zeros(1), sketch=np.array([50, 50]), n=100)
    >>> c = ColumnProfile(counts=np.zeros(1), sketch=np.array([80, 20]), n=100)
    >>> tuple(round(v, 6) for v in sketch_ks(r, c))
    (0.3, 0.5)
    """
    r = reference.sketch / max(reference.sketch.sum(), 1)
    c = current.sketch / max(current.sketch.sum(), 1)
    d = float(np.max(np.abs(np.cumsum(r) - np.cumsum(c))))
    inside = np.minimum(r, c)
    if edges is not None:
        inside[1:-1][edges[:-1] == np.nextafter(edges[1:], -np.inf)] = 0.0
    return d, float(np.max(inside))


def _ks_finding(feature: str, ref: ColumnProfile, cur: ColumnProfile, alpha: float,
                edges: np.ndarray) -> Finding:
    test = KSTest(alpha=alpha)
    d, bound = sketch_ks(ref, cur, edges)
    p = ks_p_value(d, ref.n, cur.n)
    effect = effect_label(d, test.effect_thresholds)
    text = f"D in [{d:.3g}, {d + bound:.3g}] from profiles"
    details = {"test": "KS", "statistic_text": text, "n_reference": ref.n, "n_current": cur.n,
               "sketch_bound": bound, "d_upper": d + bound,
               "p_value_at_upper": ks_p_value(min(d + bound, 1.0), ref.n, cur.n),
               "p_method": "asymp", "bands": {"warn": test.effect_thresholds[0],
                                               "fail": test.effect_thresholds[1]}}
    return make_finding(test, feature=feature, value=d, p_value=p, effect=effect,
                        status=judge_test(p, alpha, effect), details=details,
                        message=describe_test("KS", feature, text, p, alpha, effect))


def compare_profiles(reference: Profile, current: Profile, *, tests: Any = ("psi", "ks", "kl"),
                     categorical_tests: Any = ("psi", "chi2"), alpha: float = 0.05,
                     correction: str = "holm", policy: DecisionPolicy | None = None,
                     importance: Mapping[str, float] | None = None,
                     window: str | None = None) -> Result:
    """Drift between two profiles of one spec: PSI, KS (bounded), KL, JS and chi-square.

    ``shakeout.drift.run`` calls this when given profiles.

    >>> rng = np.random.default_rng(0)
    >>> spec = ProfileSpec().fit(pd.DataFrame({"a": rng.normal(size=5_000)}))
    >>> cur = spec.profile(pd.DataFrame({"a": rng.normal(1.0, 1.0, size=5_000)}))
    >>> result = compare_profiles(spec.profile(pd.DataFrame({"a": rng.normal(size=5_000)})), cur)
    >>> result.findings[-1].details["action"]
    'retrain now'
    """
    if not (isinstance(reference, Profile) and isinstance(current, Profile)):
        raise ValidationError("compare_profiles: both reference and current must be Profiles "
                              "of one ProfileSpec (or pass two tables to drift.run).")
    if not reference.spec.same_layout(current.spec):
        raise ValidationError("compare_profiles: the profiles come from different ProfileSpecs.")
    for role, prof in (("reference", reference), ("current", current)):
        if prof.n_rows == 0:
            raise ValidationError(f"compare_profiles: the {role} profile has no rows (every "
                                  "batch or partition was empty); profile data that has rows.")
    for name in (*tests, *categorical_tests):
        check_choice("compare_profiles", "tests", name, PROFILE_TESTS)
    check_choice("compare_profiles", "correction", correction, CORRECTIONS)
    start = time.perf_counter()
    spec = reference.spec
    findings: list[Finding] = []
    for col in spec.columns_:
        ref, cur = reference.columns[col], current.columns[col]
        binning = spec.bins_[col]
        numeric = col in spec.sketches_
        for name in tests if numeric else categorical_tests:
            if name == "ks" and not (ref.n and cur.n):
                role, empty = ("current", current) if ref.n else ("reference", reference)
                findings.append(error_finding(
                    DRILL, "ks", col, f"KS: {role} column {col!r} has no values (all "
                                      f"{empty.n_rows} rows NaN); nothing to test."))
            elif name == "ks":
                findings.append(_ks_finding(col, ref, cur, alpha, spec.sketches_[col].edges))
            elif name == "chi2":
                findings.append(Chi2Test(alpha=alpha).fit_counts(binning, ref.counts, col)
                                .finding(ref.counts, cur.counts, feature=col))
            else:
                cls = {"psi": PSI, "kl": KLDivergence, "js": JSDivergence}[name]
                findings.append(cls().fit_counts(binning, ref.counts, col)
                                .finding(ref.counts, cur.counts, feature=col,
                                         unseen=cur.unseen))
    concluded = conclude(adjust_tests(findings, correction, alpha), policy=policy,
                         importance=importance, n_rows=current.n_rows, window=window)
    manifest = Manifest.collect(data="current profile", n_rows=current.n_rows,
                                timings={"compare": time.perf_counter() - start},
                                parameters={"tests": list(tests), "alpha": alpha,
                                            "correction": correction, "profiles": True,
                                            "n_reference": reference.n_rows,
                                            "sketch_bins": spec.sketch_bins,
                                            "n_bins": spec.n_bins, "window": window})
    return Result(title=f"Drift from profiles: {len(spec.columns_)} features",
                  findings=tuple(concluded), manifest=manifest)
