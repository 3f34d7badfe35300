"""Provenance: a content hash per row and per batch, a lineage manifest beside the data, and
what changed since the last accepted batch.

An outlier score cannot see an edit that keeps a row plausible: a flipped label, a nudged
feature. A hash of every accepted row can. :func:`row_hashes` gives one digest per row
(:mod:`shakeout.poison.canonical` says how a cell is encoded: the same table from csv or
parquet, in any column order, hashes the same); :func:`batch_hash` one digest per batch;
:func:`write_manifest` writes them beside the data with the source files, their hashes and
row counts and the scans run; :func:`since` lists the rows added, removed and changed since
such a manifest, and :meth:`Diff.findings` turns that into findings: an edited old row fails.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout.errors import ValidationError
from shakeout.poison.canonical import DIGEST, KIND_OF_TAG, SCHEME, encode_column, row_digests

MANIFEST_KIND = "shakeout.provenance"
INLINE_ROWS = 1_000
"""Manifests of at most this many rows hold their row digests inline; larger ones in a
parquet file beside the manifest."""
CHUNK_ROWS = 65_536
SHOWN = 20
"""How many row keys or positions a finding's details list."""


@dataclass(frozen=True)
class Hashed:
    """Row digests of a data set, with what the manifest records about it."""

    hashes: pd.Series
    kinds: Mapping[str, str]
    sources: tuple[tuple[str, int], ...]


def row_hashes(frame_or_path: Any, *, target: str | None = None,
               key: str | None = None) -> pd.Series:
    """One 32-hex-digit BLAKE2b digest per row, the same for the same row read from csv or
    parquet and in any column order; a changed value changes that row's digest only.

    Parameters
    ----------
    frame_or_path : DataFrame, path, Dataset, ndarray or (X, y)
        A csv or parquet file, a folder of parquet files, an ``.npz`` file, or the data.
    target : str or None
        The label column. Every column is hashed, the label too (a flipped label is an
        edited row); a file or frame must hold it, and with ``(X, y)`` it names ``y``'s
        column (``"y"`` when None).
    key : str or None
        A column of unique row ids: the digests are indexed by it (by row number when None).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2, 3], "label": ["u", "v", "u"]})
    >>> b = a[["label", "x"]].astype({"x": float})
    >>> bool((row_hashes(a) == row_hashes(b)).all())
    True
    >>> c = a.copy(); c.loc[1, "label"] = "u"
    >>> (row_hashes(a) != row_hashes(c)).tolist()
    [False, True, False]
    >>> row_hashes(a, key="x").index.tolist()
    [1, 2, 3]
    """
    return _hashed(frame_or_path, target=target, key=key).hashes


def batch_hash(row_hashes: pd.Series | Sequence[str]) -> str:
    """One digest of a batch, whatever the order of its rows: BLAKE2b of the sorted row
    digests.

    Sorting keeps every row (two equal rows count twice, and any edit, addition or removal
    changes the digest); an XOR or a sum of the row digests would not: equal rows cancel
    under XOR, and a set of rows with a chosen XOR or sum is found by linear algebra
    (Wagner 2002), so an attacker could add rows that leave it unchanged.

    >>> h = row_hashes(pd.DataFrame({"x": [1, 2, 3]}))
    >>> batch_hash(h) == batch_hash(h[::-1]) != batch_hash(h[:2])
    True
    """
    digests = np.sort(np.asarray(row_hashes, dtype=str))
    text = "\n".join(digests.tolist())
    return hashlib.blake2b(f"{SCHEME}\n{text}".encode("ascii"), digest_size=DIGEST).hexdigest()


def _hashed(source: Any, *, target: str | None, key: str | None) -> Hashed:
    """Digests, column kinds and per-file row counts of ``source``, chunk by chunk."""
    digests, keys, tags, sources = [], [], {}, {}
    names: list[str] | None = None
    for origin, frame in _chunks(source, target):
        these = sorted(str(c) for c in frame.columns)
        if names is not None and these != names:
            raise ValidationError(f"{origin}: columns {these[:10]} differ from the first "
                                  f"file's {names[:10]}; every file of a data set must hold "
                                  "the same columns.")
        names = these
        _require(frame, target, "target", origin)
        _require(frame, key, "key", origin)
        hexes, seen = row_digests(frame)
        digests.append(hexes)
        if key is not None:
            keys.append(frame[key].reset_index(drop=True))
        for name, found in seen.items():
            tags.setdefault(name, set()).update(found)
        sources[origin] = sources.get(origin, 0) + len(frame)
    values = np.concatenate(digests) if digests else np.array([], dtype=str)
    index = _key_index(pd.concat(keys, ignore_index=True), key) if key is not None else None
    return Hashed(hashes=pd.Series(values, index=index, name="row_hash", dtype=str),
                  kinds={n: _kind(tags.get(n, set())) for n in names or []},
                  sources=tuple(sources.items()))


def _require(frame: pd.DataFrame, column: str | None, role: str, origin: str) -> None:
    if column is not None and column not in frame.columns:
        raise ValidationError(f"{origin}: {role} column {column!r} not found; columns are "
                              f"{[str(c) for c in frame.columns][:20]}.")


def _kind(tags: set[int]) -> str:
    """A column's kind: number, bool, time, duration, text, bytes, other; ``empty`` when
    every cell is missing, ``mixed`` when it holds several kinds."""
    kinds = {KIND_OF_TAG[t] for t in tags}
    return kinds.pop() if len(kinds) == 1 else ("empty" if not kinds else "mixed")


def _key_index(keys: pd.Series, key: str) -> pd.Index:
    """The row ids as an index; missing or repeated ids (1 and 1.0 are one id) are an error."""
    if keys.isna().any():
        raise ValidationError(f"key column {key!r} has {int(keys.isna().sum())} missing "
                              "values; every row needs an id. Fill them or pick another key.")
    codes = key_codes(keys)
    twice = pd.Series(codes).duplicated(keep=False).to_numpy()
    if twice.any():
        raise ValidationError(f"key column {key!r} repeats ids {keys[twice].unique()[:5].tolist()}"
                              "; a key must name one row each. Pick a unique column or hash "
                              "without key=.")
    return pd.Index(keys, name=key)


def key_codes(keys: Any) -> np.ndarray:
    """Canonical bytes of row ids, so that the id ``1`` from csv matches ``1.0`` from parquet."""
    cells = encode_column(pd.Series(keys).reset_index(drop=True))
    return np.ascontiguousarray(cells).view(f"S{cells.shape[1]}").ravel() if len(cells) \
        else np.array([], dtype="S17")


def _chunks(source: Any, target: str | None) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(origin, frame)`` pieces of ``source``: csv in chunks, parquet batch by batch."""
    from shakeout.data import Dataset, load_dataset, parquet_batches

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ValidationError(f"data path {str(path)!r} does not exist.")
        suffix = path.suffix.lower()
        if path.is_dir() or suffix in (".parquet", ".pq"):
            for file, batch in parquet_batches(path, batch_size=CHUNK_ROWS):
                yield str(file), batch.to_pandas()
            return
        if suffix == ".csv":
            yield from _csv_chunks(path)
            return
        source = load_dataset(path)
    if isinstance(source, pd.DataFrame):
        yield from (("data", source.iloc[i:i + CHUNK_ROWS])
                    for i in range(0, max(len(source), 1), CHUNK_ROWS))
        return
    ds = source if isinstance(source, Dataset) else load_dataset(source)
    frame = ds.X if ds.is_frame else pd.DataFrame(
        np.asarray(ds.X).reshape(len(ds.X), -1), columns=ds.feature_names)
    if ds.y is not None:
        frame = frame.assign(**{target or "y": ds.y})
    yield ds.name, frame


def _csv_chunks(path: Path) -> Iterator[tuple[str, pd.DataFrame]]:
    try:
        reader = pd.read_csv(path, chunksize=CHUNK_ROWS)
        yield from ((str(path), chunk) for chunk in reader)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValidationError(f"data file {path.name!r} could not be read as csv "
                              f"({' '.join(str(exc).split())}).") from None


@dataclass(frozen=True)
class Source:
    """One source file of a batch: its path (relative to the manifest when beside it), its
    SHA-256 and its row count."""

    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Lineage:
    """A lineage manifest as read back (:func:`read_manifest`); :meth:`hashes` loads its
    row digests and checks them against its batch hash."""

    path: Path
    created: str
    shakeout_version: str | None
    columns: Mapping[str, str]
    key: str | None
    target: str | None
    sources: tuple[Source, ...]
    rows: int
    batch_hash: str
    scans: tuple[str, ...] = ()
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    row_file: str | None = None
    inline: Mapping[str, Any] | None = None

    def hashes(self) -> pd.Series:
        """The row digests the manifest recorded, indexed by key (or row number).

        A row-hash file or inline list that no longer gives the manifest's batch hash and
        row count was changed after the manifest was written: an error says so.
        """
        if self.inline is not None:
            keys = self.inline.get("keys")
            found = pd.Series(self.inline["hashes"], dtype=str, name="row_hash",
                              index=None if keys is None else pd.Index(keys, name=self.key))
        else:
            file = self.path.parent / str(self.row_file)
            try:
                table = pd.read_parquet(file)
            except Exception as exc:  # noqa: BLE001 - a missing or broken file, any reader error
                raise ValidationError(f"manifest {self.path.name!r}: its row-hash file "
                                      f"{str(file)!r} could not be read ({exc}).") from None
            index = None if self.key is None else pd.Index(table[self.key], name=self.key)
            found = pd.Series(table["row_hash"].to_numpy(dtype=str), index=index,
                              name="row_hash", dtype=str)
        if len(found) != self.rows or batch_hash(found) != self.batch_hash:
            raise ValidationError(f"manifest {self.path.name!r}: its row digests no longer "
                                  "give its batch hash; the row-hash file or the manifest was "
                                  "edited after it was written. Do not trust this baseline.")
        return found


def write_manifest(path: str | Path | None, data_path: str | Path | Sequence[str | Path], *,
                   scans: Sequence[str] = (), thresholds: Mapping[str, Any] | None = None,
                   key: str | None = None, target: str | None = None) -> Path:
    """Write the lineage manifest of the data at ``data_path`` and return its path.

    The manifest (JSON) holds the source files with their SHA-256 and row counts, the batch
    hash, the row digests (inline up to :data:`INLINE_ROWS` rows, else a parquet file
    ``<manifest>.rows.parquet`` beside it, whose name starts with ``_`` so that readers of a
    parquet folder skip it), the column names and kinds, the key and target, the scans run
    and their thresholds, the shakeout version and the creation time (UTC).

    Parameters
    ----------
    path : str, Path or None
        Where to write it; None writes ``<file>.manifest.json`` beside a data file, or
        ``_manifest.json`` inside a folder of parquet files.
    data_path : str, Path or a sequence of them
        The batch: a csv or parquet file, a folder of parquet files, or several csv or
        parquet files with the same columns.
    scans, thresholds
        The scanners run on the batch and their thresholds (a removal budget, a score
        cut-off), as plain JSON values.
    key, target : str or None
        As in :func:`row_hashes`; with a key, :func:`since` can tell an edited row.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"id": [1, 2], "x": [0.5, 1.5]}).to_csv(folder / "b.csv", index=False)
    >>> m = read_manifest(write_manifest(None, folder / "b.csv", key="id", scans=["iqr"]))
    >>> m.path.name, m.rows, m.columns, m.sources[0].path
    ('b.csv.manifest.json', 2, {'id': 'number', 'x': 'number'}, 'b.csv')
    """
    files = [Path(p) for p in ([data_path] if isinstance(data_path, (str, Path))
                               else data_path)]
    if not files:
        raise ValidationError("write_manifest: data_path names no file; pass the batch's "
                              "csv or parquet file or folder.")
    out = Path(path) if path is not None else _beside(files[0])
    pieces = [_hashed(f, target=target, key=key) for f in files]
    hashed = _joined(pieces, key)
    hashes = hashed.hashes
    body: dict[str, Any] = {
        "kind": MANIFEST_KIND, "scheme": SCHEME, "created": _now(),
        "shakeout_version": _version(), "columns": dict(hashed.kinds), "key": key,
        "target": target, "rows": len(hashes), "batch_hash": batch_hash(hashes),
        "sources": [{"path": _relative(Path(origin), out), "sha256": _file_sha256(origin),
                     "rows": rows} for origin, rows in hashed.sources],
        "scans": list(scans), "thresholds": dict(thresholds or {})}
    if len(hashes) <= INLINE_ROWS and (key is None or hashed.kinds[key] in ("number", "text")):
        body["inline"] = {"hashes": hashes.tolist(),
                          "keys": None if key is None else hashes.index.tolist()}
    else:
        row_file = out.with_name("_" + out.name.removeprefix("_").removesuffix(".json")
                                 + ".rows.parquet")
        table = pd.DataFrame({"row_hash": hashes.to_numpy()})
        if key is not None:
            table.insert(0, key, hashes.index.to_numpy())
        table.to_parquet(row_file, index=False)
        body["row_file"] = row_file.name
    try:
        text = json.dumps(body, indent=2, allow_nan=False, default=_json_value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"write_manifest: scans and thresholds must be plain JSON "
                              f"values (text, finite numbers, lists, mappings): {exc}.") from None
    out.write_text(text + "\n", encoding="utf-8")
    return out


def _json_value(value: Any) -> Any:
    """numpy numbers and arrays as plain JSON values; anything else is refused."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


def _joined(pieces: list[Hashed], key: str | None) -> Hashed:
    """Several files' digests as one batch (their columns must agree)."""
    first = pieces[0]
    for other in pieces[1:]:
        _same_schema(first.kinds, other.kinds, "the first file", "a later file")
    hashes = pd.concat([p.hashes for p in pieces], ignore_index=key is None)
    if key is not None:
        hashes.index = _key_index(hashes.index.to_series(), key)
    kinds = {n: _kind_of(p.kinds[n] for p in pieces) for n in first.kinds}
    return Hashed(hashes=hashes, kinds=kinds,
                  sources=tuple(s for p in pieces for s in p.sources))


def _kind_of(kinds: Any) -> str:
    found = set(kinds) - {"empty"}
    return found.pop() if len(found) == 1 else ("empty" if not found else "mixed")


def _beside(data: Path) -> Path:
    return data / "_manifest.json" if data.is_dir() else data.with_name(
        data.name + ".manifest.json")


def _relative(file: Path, manifest: Path) -> str:
    try:
        return file.resolve().relative_to(manifest.resolve().parent).as_posix()
    except ValueError:
        return str(file.resolve())


def _file_sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("shakeout")
    except metadata.PackageNotFoundError:
        return None


_REQUIRED = {"scheme": str, "columns": dict, "rows": int, "batch_hash": str, "sources": list}


def read_manifest(path: str | Path) -> Lineage:
    """Read a lineage manifest written by :func:`write_manifest`.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = bad.write_text('{"kind": "results"}')
    >>> read_manifest(bad)
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: m.json is not a shakeout lineage manifest (its kind is \
'results'); pass the .manifest.json that write_manifest or shakeout scan wrote.
    """
    path = Path(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"manifest {str(path)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"manifest {path.name!r} is not readable JSON ({exc}).") from None
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind != MANIFEST_KIND:
        raise ValidationError(f"{path.name} is not a shakeout lineage manifest (its kind is "
                              f"{kind!r}); pass the .manifest.json that write_manifest or "
                              "shakeout scan wrote.")
    for name, kind_of in _REQUIRED.items():
        if not isinstance(body.get(name), kind_of):
            raise ValidationError(f"manifest {path.name!r}: {name!r} is missing or not a "
                                  f"{kind_of.__name__}; the file was damaged. Write it again.")
    if body["scheme"] != SCHEME:
        raise ValidationError(f"manifest {path.name!r} uses row-hash scheme "
                              f"{body['scheme']!r}; this shakeout reads {SCHEME!r}. Use the "
                              "shakeout version that wrote it, or write a new manifest.")
    return Lineage(path=path, created=str(body.get("created", "")),
                   shakeout_version=body.get("shakeout_version"), columns=body["columns"],
                   key=body.get("key"), target=body.get("target"),
                   sources=tuple(Source(**s) for s in body["sources"]), rows=body["rows"],
                   batch_hash=body["batch_hash"], scans=tuple(body.get("scans") or ()),
                   thresholds=body.get("thresholds") or {}, row_file=body.get("row_file"),
                   inline=body.get("inline"))


def _same_schema(old: Mapping[str, str], new: Mapping[str, str], old_name: str,
                 new_name: str) -> None:
    """Refuse two column sets that are not one data set's: other names, or a column whose
    kind changed outright (an empty or mixed column is compatible with any)."""
    missing, extra = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    if missing or extra:
        raise ValidationError(f"{new_name} is not the data set of {old_name}: columns "
                              f"missing {missing[:10]}, extra {extra[:10]}. Compare a batch "
                              "with the manifest of the same data set.")
    loose = {"empty", "mixed"}
    changed = [f"{n} ({old[n]} -> {new[n]})" for n in sorted(old)
               if old[n] != new[n] and old[n] not in loose and new[n] not in loose]
    if changed:
        raise ValidationError(f"{new_name} is not the data set of {old_name}: the kind of "
                              f"columns changed: {', '.join(changed[:10])}. Compare a batch "
                              "with the manifest of the same data set.")


@dataclass(frozen=True)
class Diff:
    """Rows added, removed and changed since a manifest.

    With a key, ``added``, ``removed`` and ``changed`` hold row ids; a row whose id is in
    both batches but whose digest differs is changed. Without a key rows are matched by
    digest alone (a repeated row counts as often as it occurs), ``added`` holds row numbers
    of the new data and ``removed`` row numbers of the old batch, and an edited row shows as
    one removed plus one added: ``changed`` is then always empty.
    """

    manifest: str
    key: str | None
    added: tuple[Any, ...]
    removed: tuple[Any, ...]
    changed: tuple[Any, ...]
    old_rows: int
    new_rows: int
    old_batch_hash: str
    new_batch_hash: str

    def findings(self, drill: str = "scan") -> tuple[Any, ...]:
        """Three findings, ``<drill>/provenance/changed``, ``removed`` and ``added``, whose
        value is a row count.

        An edited old row is the signature of poisoning that outlier scores miss, so any
        changed row fails; a removed row warns with a key and fails without one (it may be
        the old half of an edit); added rows are information.

        >>> d = Diff("m.json", "id", added=(9,), removed=(), changed=(4,), old_rows=5,
        ...          new_rows=6, old_batch_hash="a", new_batch_hash="b")
        >>> [(f.name, f.value, f.status) for f in d.findings()]
        [('scan/provenance/changed', 1.0, 'fail'), ('scan/provenance/removed', 0.0, 'pass'), \
('scan/provenance/added', 1.0, 'info')]
        """
        from shakeout.report.findings import finding_name
        from shakeout.report.result import Finding

        base = {"manifest": self.manifest, "key": self.key, "old_rows": self.old_rows,
                "new_rows": self.new_rows, "old_batch_hash": self.old_batch_hash,
                "new_batch_hash": self.new_batch_hash}
        removed_bad = "warn" if self.key is not None else "fail"
        out = []
        for part, rows, bad, of in (("changed", self.changed, "fail", self.old_rows),
                                    ("removed", self.removed, removed_bad, self.old_rows),
                                    ("added", self.added, "info", self.new_rows)):
            status = "info" if bad == "info" else (bad if rows else "pass")
            out.append(Finding(
                name=finding_name(drill, "provenance", part), metric=f"rows_{part}",
                value=float(len(rows)), status=status, drill=drill, group="provenance",
                unit="rows", message=self._message(part, rows),
                details={**base, "share": len(rows) / of if of else math.nan,
                         "rows": [_plain(r) for r in rows[:SHOWN]]}))
        return tuple(out)

    def _message(self, part: str, rows: tuple[Any, ...]) -> str:
        which = "ids" if self.key is not None else "row numbers"
        shown = ", ".join(str(_plain(r)) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        text = f"{len(rows)} rows {part} since {self.manifest}" + (
            f" ({which} {shown})." if rows else ".")
        if part == "removed" and self.key is None and rows:
            text += (" Without a key an edited row shows as removed plus added; pass key= "
                     "to tell edits apart.")
        return text

    def result(self) -> Any:
        """The diff as a Result (drill ``scan``, group ``provenance``).

        >>> d = Diff("m.json", None, (), (), (), 3, 3, "a", "a")
        >>> d.result().status
        'pass'
        """
        from shakeout.report.result import Manifest, Result

        return Result(title=f"Provenance since {self.manifest}", findings=self.findings(),
                      manifest=Manifest.collect(n_rows=self.new_rows, parameters={
                          "manifest": self.manifest, "key": self.key}))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def since(manifest: str | Path | Lineage, frame_or_path: Any, *, key: str | None = None,
          target: str | None = None) -> Diff:
    """Rows added, removed and changed in ``frame_or_path`` since ``manifest``.

    Parameters
    ----------
    manifest : path or Lineage
        The manifest of the last accepted batch (:func:`write_manifest`).
    frame_or_path : DataFrame, path, Dataset, ndarray or (X, y)
        The batch to compare, as in :func:`row_hashes`.
    key : str or None
        The id column; the manifest's key when None. A manifest written without a key can
        only be compared without one.

    A batch with other columns, or a column whose kind changed outright (numbers that became
    text), is another data set: an error says so.

    Examples
    --------
    >>> import tempfile
    >>> old = pd.DataFrame({"id": [1, 2, 3], "x": [0.1, 0.2, 0.3], "y": [0, 1, 0]})
    >>> where = Path(tempfile.mkdtemp()) / "train.parquet"
    >>> old.to_parquet(where)
    >>> m = write_manifest(None, where, key="id")
    >>> new = pd.concat([old.drop(index=0), pd.DataFrame({"id": [4], "x": [0.4], "y": [1]})])
    >>> new.loc[new["id"] == 2, "y"] = 0          # a flipped label
    >>> d = since(m, new)
    >>> d.added, d.removed, d.changed
    ((4,), (1,), (2,))
    """
    lineage = manifest if isinstance(manifest, Lineage) else read_manifest(manifest)
    key = lineage.key if key is None else key
    if key is not None and lineage.key != key:
        raise ValidationError(f"manifest {lineage.path.name!r} was written "
                              + ("without a key" if lineage.key is None else
                                 f"with key {lineage.key!r}")
                              + f", so rows cannot be matched by {key!r}. Compare with "
                              f"key={lineage.key!r} or write the manifest with key={key!r}.")
    new = _hashed(frame_or_path, target=target, key=key)
    _same_schema(lineage.columns, new.kinds, f"manifest {lineage.path.name!r}", "this data")
    old = lineage.hashes()
    added, removed, changed = (_by_key(old, new.hashes) if key is not None
                               else _by_hash(old, new.hashes))
    return Diff(manifest=lineage.path.name, key=key, added=added, removed=removed,
                changed=changed, old_rows=len(old), new_rows=len(new.hashes),
                old_batch_hash=lineage.batch_hash, new_batch_hash=batch_hash(new.hashes))


def _by_key(old: pd.Series, new: pd.Series) -> tuple[tuple[Any, ...], ...]:
    """Ids only new, ids only old, and ids in both whose digest differs (in data order)."""
    old_codes, new_codes = pd.Index(key_codes(old.index)), pd.Index(key_codes(new.index))
    at = old_codes.get_indexer(new_codes)
    both = at >= 0
    edited = old.to_numpy()[at[both]] != new.to_numpy()[both]
    removed = new_codes.get_indexer(old_codes) < 0
    return (_ids(new.index[~both]), _ids(old.index[removed]),
            _ids(new.index[both][edited]))


def _by_hash(old: pd.Series, new: pd.Series) -> tuple[tuple[Any, ...], ...]:
    """Row numbers of new rows whose digest the old batch lacks (counting repeats), of old
    rows the new batch lacks, and no changed rows."""
    old_rows, new_rows = _occurrences(old), _occurrences(new)
    added = np.flatnonzero(old_rows.get_indexer(new_rows) < 0)
    removed = np.flatnonzero(new_rows.get_indexer(old_rows) < 0)
    return tuple(added.tolist()), tuple(removed.tolist()), ()


def _occurrences(hashes: pd.Series) -> pd.MultiIndex:
    """Each digest with its occurrence number, so a row repeated k times matches k times."""
    values = hashes.to_numpy(dtype=str)
    nth = pd.Series(values).groupby(values).cumcount().to_numpy()
    return pd.MultiIndex.from_arrays([values, nth])


def _ids(index: pd.Index) -> tuple[Any, ...]:
    return tuple(index.tolist())
