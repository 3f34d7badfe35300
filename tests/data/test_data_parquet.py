"""The parquet reader other pillars share: files of a folder, batches, the file named in errors."""

import numpy as np
import pandas as pd
import pytest

from shakeout.data import parquet_batches, parquet_files, sample_parquet
from shakeout.errors import ValidationError


def _write(path, frame):
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def test_batches_cover_every_file_once_in_name_order(tmp_path):
    _write(tmp_path / "b.parquet", pd.DataFrame({"a": np.arange(5.0), "b": 1}))
    _write(tmp_path / "day=1" / "a.pq", pd.DataFrame({"a": np.arange(5.0, 8.0), "b": 2}))
    _write(tmp_path / "_temporary" / "0.parquet", pd.DataFrame({"a": [99.0], "b": 3}))
    (tmp_path / "_SUCCESS").touch()
    files = parquet_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["b.parquet", "day=1/a.pq"]
    pairs = list(parquet_batches(tmp_path, columns=["a"], batch_size=2))
    assert [b.num_rows for _, b in pairs] == [2, 2, 1, 2, 1]
    assert all(b.schema.names == ["a"] for _, b in pairs)
    values = np.concatenate([b.column(0).to_numpy() for _, b in pairs])
    assert values.tolist() == list(np.arange(8.0))
    assert {f.name for f, _ in pairs} == {"b.parquet", "a.pq"}


def test_reader_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        parquet_files(tmp_path / "nothing")
    with pytest.raises(ValidationError, match="holds no parquet files"):
        parquet_files(tmp_path)
    _write(tmp_path / "p.parquet", pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValidationError, match=r"p\.parquet: columns \['z'\] .*missing"):
        list(parquet_batches(tmp_path, columns=["z"]))
    with pytest.raises(ValidationError, match="batch_size"):
        list(parquet_batches(tmp_path, batch_size=0))
    (tmp_path / "q.parquet").write_text("not parquet")
    with pytest.raises(ValidationError, match=r"q\.parquet: not a readable parquet"):
        list(parquet_batches(tmp_path))


def test_sample_is_the_same_from_shakeout_drift(tmp_path):
    from shakeout import drift

    _write(tmp_path / "p.parquet", pd.DataFrame({"i": np.arange(500)}))
    assert drift.sample_parquet is sample_parquet
    assert sample_parquet(tmp_path, 30, seed=1).equals(sample_parquet(tmp_path, 30, seed=1))
