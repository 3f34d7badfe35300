"""Data: load arrays, DataFrames, csv, parquet and npz into a :class:`Dataset`."""

from shakeout.data.dataset import Dataset, is_numeric_column, load_dataset

__all__ = ["Dataset", "is_numeric_column", "load_dataset"]
