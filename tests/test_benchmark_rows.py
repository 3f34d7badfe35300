"""The benchmark scripts print each row as it is measured, not all of them at the end.

Each script runs in a fresh interpreter, scaled down, with a later measurement made to fail:
the rows measured before it must already be on stdout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=BENCHMARKS, capture_output=True,
                          text=True, timeout=600)


def test_bench_drift_prints_rows_before_a_later_peer_fails():
    done = _run(
        "import bench_drift as b\n"
        "b.ROWS, b.COLS = 2000, 3\n"
        "def broken(*args):\n"
        "    raise RuntimeError('a later peer fails')\n"
        "b.evidently_test = broken\n"
        "b.speed({'results': {}}, False)\n")
    assert done.returncode != 0 and "a later peer fails" in done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["ks", "shakeout"] in [r[:2] for r in rows]  # measured before the failure


def test_bench_attacks_prints_rows_before_a_later_attack_fails():
    pytest.importorskip("torch")
    done = _run(
        "import sys, bench_attacks as b\n"
        "from shakeout.demo import digits_cnn\n"
        "b.digits_cnn = lambda seed: digits_cnn(seed=seed, epochs=1)\n"
        "measure = b.measure\n"
        "def fails_after_pgd(cases, repeats):\n"
        "    if 'plain loop' not in cases:\n"
        "        raise RuntimeError('a later attack fails')\n"
        "    return measure(cases, 1)\n"
        "b.measure = fails_after_pgd\n"
        "b.peer = lambda name: None\n"
        "sys.argv = ['bench_attacks.py', '--quick', '--seeds', '1', '--threads', '1']\n"
        "b.main()\n")
    assert done.returncode != 0 and "a later attack fails" in done.stderr
    assert "PGD strength, shakeout" in done.stdout
    assert any(line.startswith("PGD-10 Linf    shakeout") for line in done.stdout.splitlines())
