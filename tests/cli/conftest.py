"""Fixtures for the CLI tests: an entry-point model module, data files, plans, a runner."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

MODULE = '''
"""Models for the CLI tests, built at import from scikit-learn's iris."""
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

_frame = load_iris(as_frame=True).frame
_X, _y = _frame.drop(columns=["target"]), _frame["target"]

model = LogisticRegression(max_iter=1000).fit(_X, _y)        # fitted on named columns
tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(_X, _y)
array_model = LogisticRegression(max_iter=1000).fit(_X.to_numpy(), _y.to_numpy())
'''


@pytest.fixture
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Name of a fresh importable module holding ``model``, ``tree`` and ``array_model``."""
    name = f"so_cli_models_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def iris_frame():
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame


@pytest.fixture
def iris_csv(tmp_path: Path, iris_frame) -> Path:
    path = tmp_path / "iris.csv"
    iris_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Path]:
    """Write a small, fast plan (one sweep, few resamples) with optional gates."""

    def write(gates: list[dict] | None = None, name: str = "plan.yaml", **stress) -> Path:
        plan = {"seed": 1, "stress": {
            "n_bootstrap": 50, "sensitivity": False,
            "perturbations": [{"name": "gaussian_noise", "severities": [0.1, 0.5]}], **stress}}
        if gates:
            plan["gates"] = gates
        path = tmp_path / name
        path.write_text(yaml.safe_dump(plan))
        return path

    return write
