"""Every class name an error or warning message quotes exists in shakeout's public namespaces.

A message that recommends a class the user cannot import (``PSITest`` where the class is
``PSI``) sends them after nothing. The names are read from the source: CamelCase words, and
any word written as a call (``PGD(eps=...)``), in the string literals of ``raise`` and
``warn(...)`` calls under ``src/shakeout``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import shakeout

SOURCE = Path(shakeout.__file__).parent

CAMEL = re.compile(r"(?<![\w.])[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*(?!\w)")
CALLED = re.compile(r"(?<![\w.])([A-Z][A-Za-z0-9_]*)\(")

FOREIGN = {
    "DataFrame": "pandas' table",
    "LogisticRegression": "scikit-learn's logistic regression",
    "NaN": "not a number",
    "PyTorch": "the library",
    "SQLAlchemy": "the library",
    "SQLite": "the database",
    "SVC": "scikit-learn's support vector classifier",
    "TorchScript": "torch's compiled format",
}
"""Words a message may use that are not shakeout's names, each with what it is."""


def _messages(tree: ast.AST):
    """The string literals inside each ``raise`` and each ``warn(...)`` call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc
        elif isinstance(node, ast.Call) and "warn" in (getattr(node.func, "attr", None),
                                                       getattr(node.func, "id", None)):
            target = node
        else:
            continue
        for sub in ast.walk(target):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                yield sub.lineno, sub.value


def quoted_names(root: Path = SOURCE) -> dict[str, set[str]]:
    """Each class-like name quoted in a message, with the places (``file:line``) it occurs."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        for line, text in _messages(ast.parse(path.read_text(), filename=str(path))):
            camel = {m for m in CAMEL.findall(text) if sum(c.isupper() for c in m) >= 2}
            for name in camel | set(CALLED.findall(text)):
                out[name].add(f"{path.relative_to(root)}:{line}")
    return out


def public_names() -> set[str]:
    """The public names of shakeout and every one of its packages."""
    names = set(shakeout.__all__)
    for info in pkgutil.walk_packages(shakeout.__path__, "shakeout."):
        if info.ispkg:
            module = importlib.import_module(info.name)
            names |= set(getattr(module, "__all__", ()))
    return names


def _exists(name: str, known: set[str]) -> bool:
    return name in known or name in FOREIGN or (name.endswith("s") and name[:-1] in known)


def test_the_scan_finds_quoted_names():
    """The scan sees what it is meant to: names in f-strings, joined literals and warnings."""
    found = quoted_names()
    assert {"TransferAttack", "HopSkipJump", "SquareAttack", "DriftSuite"} <= set(found)
    assert "PGD" in found  # "such as PGD(eps=...)"


def test_every_class_name_quoted_in_an_error_exists():
    known = public_names()
    missing = {name: sorted(places) for name, places in quoted_names().items()
               if not _exists(name, known)}
    assert not missing, ("messages name classes that shakeout does not export: "
                         + "; ".join(f"{n} at {', '.join(p)}" for n, p in sorted(missing.items())))


def test_the_foreign_words_are_still_used():
    """A word kept off the check must still be in a message, or it leaves the list."""
    assert set(FOREIGN) <= set(quoted_names())
