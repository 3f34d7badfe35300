"""shakeout: find the silent failures of machine-learning models before production does."""

from importlib import metadata

from shakeout.data import Dataset, load_dataset
from shakeout.errors import (GradientUnavailableError, MissingDependencyError, NotFittedError,
                             ShakeoutError, ValidationError)
from shakeout.models import Model, load_model, wrap
from shakeout.report.result import Finding, Manifest, Result

try:
    __version__ = metadata.version("shakeout")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["Dataset", "Finding", "GradientUnavailableError", "Manifest", "MissingDependencyError",
           "Model", "NotFittedError", "Result", "ShakeoutError", "ValidationError",
           "__version__", "load_dataset", "load_model", "wrap"]
