"""``shakeout.monitor.run``: compare window after window with the reference, into the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._progress import progress
from shakeout._validation import check_positive_int
from shakeout.drift.suite import DriftSuite
from shakeout.errors import ValidationError
from shakeout.monitor.hysteresis import DEESCALATE_AFTER, hold
from shakeout.monitor.onset import onset
from shakeout.monitor.store import DEFAULT_URL, HistoryStore
from shakeout.monitor.windows import Window, parse_every, split_windows
from shakeout.report.result import Manifest, Result

TABLES = (".csv", ".parquet", ".pq")


def _read(path: Path) -> pd.DataFrame:
    from shakeout.data import load_dataset

    data = load_dataset(path).X
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(f"{path.name}: monitoring reads tables (csv or parquet), "
                              "not arrays.")
    return data


def iter_windows(current: Any, *, timestamp: str | None = None, every: Any = None,
                 target: str | None = None) -> Iterator[Window]:
    """Windows of a table, a csv/parquet file, or a folder of such files (one at a time).

    In a folder each file is read in name order; without ``timestamp`` and ``every`` each
    file is one window labelled by its name, otherwise each file is cut further: row
    windows restart in each file and carry its name; a calendar period that runs on into
    the next file is one window (files must follow each other in time).
    """
    if isinstance(current, (str, Path)) and Path(current).is_dir():
        files = sorted(p for p in Path(current).iterdir() if p.suffix.lower() in TABLES)
        if not files:
            raise ValidationError(f"folder {str(current)!r} holds no csv or parquet files.")
        by_rows = isinstance(parse_every(every), int)
        pending = None  # the last period read, which the next file may continue
        for path in files:
            frame = _read(path)
            if timestamp is None and every is None:
                if target is not None and target not in frame.columns:
                    raise ValidationError(f"{path.name}: target column {target!r} not found.")
                y = frame[target].to_numpy() if target is not None else None
                yield Window(path.stem, frame.drop(columns=[target] if target else []), y)
                continue
            for window in split_windows(frame, timestamp=timestamp, every=every, target=target):
                if by_rows:
                    yield replace(window, label=f"{path.stem} {window.label}")
                elif pending is not None and pending.label == window.label:
                    pending = _join(pending, window)
                else:
                    if pending is not None:
                        yield pending
                    pending = window
        if pending is not None:
            yield pending
        return
    frame = _read(Path(current)) if isinstance(current, (str, Path)) else current
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("monitor: current data must be a DataFrame, a csv/parquet file "
                              f"or a folder of them, got {type(frame).__name__}.")
    yield from split_windows(frame, timestamp=timestamp, every=every, target=target)


def _join(a: Window, b: Window) -> Window:
    """One window from the two parts of a period split across files."""
    y = None if a.y is None else np.concatenate([a.y, b.y])
    return Window(a.label, pd.concat([a.frame, b.frame], ignore_index=True), y,
                  min(a.start, b.start), max(a.end, b.end))


def _held(result: Result, decisions: dict, deescalate_after: int) -> Result:
    """The window's Result with its decision under the rule; ``decisions`` (window ->
    decision of the earlier windows) gains this one."""
    label = next(f.window for f in result.findings if f.metric == "decision")
    previous = [decisions[w] for w in sorted(decisions) if w < label]
    findings = tuple(hold(f, previous, deescalate_after=deescalate_after)
                     if f.metric == "decision" else f for f in result.findings)
    decisions[label] = next(f for f in findings if f.metric == "decision")
    return replace(result, findings=findings)


def run(reference: Any, current: Any, *, timestamp: str | None = None, every: Any = None,
        target: str | None = None, model: Any = None, y_reference: Any = None,
        holdout: tuple[Any, Any] | None = None, store: HistoryStore | str | None = None,
        stream: str = "default", seed: Any = 0, resume: bool = True, quiet: bool = True,
        deescalate_after: int = DEESCALATE_AFTER, **options: Any) -> Result:
    """Run every window of ``current`` against ``reference``, storing each one as it completes.

    The reference work is done once (:class:`~shakeout.drift.DriftSuite`, ``options`` are
    its parameters; ``holdout`` is the performance baseline, as in ``DriftSuite.fit``). Each
    window's Result goes to ``store`` in one transaction; with
    ``resume`` windows already stored are skipped, so a restarted monitor picks up where it
    stopped, except the latest stored window, which is run again in case the data then
    ended inside it (a day still in progress, a partial row window). Returns the whole
    stored history plus onset findings (when and where drift began) as one Result, ready
    for a report with a chart per statistic over time.

    Decisions do not flap: each window's decision escalates at once but steps down only
    after ``deescalate_after`` consecutive calmer windows (see
    :func:`~shakeout.monitor.hysteresis.hold`); the window's decision finding says when
    the rule held it.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from shakeout import monitor
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"a": rng.normal(size=1000)})
    >>> days = pd.date_range("2024-01-01", periods=4, freq="D").repeat(500)
    >>> cur = pd.DataFrame({"t": days, "a": rng.normal(size=2000) + (days >= "2024-01-03")})
    >>> result = monitor.run(ref, cur, timestamp="t", store="sqlite://", multivariate=())
    >>> [f.details["first_window"] for f in result.select(group="onset")][:1]
    ['2024-01-03']
    """
    store = store if isinstance(store, HistoryStore) else HistoryStore(store or DEFAULT_URL,
                                                                       stream=stream)
    if timestamp is not None and isinstance(reference, pd.DataFrame) and (
            timestamp in reference.columns):
        reference = reference.drop(columns=[timestamp])  # not a feature, as in the windows
    check_positive_int("monitor.run", "deescalate_after", deescalate_after)
    start = time.perf_counter()
    stored = store.windows()  # opens the store before the work, so a bad URL fails fast
    done = set(stored) - {max(stored)} if resume and stored else set()
    decisions = {f.window: f for f in (store.findings() if done else ())
                 if f.metric == "decision" and f.window in done}
    suite = DriftSuite(seed=seed, **options).fit(reference, y=y_reference, model=model,
                                                 holdout=holdout)
    ran, skipped, seen = 0, 0, set()
    for window in progress(iter_windows(current, timestamp=timestamp, every=every,
                                        target=target), description="windows", quiet=quiet):
        if window.label in seen:
            raise ValidationError(
                f"window {window.label!r} comes up twice in the current data, and the second "
                "would replace the first in the store; give files distinct names, in time "
                "order, each holding its own periods."
            )
        seen.add(window.label)
        if window.label in done:
            skipped += 1
            continue
        result = _held(suite.run(window.frame, y=window.y, window=window.label), decisions,
                       deescalate_after)
        store.write(window.label, result, start=window.start, end=window.end)
        ran += 1
    history = store.findings()
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, data=f"monitor stream {stream!r}",
        n_rows=None, timings={"fit": suite.fit_seconds_, "total": time.perf_counter() - start},
        parameters={"store": store._safe_url(), "stream": store.stream, "timestamp": timestamp,
                    "every": every, "windows_run": ran, "windows_skipped": skipped,
                    "deescalate_after": deescalate_after,
                    "windows_stored": len(store.windows())})
    return Result(title=f"Drift monitor: {store.stream}",
                  findings=tuple(history) + tuple(onset(history)), manifest=manifest)
