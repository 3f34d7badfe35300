"""Data: load arrays, DataFrames, csv, parquet and npz into a :class:`Dataset`; read
parquet files and folders in batches."""

from shakeout.data.dataset import Dataset, is_numeric_column, load_dataset
from shakeout.data.parquet import parquet_batches, parquet_files, sample_parquet
from shakeout.data.validate import check_features, check_target

__all__ = ["Dataset", "check_features", "check_target", "is_numeric_column", "load_dataset",
           "parquet_batches", "parquet_files", "sample_parquet"]
