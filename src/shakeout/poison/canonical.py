"""The canonical form behind row hashes: every cell as 17 bytes, every row as one digest.

A csv file keeps no types, so a cell is encoded by the value it denotes, not by its dtype:
the same table read from csv or parquet, or with its columns in another order, gives the
same bytes. Each cell is one tag byte and a 16-byte payload:

========  =====================================================================
tag       cells and payload
========  =====================================================================
missing   None, NaN, NaT, ``pd.NA``, and the texts pandas' csv reader reads as
          missing (``""``, ``"NA"``, ``"NaN"``, ``"null"``...); payload zero
integer   a whole number in ``[-2**63, 2**63)``, whatever its dtype: ``1``,
          ``1.0``, ``np.float32(1)`` and the text ``"1"`` agree; int64,
          little-endian. ``-0.0`` is ``0``.
float     any other number (``inf`` too): its float64 bits. float16 and float32
          are widened through their shortest decimal text, so ``np.float32(0.1)``
          is the float64 ``0.1`` a csv file holds.
bool      ``True``/``False`` (and the texts ``"True"``, ``"true"``, ``"TRUE"``...)
time      a timestamp, a date or an ISO 8601 text: nanoseconds since the epoch,
          in UTC when it has a time zone, as written when it has none
duration  a timedelta: nanoseconds
text      any other text: the first 16 bytes of its BLAKE2b digest (UTF-8)
bytes     the first 16 bytes of the BLAKE2b digest of the bytes
other     any other object: the BLAKE2b digest of its ``repr``
========  =====================================================================

A text cell is read as a csv reader would read it (a number, a bool, a timestamp, a missing
value), so a text column of numbers in parquet hashes as the numbers csv gives back; the
cost is that the texts ``"01234"`` and ``"1234"`` agree, as they do once written to csv.

A row's digest is BLAKE2b (Aumasson et al. 2013, RFC 7693) with a 16-byte output over
the schema (the scheme name and the sorted column names) followed by its cells in column-name
order. A cryptographic hash, because an attacker who edits a row must not be able to keep
its digest: a second row with the same digest costs about 2**128 trials.
"""

from __future__ import annotations

import hashlib
import numbers
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError

SCHEME = "shakeout-rows-1"
CELL = 17
DIGEST = 16
MISSING, INTEGER, FLOAT, BOOL, TIME, DURATION, TEXT, BYTES, OTHER = range(9)
KIND_OF_TAG = {INTEGER: "number", FLOAT: "number", BOOL: "bool", TIME: "time",
               DURATION: "duration", TEXT: "text", BYTES: "bytes", OTHER: "other"}

# pandas' default ``na_values`` of ``read_csv`` (its documentation lists them).
NA_WORDS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                      "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                      "nan", "null"})
TRUE_WORDS = frozenset({"True", "TRUE", "true"})
FALSE_WORDS = frozenset({"False", "FALSE", "false"})
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|infinity))")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?")
_LOW, _HIGH = -(2.0 ** 63), 2.0 ** 63


def encode_column(values: pd.Series) -> np.ndarray:
    """The ``(n, 17)`` uint8 cells of one column: a tag byte and a 16-byte payload.

    Typed columns (numbers, bools, timestamps, durations) are encoded without a Python
    loop; text columns loop over their distinct values only; columns of mixed Python
    objects value by value.

    >>> a = encode_column(pd.Series([1, 2, 3]))
    >>> b = encode_column(pd.Series([1.0, 2.0, 3.0]))
    >>> c = encode_column(pd.Series(["1", "2.0", "3"]))
    >>> bool((a == b).all() and (a == c).all()), a.shape
    (True, (3, 17))
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        cells = encode_column(pd.Series(values.cat.categories))[codes]
        cells[codes < 0] = 0
        return cells
    mask = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(dtype):
        return _cells(np.where(mask, MISSING, BOOL),
                      values.to_numpy(dtype=bool, na_value=False).astype(np.uint64))
    if pd.api.types.is_numeric_dtype(dtype):
        return _number_cells(_as_float_or_int(values, mask), mask)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return _cells(np.where(mask, MISSING, TIME if dtype.kind != "m" else DURATION),
                      _nanoseconds(values, mask).view(np.uint64))
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        cells = text_cells(np.asarray(uniques, dtype=object))[codes]
        cells[codes < 0] = 0
        return cells
    return np.stack([cell(v) for v in values.to_numpy(dtype=object)]) if len(values) \
        else np.zeros((0, CELL), np.uint8)


def _cells(tags: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Cells from tags and one 8-byte little-endian word each (the rest of the payload 0)."""
    out = np.zeros((len(tags), CELL), np.uint8)
    out[:, 0] = tags
    out[:, 1:9] = np.ascontiguousarray(words, dtype="<u8").view(np.uint8).reshape(-1, 8)
    out[tags == MISSING, 1:] = 0
    return out


def _as_float_or_int(values: pd.Series, mask: np.ndarray) -> np.ndarray:
    """A numeric column as int64 (integers that fit) or float64 (the rest); float16 and
    float32 widened through their shortest decimal text."""
    dtype = values.dtype
    if pd.api.types.is_integer_dtype(dtype):
        if dtype.kind == "u" and len(values) and values.max() >= 2 ** 63:
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.to_numpy(dtype=np.int64, na_value=0)
    if pd.api.types.is_complex_dtype(dtype):
        raise ValidationError(f"column {values.name!r} holds complex numbers, which row "
                              "hashes do not encode; store the real and imaginary parts as "
                              "two columns.")
    raw = values.to_numpy(na_value=np.nan)
    if raw.dtype.itemsize < 8:  # float16/32: the float64 their shortest text denotes
        return raw.astype(str).astype(np.float64)
    return raw.astype(np.float64, copy=False)


def _number_cells(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Integer cells for whole numbers in the int64 range, float cells for the rest."""
    if v.dtype.kind == "i":
        return _cells(np.where(mask, MISSING, INTEGER), v.view(np.uint64))
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(v) & (v == np.floor(v)) & (v >= _LOW) & (v < _HIGH)
    ints = np.where(whole, v, 0.0).astype(np.int64)
    words = np.where(whole, ints.view(np.uint64), v.view(np.uint64))
    tags = np.where(mask | np.isnan(v), MISSING, np.where(whole, INTEGER, FLOAT))
    return _cells(tags, words)


def _nanoseconds(values: pd.Series, mask: np.ndarray) -> np.ndarray:
    """Timestamps (UTC when they have a zone) or durations as int64 nanoseconds."""
    if getattr(values.dtype, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    kind = "timedelta64[ns]" if values.dtype.kind == "m" else "datetime64[ns]"
    ns = values.to_numpy().astype(kind).view(np.int64).copy()
    ns[mask] = 0
    return ns


def text_cells(texts: Sequence[str]) -> np.ndarray:
    """The cells of distinct texts, each read as a csv reader would read it.

    >>> cells = text_cells(["NA", "true", "7", "2.5", "2024-01-02", "x"])
    >>> cells[:, 0].tolist()
    [0, 3, 1, 2, 4, 6]
    """
    s = pd.Series(list(texts), dtype=object)
    tags = np.full(len(s), TEXT, np.int64)
    words = np.zeros(len(s), np.uint64)
    tags[s.isin(NA_WORDS).to_numpy()] = MISSING
    truth = s.isin(TRUE_WORDS).to_numpy()
    tags[truth | s.isin(FALSE_WORDS).to_numpy()] = BOOL
    words[truth] = 1
    rest = tags == TEXT
    _parse_numbers(s, rest, tags, words)
    _parse_times(s, tags == TEXT, tags, words)
    out = _cells(tags, words)
    for i in np.flatnonzero(tags == TEXT):
        out[i, 1:] = np.frombuffer(_blake(s.iat[i].encode("utf-8")), np.uint8)
    return out


def _parse_numbers(s: pd.Series, rest: np.ndarray, tags: np.ndarray,
                   words: np.ndarray) -> None:
    """Texts that are numbers become number cells (in place): integers exactly, others
    through float64 (a correctly rounded parse)."""
    is_int = rest & s.str.fullmatch(_INT).fillna(False).to_numpy(dtype=bool)
    is_float = rest & ~is_int & s.str.fullmatch(_FLOAT).fillna(False).to_numpy(dtype=bool)
    ints = [int(t) for t in s[is_int]]
    fits = np.array([-(2 ** 63) <= i < 2 ** 63 for i in ints], dtype=bool)
    at = np.flatnonzero(is_int)
    tags[at[fits]] = INTEGER
    words[at[fits]] = np.array([i for i, ok in zip(ints, fits, strict=True) if ok],
                               dtype=np.int64).view(np.uint64)
    big = np.zeros(len(s), bool)
    big[at[~fits]] = True
    floats = is_float | big
    if floats.any():
        v = np.asarray(s[floats].tolist(), dtype=str).astype(np.float64)
        cells = _number_cells(v, np.zeros(len(v), bool))
        tags[floats] = cells[:, 0]
        words[floats] = cells[:, 1:9].copy().view("<u8").ravel()


def _parse_times(s: pd.Series, rest: np.ndarray, tags: np.ndarray, words: np.ndarray) -> None:
    """ISO 8601 texts that are real instants become time cells (in place)."""
    looks = rest & s.str.fullmatch(_TIME).fillna(False).to_numpy(dtype=bool)
    if not looks.any():
        return
    at = pd.to_datetime(s[looks], format="ISO8601", utc=True, errors="coerce")
    ok = at.notna().to_numpy()
    where = np.flatnonzero(looks)[ok]
    tags[where] = TIME
    words[where] = _nanoseconds(at[ok], np.zeros(int(ok.sum()), bool)).view(np.uint64)


def cell(value: Any) -> np.ndarray:
    """The 17-byte cell of one Python value (columns of mixed objects).

    >>> bool((cell(1) == cell(1.0)).all()), bool((cell(True) == cell(1)).all())
    (True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return np.zeros(CELL, np.uint8)
    if isinstance(value, (bool, np.bool_)):
        return _cells(np.array([BOOL]), np.array([int(value)], np.uint64))[0]
    if isinstance(value, numbers.Integral) and -(2 ** 63) <= value < 2 ** 63:
        return _cells(np.array([INTEGER]), np.array([int(value)], np.int64).view(np.uint64))[0]
    if isinstance(value, numbers.Real):
        floating = value if isinstance(value, np.floating) else float(value)
        return encode_column(pd.Series([floating]))[0]
    if isinstance(value, str):
        return text_cells([value])[0]
    if isinstance(value, (datetime, date, np.datetime64)):
        return encode_column(pd.Series([pd.Timestamp(value)]))[0]
    if isinstance(value, (timedelta, np.timedelta64)):
        return encode_column(pd.Series([pd.Timedelta(value)]))[0]
    payload = bytes(value) if isinstance(value, (bytes, bytearray)) else repr(value).encode()
    tag = BYTES if isinstance(value, (bytes, bytearray)) else OTHER
    return np.frombuffer(bytes([tag]) + _blake(payload), np.uint8).copy()


def _blake(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST).digest()


def schema_prefix(names: Sequence[str]) -> bytes:
    """The 16 bytes every row digest starts from: the scheme and the sorted column names.

    >>> schema_prefix(["b", "a"]) == schema_prefix(["a", "b"]) != schema_prefix(["a"])
    True
    """
    text = "\x1f".join([SCHEME, *sorted(names)])
    return _blake(text.encode("utf-8"))


def row_digests(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, set[int]]]:
    """Each row's 32-hex-digit digest and, per column, the tags its cells hold.

    >>> a = pd.DataFrame({"x": [1, 2], "s": ["u", "v"]})
    >>> b = pd.DataFrame({"s": ["u", "v"], "x": [1.0, 2.0]})
    >>> bool((row_digests(a)[0] == row_digests(b)[0]).all()), row_digests(a)[1]
    (True, {'s': {6}, 'x': {1}})
    """
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"columns {twice[:10]} appear more than once; row hashes need "
                              "unique column names. Rename or drop the copies.")
    order = sorted(range(len(names)), key=names.__getitem__)
    width = DIGEST + CELL * len(names)
    rows = np.empty((len(frame), width), np.uint8)
    rows[:, :DIGEST] = np.frombuffer(schema_prefix(names), np.uint8)
    columns = np.empty((len(names), len(frame)), f"V{CELL}")
    tags: dict[str, set[int]] = {}
    for j, i in enumerate(order):
        cells = encode_column(frame.iloc[:, i])
        columns[j] = cells.view(f"V{CELL}").ravel()
        seen = np.bincount(cells[:, 0], minlength=MISSING + 1)
        tags[names[i]] = {int(t) for t in np.flatnonzero(seen)} - {MISSING}
    if len(names):  # one transposing copy of opaque 17-byte cells is the fast one
        rows[:, DIGEST:].view(f"V{CELL}")[:] = columns.T
    flat = memoryview(rows.reshape(-1))
    blake = hashlib.blake2b
    joined = b"".join([blake(flat[k:k + width], digest_size=DIGEST).digest()
                       for k in range(0, len(flat), width)])
    return np.frombuffer(joined.hex().encode("ascii"), f"S{2 * DIGEST}").astype(str), tags
