"""Shared by the benchmark scripts: timing, machine description, writing results."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last return value."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def versions(*dists: str) -> dict[str, str | None]:
    out = {}
    for dist in ("shakeout", "numpy", "scipy", "scikit-learn", "torch", *dists):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def write(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str) + "\n")
    return path


def streamed_table(columns: list[str], width: int = 12) -> Callable[[dict[str, Any]], None]:
    """Print the header of a table now; the function returned prints one row at once.

    Columns are ``width`` wide (or their title's), so a row need not wait for the others:
    a long benchmark shows each result as it is measured.
    """
    widths = [max(width, len(c)) for c in columns]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    print(f"{line}\n{'-' * len(line)}", flush=True)

    def row(values: dict[str, Any]) -> None:
        print("  ".join(f"{values.get(c, '')}".ljust(w) for c, w in zip(columns, widths)),
              flush=True)

    return row


def interleaved(runs: dict[str, Callable[[], Any]],
                repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Each run timed ``repeats`` times, the runs interleaved so that drift in the machine's
    load hits every one; each time printed as it is measured, then each median beside the
    ``"floor"`` run's. Returns the medians and each run's last output."""
    import statistics

    times: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict[str, Any] = {}
    row = streamed_table(["run", "repeat", "seconds"])
    for i in range(repeats):
        for name, fn in runs.items():
            seconds, outputs[name] = timed(fn)
            times[name].append(seconds)
            row({"run": name, "repeat": i, "seconds": f"{seconds:.3f}"})
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in median.items():
        print(f"{name:10s} {seconds:8.3f} s  {seconds / median['floor']:6.2f}x floor")
    return median, outputs
