"""Data: load arrays, DataFrames, csv, parquet and npz into a :class:`Dataset`."""

from shakeout.data.dataset import Dataset, is_numeric_column, load_dataset
from shakeout.data.validate import check_features, check_target

__all__ = ["Dataset", "check_features", "check_target", "is_numeric_column", "load_dataset"]
