"""Cut current data into windows: by a timestamp column (daily, weekly...) or every N rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError

ALIASES = {"day": "D", "daily": "D", "week": "W-MON", "weekly": "W-MON", "month": "MS",
           "monthly": "MS", "hour": "h", "hourly": "h"}
ROW_DIGITS = 9
"""Row numbers in window labels are zero-padded to this many digits, so labels sort as
numbers and a window keeps its label when the data grows."""


@dataclass(frozen=True)
class Window:
    """One window: its label (ISO date of its start, or a row range), rows and labels."""

    label: str
    frame: pd.DataFrame
    y: np.ndarray | None = None
    start: str | None = None
    end: str | None = None


def parse_every(every: Any) -> int | str | None:
    """A row count (``5000``, ``"5000"``) or a pandas frequency (``"1D"``, ``"week"``).

    >>> parse_every("5000"), parse_every("week"), parse_every("2D")
    (5000, 'W-MON', '2D')
    """
    if every is None or isinstance(every, int) and not isinstance(every, bool):
        if isinstance(every, int) and every < 1:
            raise ValidationError(f"every must be a positive row count, got {every!r}; use "
                                  "e.g. 5000 rows, or 'day' with a timestamp column.")
        return every
    text = str(every).strip()
    if text.isdigit():
        return parse_every(int(text))
    freq = ALIASES.get(text.lower(), text)
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise ValidationError(
            f"every={every!r} is neither a row count nor a pandas frequency; use e.g. 5000, "
            "'day', 'week', '1D' or '1W'."
        ) from None
    return freq


def split_windows(frame: pd.DataFrame, *, timestamp: str | None = None, every: Any = None,
                  target: str | None = None) -> Iterator[Window]:
    """Yield the windows of ``frame`` in time order.

    With ``timestamp``, rows are grouped by calendar periods of ``every`` (default one day;
    ``week`` runs Monday to Sunday) and labelled by the period's start (ISO date); periods
    without rows are skipped. Without ``timestamp``, ``every`` counts rows, and a window is
    labelled by the rows it covers when full, so a last, partial window keeps its label
    when more rows arrive. The timestamp and target columns are not features.

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=6, freq="12h"),
    ...                    "x": range(6)})
    >>> [(w.label, len(w.frame)) for w in split_windows(df, timestamp="t", every="day")]
    [('2024-01-01', 2), ('2024-01-02', 2), ('2024-01-03', 2)]
    >>> [(w.label, len(w.frame)) for w in split_windows(df.drop(columns="t"), every=4)]
    [('rows 000000000-000000003', 4), ('rows 000000004-000000007', 2)]
    """
    given, every = every, parse_every(every)
    drop = [c for c in (timestamp, target) if c is not None]
    for c in drop:
        if c not in frame.columns:
            raise ValidationError(f"column {c!r} not found; columns are "
                                  f"{[str(x) for x in frame.columns][:20]}.")

    def make(part: pd.DataFrame, label: str, start: str | None, end: str | None) -> Window:
        y = part[target].to_numpy() if target is not None else None
        return Window(label, part.drop(columns=drop).reset_index(drop=True), y, start, end)

    if timestamp is None:
        if every is None:
            yield make(frame, "all", None, None)
            return
        if isinstance(every, str):
            raise ValidationError(f"every={given!r} is a calendar period; name the timestamp "
                                  "column (--timestamp) or give a row count.")
        for start in range(0, len(frame), every):
            stop = min(start + every, len(frame)) - 1
            label = f"rows {start:0{ROW_DIGITS}d}-{start + every - 1:0{ROW_DIGITS}d}"
            yield make(frame.iloc[start:stop + 1], label, str(start), str(stop))
        return
    times = pd.to_datetime(frame[timestamp], errors="coerce")
    bad = int(times.isna().sum())
    if bad:
        raise ValidationError(f"timestamp column {timestamp!r} has {bad} empty or unparseable "
                              "values; fix or drop those rows.")
    frame = frame.assign(**{timestamp: times}).sort_values(timestamp, kind="stable")
    if isinstance(every, int):
        for w in split_windows(frame.drop(columns=[timestamp]), every=every, target=target):
            yield w
        return
    freq = every or "D"
    for period, part in frame.groupby(pd.Grouper(key=timestamp, freq=freq, label="left",
                                                  closed="left")):
        if len(part):
            start = pd.Timestamp(period)
            label = start.date().isoformat() if start == start.normalize() else start.isoformat()
            yield make(part, label, part[timestamp].min().isoformat(),
                       part[timestamp].max().isoformat())
