"""Parquet read in batches: a file or a folder of files, in bounded memory.

A folder is read as Spark, Dask and Arrow read it: paths with a part starting with ``_`` or
``.`` (``_temporary/``, ``_SUCCESS``, checksums) are skipped. Every reader here holds about
one batch (one row group) at a time, whatever the size of the table; a file that cannot be
read is named in the error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import as_generator, check_positive_int
from shakeout.errors import ValidationError

PARQUET_SUFFIXES = (".parquet", ".pq")


def parquet_files(path: str | Path) -> list[Path]:
    """The parquet files of a file or folder, in name order, skipping ``_`` and ``.`` paths.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b.parquet", "a.pq", "_temporary/c.parquet", "_SUCCESS"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     (root / name).touch()
    >>> [p.name for p in parquet_files(root)]
    ['a.pq', 'b.parquet']
    """
    root = Path(path)
    if not root.exists():
        raise ValidationError(f"parquet path {str(path)!r} does not exist.")
    if not root.is_dir():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts))
    if not files:
        raise ValidationError(f"folder {str(path)!r} holds no parquet files.")
    return files


def parquet_batches(path: str | Path, *, columns: Sequence[str] | None = None,
                    batch_size: int = 65_536) -> Iterator[tuple[Path, Any]]:
    """``(file, record batch)`` pairs of a parquet file or folder, one batch at a time.

    ``columns`` (all when None) are read from every file; a file that lacks one is an
    error that names the file. Reading without pre-buffering keeps memory at about one row
    group.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")}).to_parquet(path)
    >>> [(file.name, batch.num_rows, batch.schema.names)
    ...  for file, batch in parquet_batches(path, columns=["a"], batch_size=3)]
    [('t.parquet', 3, ['a']), ('t.parquet', 2, ['a'])]
    """
    check_positive_int("parquet_batches", "batch_size", batch_size)
    for file in parquet_files(path):
        for batch in _file_batches(file, None if columns is None else list(columns),
                                   batch_size):
            yield file, batch


def _file_batches(file: Path, columns: list[str] | None, batch_size: int) -> Iterator[Any]:
    """Record batches of one parquet file; an unreadable file is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(file, pre_buffer=False, buffer_size=1 << 20)
        names = reader.schema_arrow.names
        absent = [c for c in columns or () if c not in names]
        if absent:
            raise ValidationError(f"{file}: columns {absent[:10]} of the reference are "
                                  f"missing; it has {names[:10]}. Add them to the file or "
                                  "move it out of the folder.")
        yield from reader.iter_batches(batch_size=batch_size, columns=columns)
    except pa.ArrowException as error:
        raise ValidationError(f"{file}: not a readable parquet file ({error}); rewrite it or "
                              "move it out of the folder.") from None


def sample_parquet(path: str | Path, n_rows: int = 100_000, *, seed: Any = 0,
                   batch_size: int = 65_536) -> pd.DataFrame:
    """A uniform random sample of ``n_rows`` rows of a parquet file, streamed (bounded memory).

    Every row gets a random key and the ``n_rows`` smallest keys are kept across batches,
    so the sample is uniform without loading the table; fit a
    :class:`~shakeout.drift.ProfileSpec` on it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "big.parquet"
    >>> pd.DataFrame({"a": np.arange(10_000.0)}).to_parquet(path)
    >>> len(sample_parquet(path, 100, batch_size=1_000))
    100
    """
    check_positive_int("sample_parquet", "n_rows", n_rows)
    check_positive_int("sample_parquet", "batch_size", batch_size)
    rng = as_generator(seed)
    kept, keys = None, np.empty(0)
    for _, batch in parquet_batches(path, batch_size=batch_size):
        frame = batch.to_pandas()
        both = frame if kept is None else pd.concat([kept, frame], ignore_index=True)
        all_keys = np.concatenate([keys, rng.random(len(frame))])
        order = np.argsort(all_keys, kind="stable")[:n_rows]
        kept, keys = both.iloc[order].reset_index(drop=True), all_keys[order]
    if kept is None:
        raise ValidationError(f"{Path(path).name} has no rows.")
    return kept
