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


@pytest.fixture
def one_torch_thread():
    """Torch on one intra-op thread for the test (tiny layers: a second thread only adds
    contention, many times slower on a busy 2-core machine), restored after."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
