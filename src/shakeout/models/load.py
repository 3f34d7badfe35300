"""Load a model named on the command line: entry point, ONNX, TorchScript or (trusted) pickle."""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from pathlib import Path
from typing import Any

from shakeout.errors import ValidationError, first_line
from shakeout.models._base import Model
from shakeout.models.wrap import wrap

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".pt", ".pth")


def import_reference(spec: str, what: str) -> Any:
    """The attribute a ``package.module:attribute`` reference names, imported with the current
    folder on the path; every failure is one line that starts with ``what`` (``"model
    'm:x'"``, ``"--preprocess 'p:f'"``).

    >>> import_reference("math:pi", "--constant 'math:pi'")
    3.141592653589793
    >>> import_reference("math:tau2", "--constant 'math:tau2'")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: --constant 'math:tau2': module 'math' has no attribute 'tau2'.
    """
    module_name, _, attr = spec.partition(":")
    if "" in (module_name, attr):
        raise ValidationError(f"{what}: a reference is written package.module:attribute.")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValidationError(f"{what}: cannot import {module_name!r} ({exc}).") from None
    except Exception as exc:  # noqa: BLE001 - the module's own code failed while importing
        raise ValidationError(
            f"{what}: importing {module_name!r} failed with {first_line(exc)}; fix the "
            "module (python -c \"import " + module_name + "\" shows the traceback)."
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValidationError(
            f"{what}: module {module_name!r} has no attribute {attr!r}.") from None


def _from_entry_point(spec: str) -> Any:
    obj = import_reference(spec, f"model {spec!r}")
    if not inspect.isfunction(obj):
        return obj
    module_name, _, attr = spec.partition(":")
    try:
        return obj()
    except Exception as exc:  # noqa: BLE001 - the user's factory raised: say so, in one line
        raise ValidationError(
            f"model {spec!r}: calling {module_name}.{attr}() raised {first_line(exc)}; fix the "
            "function so that it returns a model (run it in Python to see the traceback)."
        ) from None


def load_model(spec: str | Path, *, trust_pickle: bool = False, task: str | None = None) -> Model:
    """Load and wrap the model that ``spec`` names.

    ``spec`` is one of:

    - ``package.module:attribute`` -- an object, or a function of no arguments returning one;
    - a path ending in ``.onnx``;
    - a TorchScript file (``.pt`` / ``.pth`` written by ``torch.jit.save``);
    - a pickled or joblib file (``.pkl``, ``.pickle``, ``.joblib``), only with
      ``trust_pickle=True``: unpickling runs arbitrary code from the file.

    Examples
    --------
    >>> load_model("model.pkl")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: model 'model.pkl' is a pickle; ...
    """
    text = str(spec)
    path = Path(text)
    if text.endswith(PICKLE_SUFFIXES):
        if not trust_pickle:
            raise ValidationError(
                f"model {text!r} is a pickle; loading it executes code stored in the file, so "
                "shakeout refuses unless you trust its source: pass --trust-pickle "
                "(trust_pickle=True), or export the model to ONNX."
            )
        _require_file(path)
        import joblib

        try:
            obj = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a model"
            raise ValidationError(f"model {text!r} could not be unpickled ({exc}).") from None
        return _wrap_loaded(obj, text, task)
    if text.endswith(".onnx"):
        _require_file(path)
        return wrap(path, task=task)
    if text.endswith(TORCH_SUFFIXES):
        _require_file(path)
        from shakeout.models.torch import import_torch

        torch = import_torch()
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated upstream, still supported
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception:  # noqa: BLE001 - torch raises RuntimeError and friends
            raise ValidationError(
                f"model {text!r} is not a TorchScript file. Save the model with "
                "torch.jit.save(torch.jit.script(model), path), or pass an entry point "
                "package.module:function that builds it and loads its state_dict."
            ) from None
        return wrap(module, task=task)
    if ":" in text and not path.exists():
        return _wrap_loaded(_from_entry_point(text), text, task)
    if path.exists():
        raise ValidationError(
            f"model {text!r}: unknown model file type {path.suffix!r}. Use .onnx, a TorchScript "
            ".pt, a pickle with --trust-pickle, or an entry point package.module:attribute."
        )
    raise ValidationError(
        f"model {text!r} is neither an existing file nor an entry point package.module:attribute."
    )


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ValidationError(f"model file {str(path)!r} does not exist.")


def _wrap_loaded(obj: Any, spec: str, task: str | None) -> Model:
    try:
        return wrap(obj, task=task)
    except ValidationError as exc:
        raise ValidationError(f"model {spec!r} did not give a usable model: {exc}") from None
