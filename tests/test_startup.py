"""Start-up: ``import shakeout`` and ``shakeout ... --help`` load no heavy library.

Each check runs in a fresh interpreter, so what an earlier test imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shakeout.drills import registered

HEAVY = ("pandas", "pyarrow", "pydantic", "jinja2", "sklearn", "scipy", "torch")

# Runs ``code`` in a fresh interpreter and prints which heavy modules ended up loaded, and
# which of them a shakeout module asked for (an import statement in shakeout's own code).
_PROBE = """
import builtins, json, sys
HEAVY = {heavy!r}
asked = set()
_import = builtins.__import__
def _watch(name, globals=None, *args, **kwargs):
    top = name.partition(".")[0]
    if top in HEAVY and (globals or {{}}).get("__name__", "").startswith("shakeout"):
        asked.add(top)
    return _import(name, globals, *args, **kwargs)
builtins.__import__ = _watch
{code}
print(json.dumps([sorted(m for m in HEAVY if m in sys.modules), sorted(asked)]))
"""

HELP = """
import contextlib, io
from shakeout.cli import main
with contextlib.redirect_stdout(io.StringIO()) as text:
    assert main({args!r}) == 0
assert "Usage" in text.getvalue()
"""


def _heavy(code: str) -> tuple[list[str], list[str]]:
    """The heavy modules loaded after ``code``, and those shakeout's own code imported."""
    done = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY, code=code)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded, asked = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded, asked


def test_import_shakeout_loads_no_heavy_library():
    assert _heavy("import shakeout") == ([], [])


def test_help_loads_no_heavy_library():
    assert _heavy(HELP.format(args=["--help"])) == ([], [])


COMMANDS = [c.name for d in registered().values() for c in d.commands] + ["report", "demo"]
"""Every command: each registered drill's (a new pillar is checked without a line here)."""


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_loads_no_heavy_library(command):
    loaded, asked = _heavy(HELP.format(args=[command, "--help"]))
    assert asked == []
    # Typer (0.2x) itself imports pydantic to coerce option values; nothing else may load.
    assert set(loaded) <= {"pydantic"}


def test_public_names_still_resolve():
    import shakeout
    import shakeout.report

    for package in (shakeout, shakeout.report):
        assert set(package.__all__) <= set(dir(package))
        for name in package.__all__:
            assert getattr(package, name) is not None
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            package.nope  # noqa: B018
    from shakeout import Result, ValidationError, wrap  # noqa: F401 - the import is the test

    assert shakeout.Result.__module__ == "shakeout.report.result"
    import shakeout.report.render  # the submodule of the same name leaves the function in place

    assert callable(shakeout.report.render)
