"""Fixtures every test package shares."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str]]:
    """Run ``shakeout ARGS`` in-process; returns the exit code and what went to stderr."""
    from shakeout.cli import main

    def run(*args: object) -> tuple[int, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        return code, capsys.readouterr().err

    return run
