"""Public names of a package loaded on first use, so importing the package stays cheap."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                                  Callable[[], list[str]]]:
    """A module ``__getattr__`` that imports ``where[name]`` and reads ``name`` from it the
    first time ``name`` is read (then binds it, so later reads skip the hook), and a
    ``__dir__`` listing the package's ``__all__`` beside what it holds.

    >>> import types
    >>> sys.modules["demo_pkg"] = pkg = types.ModuleType("demo_pkg")
    >>> pkg.__all__ = ["sqrt"]
    >>> pkg.__getattr__, pkg.__dir__ = lazy_names("demo_pkg", {"sqrt": "math"})
    >>> import demo_pkg
    >>> demo_pkg.sqrt(9.0), "sqrt" in vars(demo_pkg), "sqrt" in dir(demo_pkg)
    (3.0, True, True)
    >>> del sys.modules["demo_pkg"]
    """
    shadowed = frozenset(n for n, module in where.items() if module == f"{package}.{n}")
    if shadowed:
        sys.modules[package].__class__ = _keeping(shadowed)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        module = sys.modules[package]
        return sorted(set(vars(module)) | set(getattr(module, "__all__", ())))

    return __getattr__, __dir__


def _keeping(names: frozenset[str]) -> type[types.ModuleType]:
    """A package type that ignores the import system binding a submodule over ``names``."""

    class Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, types.ModuleType):
                return
            super().__setattr__(name, value)

    return Package
