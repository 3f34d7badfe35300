"""``scan``: every scanner on a training set, a combined rank, the quarantine file, and, with
the simulation's ground truth, each scanner's precision and recall at the removal budget.

The combined score of a row is the mean, over the scanners, of its rank percentile (its
average rank among the rows by that scanner's score, divided by the number of rows): scores
on different scales (robust z, distances, probabilities) then weigh alike. Rows are removed
at the budget by the highest scores; ties at the cut are broken at random with the seed, so
no row order (poisoned rows appended at the end) favours a scanner.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import as_generator, check_open_interval
from shakeout.drills import resolve
from shakeout.errors import ValidationError
from shakeout.report.result import Finding, Manifest, Result

TABULAR = {"robust_z": "shakeout.poison.scanners:RobustZScore",
           "iqr": "shakeout.poison.scanners:TukeyIQR",
           "mahalanobis_mcd": "shakeout.poison.scanners:RobustMahalanobis",
           "isolation_forest": "shakeout.poison.scanners:IsolationForestScanner",
           "lof": "shakeout.poison.scanners:LOFScanner"}
LABELS = {"oof_probability": "shakeout.poison.labels:OutOfFoldProbability",
          "knn_labels": "shakeout.poison.labels:KNNLabels",
          "confident_learning": "shakeout.poison.labels:ConfidentLearning"}
REPRESENTATIONS = {"spectral_signature": "shakeout.poison.representation:SpectralSignature",
                   "activation_clustering":
                       "shakeout.poison.representation:ActivationClustering"}
SCANNERS = {**TABULAR, **LABELS, **REPRESENTATIONS}
"""Scanner name -> ``"module:Class"``, built by :func:`build_scanners`."""
NEEDS = {**{name: () for name in TABULAR}, **{name: ("labels",) for name in LABELS},
         **{name: ("labels", "representations") for name in REPRESENTATIONS}}
"""What each named scanner needs, checked before it is built."""
SHOWN_ROWS = 20
"""The most suspicious rows the report lists (the quarantine file holds all at the budget)."""


@dataclass(frozen=True)
class ScanResult(Result):
    """A scan's :class:`~shakeout.report.result.Result` plus its per-row table ``scores``
    (not written to ``results.json``): one column per scanner, then ``combined``, ``rank``
    (1 = most suspicious), ``quarantined`` (removed at the budget) and ``reasons``, indexed
    by row id."""

    scores: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def build_scanners(scanners: Any, *, y: Any, model: Any, seed: Any) -> list[Any]:
    """The scanners to run, by name or as objects, each checked for what it needs.

    None picks the tabular scanners, the label scanners when ``y`` is given and the
    representation scanners when ``model`` has representations. A scanner built by name
    gets ``seed`` where it takes one.

    >>> [s.name for s in build_scanners(None, y=[0, 1], model=None, seed=0)][-3:]
    ['oof_probability', 'knn_labels', 'confident_learning']
    >>> build_scanners(["oof_probability"], y=None, model=None, seed=0)
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: scanner 'oof_probability' needs the labels; pass y \
(--target COLUMN on the command line), or leave it out.
    """
    if scanners is None:
        scanners = [*TABULAR, *(LABELS if y is not None else ()),
                    *(REPRESENTATIONS if _has_representations(model) else ())]
    if isinstance(scanners, str) or not len(scanners):
        raise ValidationError(f"scan: scanners must be a non-empty list of names or scanner "
                              f"objects, got {scanners!r}; known names: {', '.join(SCANNERS)}.")
    for s in scanners:
        if isinstance(s, str):
            _check_needs(s, NEEDS[_known(s)], y, model)
    built = [_build(s, seed) if isinstance(s, str) else s for s in scanners]
    names = [s.name for s in built]
    if len(set(names)) < len(names):
        raise ValidationError(f"scan: each scanner runs once, got {names}.")
    for s in built:
        _check_needs(s.name, s.needs, y, model)
    return built


def _known(name: str) -> str:
    if name not in SCANNERS:
        raise ValidationError(f"scan: unknown scanner {name!r}; known: {', '.join(SCANNERS)}.")
    return name


def _build(name: str, seed: Any) -> Any:
    try:
        cls = resolve(SCANNERS[name])
    except (ImportError, AttributeError):
        raise ValidationError(f"scan: scanner {name!r} is not available in this shakeout "
                              f"({SCANNERS[name]} is missing).") from None
    takes_seed = "seed" in inspect.signature(cls).parameters
    return cls(seed=seed) if takes_seed else cls()


def _has_representations(model: Any) -> bool:
    """A wrapped model that says so, or a torch module (torch already loaded, as a module
    implies)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return True
    return getattr(getattr(model, "capabilities", None), "representations", False) is True


def _check_needs(name: str, needs: tuple[str, ...], y: Any, model: Any) -> None:
    what = {"labels": (y is not None, "the labels; pass y (--target COLUMN on the command "
                       "line)"),
            "model": (model is not None, "a model; pass model= (--model on the command line)"),
            "representations": (_has_representations(model),
                                "a model with representations (a torch model whose layers "
                                "shakeout can read); "
                                + ("pass one with --model" if model is None else
                                   f"{getattr(model, 'name', type(model).__name__)} has none"))}
    for need in needs:
        ok, words = what[need]
        if not ok:
            raise ValidationError(f"scanner {name!r} needs {words}, or leave it out.")


def _check_mask(mask: Any, n: int) -> np.ndarray | None:
    if mask is None:
        return None
    values = np.asarray(mask)
    if values.shape != (n,) or not np.isin(values, (0, 1, True, False)).all():
        raise ValidationError(f"scan: mask must hold one True/False (or 1/0) per row ({n}), "
                              f"got shape {values.shape}; it marks the rows a simulation "
                              "poisoned.")
    return values.astype(bool)


def order(scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Row positions from the highest score down, ties in ``tiebreak`` order.

    >>> order(np.array([0.2, 0.9, 0.2]), np.array([0.5, 0.1, 0.3])).tolist()
    [1, 2, 0]
    """
    return np.lexsort((tiebreak, -scores))


def combine(table: pd.DataFrame) -> np.ndarray:
    """The mean over the scanners (columns) of each row's rank percentile.

    A rank percentile is the row's average rank by that scanner (ties share the mean rank)
    over the number of rows: 1 for the single most suspicious row.

    >>> combine(pd.DataFrame({"a": [1.0, 5.0, 3.0], "b": [10.0, 20.0, 30.0]})).round(3).tolist()
    [0.333, 0.833, 0.833]
    """
    from scipy.stats import rankdata

    ranks = rankdata(table.to_numpy(), method="average", axis=0) / len(table)
    return ranks.mean(axis=1)


def scan(X: Any, y: Any = None, *, model: Any = None, scanners: Any = None,
         budget: float = 0.05, mask: Any = None, level: float = 0.95, seed: Any = 0,
         data_name: str = "data", quiet: bool = True) -> ScanResult:
    """Score every training row with each scanner, rank them, and judge the scanners.

    Parameters
    ----------
    X : array or DataFrame
        The training rows (a DataFrame's index gives the row ids).
    y : array, optional
        The given labels (the label scanners need them).
    model : model, optional
        A scikit-learn-style classifier the out-of-fold scanners cross-validate, or a
        wrapped torch model with representations for the representation scanners.
    scanners : list of str or scanner objects, optional
        By name (:data:`SCANNERS`) or objects following
        :class:`~shakeout.poison.scanners.Scanner`; None: see :func:`build_scanners`.
    budget : float, default=0.05
        The share of rows removed (quarantined): the ``ceil(budget * n)`` most suspicious.
    mask : array of bool, optional
        Ground truth of a simulation (True: poisoned). With it, each scanner and the
        combined rank get their precision and recall at the budget, with exact
        Clopper-Pearson intervals, beside the base rate (a random removal's precision);
        a precision passes where an exact one-sided hypergeometric test, Holm-adjusted over
        the scanners, finds it above a random removal's at ``1 - level``.
    level : float, default=0.95
        Confidence level of the intervals.
    seed : int, Generator or None
        Seeds the scanners built by name and breaks ties at the budget.

    Returns
    -------
    ScanResult
        Findings (drill ``scan``): per scanner the share its own rule flags, with ``mask``
        its precision and recall, the base rate and the most suspicious rows; ``scores``
        holds the per-row table for :func:`quarantine`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> mask = np.zeros(400, bool); mask[:8] = True
    >>> X[mask] += 6.0                            # eight planted outliers
    >>> r = scan(X, mask=mask, budget=0.02, scanners=["robust_z", "isolation_forest"])
    >>> f = r.select(group="combined", metric="precision")[0]
    >>> f.value, tuple(round(v, 3) for v in f.ci), f.details["base_rate"]
    (1.0, (0.631, 1.0), 0.02)
    >>> int(r.scores["quarantined"].sum()), r.scores["rank"].idxmin() < 8
    (8, True)
    """
    check_open_interval("scan", "budget", budget, 0, 1)
    check_open_interval("scan", "level", level, 0, 1)
    rng = as_generator(seed, "scan")
    n = _rows(X)
    truth = _check_mask(mask, n)
    chosen = build_scanners(scanners, y=y, model=model,
                            seed=seed if not isinstance(seed, np.random.Generator) else rng)
    table, timings = _score_all(chosen, X, y, model, n, quiet)
    tiebreak = rng.random(n)
    removed = math.ceil(budget * n)
    top = {s.name: order(table[s.name].to_numpy(), tiebreak)[:removed] for s in chosen}
    combined = combine(table)
    ranked = order(combined, tiebreak)
    table["combined"] = combined
    table["rank"] = np.empty(n, dtype=np.int64)
    table.iloc[ranked, table.columns.get_loc("rank")] = np.arange(1, n + 1)
    table["quarantined"] = False
    table.iloc[ranked[:removed], table.columns.get_loc("quarantined")] = True
    table["reasons"] = ""
    table.iloc[ranked[:removed], table.columns.get_loc("reasons")] = _reasons(
        chosen, table, top, ranked[:removed], budget)
    findings = [*_flagged(chosen, table, level, removed),
                *_judged(chosen, table, top, ranked[:removed], truth, budget, level),
                *_shown(table, ranked[:SHOWN_ROWS])]
    manifest = _manifest(X, data_name, model, seed, n, timings, chosen, budget, level)
    return ScanResult(title=f"Scan of {data_name}", findings=tuple(findings),
                      manifest=manifest, scores=table)


def _rows(X: Any) -> int:
    n = len(X) if hasattr(X, "__len__") else 0
    if n == 0:
        raise ValidationError("scan: the training set is empty (0 rows); pass the rows to "
                              "scan.")
    return n


def _score_all(chosen: list[Any], X: Any, y: Any, model: Any, n: int,
               quiet: bool) -> tuple[pd.DataFrame, dict[str, float]]:
    from shakeout._progress import progress

    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n)
    columns: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}
    for s in progress(chosen, total=len(chosen), description="scan", quiet=quiet):
        start = time.perf_counter()
        values = np.asarray(s.scores(X, y, model), dtype=np.float64)
        timings[s.name] = time.perf_counter() - start
        if values.shape != (n,) or np.isnan(values).any():
            raise ValidationError(f"scanner {s.name!r} gave scores of shape {values.shape} "
                                  f"with {int(np.isnan(values).sum())} NaN; a scanner gives "
                                  f"one number per row ({n}), never NaN.")
        columns[s.name] = values
    return pd.DataFrame(columns, index=index), timings


def _reasons(chosen: list[Any], table: pd.DataFrame, top: dict[str, np.ndarray],
             rows: np.ndarray, budget: float) -> list[str]:
    """Per quarantined row: the words of each scanner that alone would remove it."""
    alone = {s.name: set(top[s.name].tolist()) for s in chosen}
    out = []
    for i in rows.tolist():
        words = [f"{s.name}: {w}" for s in chosen if i in alone[s.name]
                 for w in s.reasons(table[s.name].to_numpy(), i)]
        out.append("; ".join(words) or f"combined rank only: no single scanner puts it in "
                                        f"its top {budget:g}")
    return out


def _summary(values: np.ndarray) -> dict[str, float]:
    q = np.quantile(values, [0.5, 0.9, 0.99])
    return {"median": float(q[0]), "q90": float(q[1]), "q99": float(q[2]),
            "max": float(values.max())}


def _flagged(chosen: list[Any], table: pd.DataFrame, level: float,
             removed: int) -> list[Finding]:
    """Per scanner with a rule of its own: the share of rows that rule flags."""
    from shakeout.report.findings import finding_name, proportion

    out = []
    for s in chosen:
        if s.threshold is None:
            continue
        values = table[s.name].to_numpy()
        summary = {**_summary(values), "threshold": s.threshold, "removed_at_budget": removed}
        k = int(np.sum(values > s.threshold))
        out.append(proportion(
            finding_name("scan", s.name, "flagged_share"), "flagged_share", k, len(values),
            level, drill="scan", group=s.name, unit="share of rows", details=summary,
            message=f"{s.name} flags {k} of {len(values)} rows by its own rule (score above "
                    f"{s.threshold:.4g})."))
    return out


def _judged(chosen: list[Any], table: pd.DataFrame, top: dict[str, np.ndarray],
            combined_top: np.ndarray, truth: np.ndarray | None, budget: float,
            level: float) -> list[Finding]:
    """With ground truth: the base rate, then each scanner's and the combined rank's
    precision and recall at the budget."""
    from scipy import stats

    from shakeout.report.findings import finding_name
    from shakeout.stats import adjust_p_values

    if truth is None:
        return []
    n, poisoned = len(truth), int(truth.sum())
    base = poisoned / n
    out = [Finding(name=finding_name("scan", "base_rate"), metric="base_rate", value=base,
                   drill="scan", group="base_rate", unit="share of rows",
                   details={"poisoned": poisoned, "rows": n},
                   message=f"{poisoned} of {n} rows are poisoned: a random removal's "
                           "expected precision.")]
    ranked = [*((s.name, top[s.name]) for s in chosen), ("combined", combined_top)]
    hits = [int(truth[rows].sum()) for _, rows in ranked]
    # a random removal of as many rows finds hypergeometric(n, poisoned, removed) of them
    p_raw = [float(stats.hypergeom.sf(h - 1, n, poisoned, len(rows)))
             for h, (_, rows) in zip(hits, ranked)]
    p_holm = adjust_p_values(p_raw, "holm")
    for (name, rows), h, p in zip(ranked, hits, p_holm):
        out += _precision_recall(name, h, len(rows), poisoned, base, budget, level, float(p))
    return out


def _precision_recall(name: str, hits: int, removed: int, poisoned: int, base: float,
                      budget: float, level: float, p: float) -> list[Finding]:
    """Precision and recall at the budget; precision judged against a random removal by an
    exact one-sided hypergeometric test, ``p`` Holm-adjusted over the scanners."""
    from shakeout.report.findings import finding_name, proportion

    precision = proportion(
        finding_name("scan", name, "precision", at=budget), "precision", hits, removed, level,
        drill="scan", group=name, unit="share of removed rows",
        details={"budget": budget, "removed": removed, "poisoned_found": hits,
                 "base_rate": base, "lift": hits / removed / base if base else math.nan,
                 "test": "exact hypergeometric, one-sided, Holm over the scanners"})
    better = p < 1 - level
    precision = replace(precision, p_value=p, status="pass" if better else "warn", message=(
        f"{name}: {hits} of the {removed} rows removed at budget {budget:g} are poisoned "
        f"(base rate {base:.3g}); " + (
            f"better than a random removal (p = {p:.3g}, Holm over the scanners)." if better
            else f"not shown better than a random removal (p = {p:.3g}, Holm over the "
                 "scanners).")))
    recall = proportion(
        finding_name("scan", name, "recall", at=budget), "recall", hits, poisoned, level,
        drill="scan", group=name, unit="share of poisoned rows",
        details={"budget": budget, "removed": removed, "poisoned": poisoned},
        message=f"{name} removes {hits} of the {poisoned} poisoned rows at budget {budget:g}.")
    return [precision, recall]


def _shown(table: pd.DataFrame, rows: np.ndarray) -> list[Finding]:
    """The most suspicious rows, for the report's table (group ``quarantine``)."""
    from shakeout.report.findings import finding_name

    out = []
    for i in rows.tolist():
        row_id = table.index[i]
        row_id = row_id.item() if isinstance(row_id, np.generic) else row_id
        out.append(Finding(
            name=finding_name("scan", "quarantine", f"row{row_id}"), metric="combined_score",
            value=float(table["combined"].iat[i]), drill="scan", group="quarantine",
            feature=str(row_id), details={"rank": int(table["rank"].iat[i]),
                                          "reasons": str(table["reasons"].iat[i])}))
    return out


def _manifest(X: Any, data_name: str, model: Any, seed: Any, n: int,
              timings: dict[str, float], chosen: list[Any], budget: float,
              level: float) -> Manifest:
    from shakeout.fingerprint import fingerprint

    return Manifest.collect(
        seed=seed if isinstance(seed, int) else None, data=data_name,
        data_fingerprint=fingerprint(X if isinstance(X, pd.DataFrame) else np.asarray(X)),
        model=None if model is None else getattr(model, "name", type(model).__name__),
        n_rows=n, timings=timings,
        parameters={"budget": budget, "level": level, "scanners": [s.name for s in chosen],
                    "combined": "mean rank percentile"})


def quarantine(result_or_scores: ScanResult | pd.DataFrame, path: str | Path) -> Path:
    """Write the rows removed at the budget, most suspicious first: ``row_id``, ``rank``,
    ``combined_score``, ``reasons``, then each scanner's score; csv or parquet by suffix.

    >>> import tempfile
    >>> rng = np.random.default_rng(0)
    >>> r = scan(rng.normal(size=(100, 2)), scanners=["iqr"], budget=0.03)
    >>> out = quarantine(r, Path(tempfile.mkdtemp()) / "quarantine.csv")
    >>> list(pd.read_csv(out).columns), len(pd.read_csv(out))
    (['row_id', 'rank', 'combined_score', 'reasons', 'iqr'], 3)
    """
    table = result_or_scores.scores if isinstance(result_or_scores, ScanResult) \
        else result_or_scores
    needed = {"combined", "rank", "quarantined", "reasons"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise ValidationError("quarantine: pass the result of scan() (or its scores table); "
                              "a result read back from results.json holds no per-row scores, "
                              "so run the scan again.")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValidationError(f"quarantine: {path.name!r} must end in .csv or .parquet.")
    chosen = table[table["quarantined"]].sort_values("rank")
    scanners = [c for c in table.columns if c not in needed]
    out = pd.DataFrame({"row_id": chosen.index, "rank": chosen["rank"].to_numpy(),
                        "combined_score": chosen["combined"].to_numpy(),
                        "reasons": chosen["reasons"].to_numpy()})
    for name in scanners:
        out[name] = chosen[name].to_numpy()
    if suffix == ".csv":
        out.to_csv(path, index=False)
    else:
        out.to_parquet(path, index=False)
    return path


def take_columns(data: Any, *, mask: str | None, key: str | None) -> tuple[Any, Any]:
    """The features without the ``mask`` and ``key`` columns (the key becomes the row ids),
    and the mask's values.

    >>> frame = pd.DataFrame({"id": [7, 8], "x": [0.1, 0.2], "poisoned": [False, True]})
    >>> X, mask = take_columns(frame, mask="poisoned", key="id")
    >>> list(X.columns), X.index.tolist(), mask.tolist()
    (['x'], [7, 8], [False, True])
    """
    if mask is None and key is None:
        return data, None
    if not isinstance(data, pd.DataFrame):
        raise ValidationError("scan: mask and key name columns of a table (csv or parquet); "
                              "this data has no columns.")
    for role, column in (("mask", mask), ("key", key)):
        if column is not None and column not in data.columns:
            raise ValidationError(f"scan: {role} column {column!r} not found; columns are "
                                  f"{[str(c) for c in data.columns][:20]}.")
    values = None if mask is None else data[mask].to_numpy()
    X = data.drop(columns=[c for c in (mask, key) if c is not None])
    if key is not None:
        X.index = pd.Index(data[key].to_numpy(), name=key)
    return X, values


def run(model: Any, data: Any, section: Any, *, seed: int, quiet: bool) -> ScanResult:
    """The scan drill on a loaded data set (and model, or None), with the plan's settings."""
    X, mask = take_columns(data.X, mask=section.mask, key=section.key)
    return scan(X, data.y, model=model, mask=mask, seed=seed, quiet=quiet,
                data_name=data.name, **section.run_kwargs())


__all__ = ["LABELS", "REPRESENTATIONS", "SCANNERS", "ScanResult", "TABULAR", "build_scanners",
           "combine", "order", "quarantine", "run", "scan", "take_columns"]
