"""``load_dataset``: csv, parquet, npz, arrays and DataFrames, with errors that say the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from shakeout.data import Dataset, load_dataset
from shakeout.errors import ValidationError


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame["region"] = np.where(frame["alcohol"] > 13, "north", "south")  # a text column
    return frame


def _check_wine(ds: Dataset, wine: pd.DataFrame) -> None:
    assert isinstance(ds.X, pd.DataFrame)
    assert "target" not in ds.X.columns
    assert ds.feature_names == [c for c in wine.columns if c != "target"]
    assert ds.categorical == ["region"]
    np.testing.assert_array_equal(ds.y, wine["target"].to_numpy())
    np.testing.assert_allclose(ds.X["alcohol"], wine["alcohol"])


def test_csv_with_target(tmp_path, wine):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    ds = load_dataset(path, target="target")
    _check_wine(ds, wine)
    assert ds.name == "wine.csv"


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_with_target(tmp_path, wine, suffix):
    path = tmp_path / f"wine{suffix}"
    wine.to_parquet(path)
    ds = load_dataset(str(path), target="target")
    _check_wine(ds, wine)


def test_table_without_target_has_no_labels(tmp_path, wine):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    ds = load_dataset(path)
    assert ds.y is None and "target" in ds.X.columns


def test_npz_with_x_and_y(tmp_path):
    X = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    y = np.arange(20) % 3
    path = tmp_path / "images.npz"
    np.savez(path, X=X, y=y)
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.X.dtype == np.float32
    assert ds.feature_names[-1] == "x63"
    assert not ds.is_frame and ds.categorical == []


def test_npz_without_y_and_with_other_keys(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, features=np.ones((4, 2)), labels=np.array([0, 1, 0, 1]))
    ds = load_dataset(path, x_key="features", y_key="labels")
    assert ds.y.tolist() == [0, 1, 0, 1]
    only_x = tmp_path / "x.npz"
    np.savez(only_x, X=np.ones((4, 2)))
    assert load_dataset(only_x).y is None


def test_npz_missing_x_key_lists_what_it_holds(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, features=np.ones((4, 2)), labels=np.zeros(4))
    with pytest.raises(ValidationError, match=r"arrays.npz: no array named 'X'; it holds "
                                              r"\['features', 'labels'\]. Save features as X"):
        load_dataset(path)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, X=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValidationError, match=r"data file 'objects.npz' could not be read as "
                                              r"\.npz"):
        load_dataset(path)


def test_npz_with_mismatched_lengths(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, X=np.ones((5, 2)), y=np.zeros(4))
    with pytest.raises(ValidationError, match=r"arrays.npz: X has 5 rows but y has 4; they must "
                                              r"match"):
        load_dataset(path)


def test_dataframe_with_target(wine):
    ds = load_dataset(wine, target="target")
    _check_wine(ds, wine)
    assert "target" in wine.columns  # the caller's frame is not modified


def test_unknown_target_column_lists_the_columns(tmp_path, wine):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    with pytest.raises(ValidationError, match=r"wine.csv: target column 'label' not found; "
                                              r"columns are \['alcohol', 'malic_acid'.*Pass "
                                              r"--target with one of them"):
        load_dataset(path, target="label")
    with pytest.raises(ValidationError, match=r"target column 'label' not found"):
        load_dataset(wine, target="label")


def test_empty_tables(tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,target\n")
    with pytest.raises(ValidationError, match=r"header.csv: the data has no rows"):
        load_dataset(header_only, target="target")
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(ValidationError, match=r"data file 'blank.csv' could not be read as "
                                              r"\.csv \(No columns to parse"):
        load_dataset(blank)
    with pytest.raises(ValidationError, match=r"the table has no columns"):
        load_dataset(pd.DataFrame(index=range(3)))


def test_nan_in_target_is_counted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,target\n1,0\n2,\n3,1\n4,\n")
    with pytest.raises(ValidationError, match=r"t.csv: target column 'target' has 2 missing "
                                              r"values; drop those rows first"):
        load_dataset(path, target="target")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(ValidationError, match=r"data file '.*nope.csv' does not exist"):
        load_dataset(tmp_path / "nope.csv")
    other = tmp_path / "data.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(ValidationError, match=r"data file 'data.xlsx': unsupported type '.xlsx'; "
                                              r"use one of .csv, .parquet, .pq, .npz"):
        load_dataset(other)


def test_corrupt_parquet_is_a_validation_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(ValidationError, match=r"data file 'broken.parquet' could not be read as "
                                              r"\.parquet"):
        load_dataset(path)


def test_arrays_tuples_and_datasets():
    X = np.arange(12.0).reshape(6, 2)
    y = [0, 1] * 3
    ds = load_dataset((X, y))
    assert ds.X.shape == (6, 2) and ds.y.tolist() == y
    assert load_dataset(ds) is ds
    bare = load_dataset(X)
    assert bare.y is None and bare.feature_names == ["x0", "x1"]
    with pytest.raises(ValidationError, match=r"X has 6 rows but y has 5"):
        load_dataset((X, y[:5]))
    with pytest.raises(ValidationError, match=r"the data has no rows"):
        load_dataset((X[:0], None))
