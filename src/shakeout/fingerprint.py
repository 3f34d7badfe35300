"""Short, stable fingerprints of models, data and files: what a manifest records to say
which model met which data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np


def fingerprint(obj: Any) -> str:
    """A short, stable SHA-256 fingerprint of arrays, frames, files or bytes.

    >>> fingerprint(np.arange(3.0)) == fingerprint(np.arange(3.0))
    True
    """
    h = hashlib.sha256()
    if isinstance(obj, (str, Path)) and Path(obj).is_file():
        with open(obj, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    elif isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        h.update(str((arr.dtype.str, arr.shape)).encode())
        if arr.dtype == object:
            h.update(repr(arr.tolist()).encode())
        else:  # hash the buffer in place, without a copy of a large array
            h.update(memoryview(arr.reshape(-1)).cast("B"))
    elif hasattr(obj, "to_numpy") and hasattr(obj, "columns"):
        import pandas as pd

        h.update(repr(list(obj.columns)).encode())
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, bytes):
        h.update(obj)
    else:
        h.update(repr(obj).encode())
    return h.hexdigest()[:16]
