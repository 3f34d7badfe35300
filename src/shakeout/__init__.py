"""shakeout: find the silent failures of machine-learning models before production does.

The public names load on first use, so ``import shakeout`` (and ``shakeout --help``) stays
fast: pandas, pydantic and the renderers are imported only by the code that needs them.

>>> import shakeout
>>> from sklearn.linear_model import LogisticRegression
>>> model = shakeout.wrap(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
>>> model.predict([[0.9]]).tolist()
[1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout._lazy import lazy_names
from shakeout.errors import (GradientUnavailableError, MissingDependencyError, NotFittedError,
                             ShakeoutError, ValidationError)

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from shakeout.data import Dataset, load_dataset
    from shakeout.models import Model, load_model, wrap
    from shakeout.report.result import Finding, Manifest, Result

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {"Dataset": "shakeout.data", "load_dataset": "shakeout.data",
         "Model": "shakeout.models", "load_model": "shakeout.models", "wrap": "shakeout.models",
         "Finding": "shakeout.report.result", "Manifest": "shakeout.report.result",
         "Result": "shakeout.report.result"}


_public, __dir__ = lazy_names(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    if name != "__version__":
        return _public(name)
    globals()[name] = version = _version()  # later reads skip this function
    return version


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("shakeout")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


__all__ = ["Dataset", "Finding", "GradientUnavailableError", "Manifest", "MissingDependencyError",
           "Model", "NotFittedError", "Result", "ShakeoutError", "ValidationError",
           "__version__", "load_dataset", "load_model", "wrap"]
