"""Drift beside its peers: KS and PSI on 50 x 100,000, the MMD permutation test, streaming memory.

Run in the benchmark environment (``bash benchmarks/setup_env.sh``)::

    .bench-venv/bin/python benchmarks/bench_drift.py            # everything but the slow peer
    .bench-venv/bin/python benchmarks/bench_drift.py --slow     # also Alibi MMD at 2 x 10,000
    .bench-venv/bin/python benchmarks/bench_drift.py --skip-memory

Peers that are not installed are skipped. Every tool gets the same data in the same run;
times are the best of three (Evidently: one run), "first" builds a new detector each time.
Writes ``benchmarks/results/drift.json`` (ratios, seed, versions, hardware).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, streamed_table, timed, versions, write  # noqa: E402

SEED = 0
ROWS, COLS = 100_000, 50


def _peer(name: str):
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - a missing or broken peer is skipped
        return None


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    ref = rng.normal(size=(ROWS, COLS))
    cur = rng.normal(size=(ROWS, COLS)) + np.where(np.arange(COLS) < 5, 0.05, 0.0)
    return ref, cur


# -- univariate: KS and PSI ---------------------------------------------------------------
def shakeout_suite(test: str, ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, float]:
    from shakeout.drift import DriftSuite

    make = lambda: DriftSuite(tests=(test,), multivariate=(), n_jobs=2)  # noqa: E731
    first, _ = timed(lambda: make().fit(ref).run(cur), repeat=3)
    suite = make().fit(ref)
    repeat, result = timed(lambda: suite.run(cur), repeat=3)
    fit, _ = timed(lambda: make().fit(ref))
    drifted = sum(f.status != "pass" for f in result.select(group=test))
    return {"first": first, "repeat": repeat, "fit": fit, "drifted": drifted}


def numpy_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """The floor: decile edges per column, searchsorted, bincount, one formula."""
    def once():
        edges = np.quantile(ref, np.arange(1, 10) / 10, axis=0)
        out = []
        for j in range(ref.shape[1]):
            r = np.bincount(np.searchsorted(edges[:, j], ref[:, j]), minlength=10) / len(ref)
            c = np.bincount(np.searchsorted(edges[:, j], cur[:, j]), minlength=10) / len(cur)
            r, c = np.maximum(r, 1e-8), np.maximum(c, 1e-8)
            out.append(np.sum((c - r) * np.log(c / r)))
        return out
    return timed(once)[0]


def alibi_ks(ref: np.ndarray, cur: np.ndarray) -> dict[str, float] | None:
    if _peer("alibi_detect") is None:
        return None
    from alibi_detect.cd import KSDrift

    def first():
        return KSDrift(ref, p_val=0.05).predict(cur)
    t_first, _ = timed(first, repeat=3)
    detector = KSDrift(ref, p_val=0.05)
    t_repeat, _ = timed(lambda: detector.predict(cur))
    return {"first": t_first, "repeat": t_repeat}


def frouros_test(name: str, ref: np.ndarray, cur: np.ndarray) -> dict[str, float] | None:
    if _peer("frouros") is None:
        return None
    from frouros.detectors import data_drift

    cls = {"ks": data_drift.KSTest, "psi": data_drift.PSI}[name]

    def first():
        for j in range(ref.shape[1]):
            d = cls()
            d.fit(X=ref[:, j])
            d.compare(X=cur[:, j])
    t_first, _ = timed(first, repeat=3)
    fitted = []
    for j in range(ref.shape[1]):
        d = cls()
        d.fit(X=ref[:, j])
        fitted.append(d)
    t_repeat, _ = timed(lambda: [d.compare(X=cur[:, j]) for j, d in enumerate(fitted)])
    return {"first": t_first, "repeat": t_repeat}


def evidently_test(name: str, ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, float] | None:
    if _peer("evidently") is None:
        return None
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def once():
        return Report([DataDriftPreset(method=name)]).run(reference_data=ref, current_data=cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, _ = timed(once)
    return {"first": t, "repeat": t}


# -- multivariate: MMD ---------------------------------------------------------------------
def mmd(n: int, with_alibi: bool) -> dict[str, float | None]:
    from shakeout.drift import MMDTest

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, 32)).astype(np.float32)
    Y = rng.normal(size=(n, 32)).astype(np.float32)
    test = MMDTest(n_permutations=100, device="cpu").fit(X)
    test.compare(Y)  # warm the BLAS threads once, as a service would be
    t_shakeout, f = timed(lambda: test.compare(Y), repeat=3)
    out: dict[str, float | None] = {"shakeout": t_shakeout, "shakeout_p": f.p_value, "alibi": None}
    if with_alibi and _peer("alibi_detect") is not None:
        from alibi_detect.cd import MMDDrift

        detector = MMDDrift(X, backend="pytorch", p_val=0.05, n_permutations=100)
        out["alibi"], _ = timed(lambda: detector.predict(Y))
    return out


# -- memory: a parquet larger than the allowed memory ---------------------------------------
MEMORY_CHILD = textwrap.dedent("""
    import resource, sys, time
    import numpy as np, pandas as pd
    from shakeout.drift import ProfileSpec, sample_parquet
    path = sys.argv[1]
    t = time.perf_counter()
    sample = sample_parquet(path, 100_000, seed=0, batch_size=262_144)
    spec = ProfileSpec().fit(sample)
    profile = spec.profile_parquet(path, batch_size=262_144)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(profile.n_rows, round(seconds, 2), round(peak, 1))
""")


def memory(rows: int, budget_mib: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = 8
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.parquet"
        rng = np.random.default_rng(SEED)
        chunk = 1_000_000
        writer = None
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            tbl = pa.table({f"x{j}": rng.normal(size=n) for j in range(cols)})
            writer = writer or pq.ParquetWriter(path, tbl.schema)
            writer.write_table(tbl, row_group_size=262_144)
        writer.close()
        size = path.stat().st_size / 2**20
        in_memory = rows * cols * 8 / 2**20
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MALLOC_ARENA_MAX="2")

        def limit():  # the address-space budget the profiling process runs under
            resource.setrlimit(resource.RLIMIT_AS, (budget_mib * 2**20, budget_mib * 2**20))

        proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(path)], env=env,
                              capture_output=True, text=True, preexec_fn=limit)
        if proc.returncode != 0:
            raise RuntimeError(f"profiling under {budget_mib} MiB failed: {proc.stderr[-2000:]}")
        n_rows, seconds, peak = proc.stdout.split()
    return {"rows": int(n_rows), "columns": cols, "file_mib": round(size, 1),
            "table_in_memory_mib": round(in_memory, 1), "budget_mib": budget_mib,
            "peak_rss_mib": float(peak), "seconds": float(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slow", action="store_true", help="Alibi MMD at 2 x 10,000 too.")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only-memory", action="store_true",
                        help="Only the streaming-memory part (for an environment without peers).")
    parser.add_argument("--memory-rows", type=int, default=20_000_000)
    args = parser.parse_args()

    previous = RESULTS / "drift.json"
    payload = {"seed": SEED, "shape": [ROWS, COLS],
               "versions": versions("alibi-detect", "frouros", "evidently", "pandas"),
               "results": {}}
    if previous.exists():  # parts run in different environments share one file
        payload["results"] = json.loads(previous.read_text()).get("results", {})
    if not args.only_memory:
        speed(payload, args.slow)
    if not args.skip_memory:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            print(f"\nmemory part skipped: pyarrow does not import here ({exc}); run "
                  "`python benchmarks/bench_drift.py --only-memory` in the project environment.",
                  flush=True)
        else:
            mem = memory(args.memory_rows, 1024)
            payload["results"]["memory"] = mem
            print(f"\nStreaming profile of {mem['rows']:,} rows x {mem['columns']} columns "
                  f"({mem['table_in_memory_mib']:.0f} MiB in memory, {mem['file_mib']:.0f} MiB "
                  f"file) under a {mem['budget_mib']} MiB address-space limit: peak RSS "
                  f"{mem['peak_rss_mib']:.0f} MiB, {mem['seconds']:.1f} s", flush=True)
    path = write("drift", payload)
    print(f"\nwritten to {path}", flush=True)


def speed(payload: dict, slow: bool) -> None:
    """KS, PSI and MMD beside the peers installed here; fills ``payload["results"]`` and
    prints each row as it is measured."""
    ref, cur = _data()
    ref_df = pd.DataFrame(ref, columns=[f"x{j}" for j in range(COLS)])
    cur_df = pd.DataFrame(cur, columns=ref_df.columns)
    print(f"KS and PSI, {COLS} columns x {ROWS:,} rows per side (ratio = peer / shakeout)",
          flush=True)
    show = streamed_table(["test", "tool", "first s", "repeat s", "ratio first",
                           "ratio repeat"])
    for test in ("ks", "psi"):
        ours = shakeout_suite(test, ref_df, cur_df)
        show({"test": test, "tool": "shakeout", "first s": f"{ours['first']:.3f}",
              "repeat s": f"{ours['repeat']:.3f}", "ratio first": "1.0", "ratio repeat": "1.0"})
        results = payload["results"][test] = {"shakeout": ours}
        for name, measure in _peers(test, ref, cur, ref_df, cur_df):
            t = results[name] = measure()
            if t is None:
                show({"test": test, "tool": name, "first s": "not installed"})
                continue
            show({"test": test, "tool": name, "first s": f"{t['first']:.3f}",
                  "repeat s": f"{t['repeat']:.3f}",
                  "ratio first": f"{t['first'] / ours['first']:.1f}x",
                  "ratio repeat": f"{t['repeat'] / ours['repeat']:.1f}x"})

    print("\nMMD permutation test, 100 permutations, CPU", flush=True)
    show = streamed_table(["size", "shakeout s", "alibi s", "ratio"], width=16)
    for n, alibi in ((2_000, True), (10_000, slow)):
        res = mmd(n, alibi)
        payload["results"][f"mmd_{n}"] = res
        ratio = f"{res['alibi'] / res['shakeout']:.0f}x" if res["alibi"] else "-"
        show({"size": f"2 x {n:,} x 32", "shakeout s": f"{res['shakeout']:.3f}",
              "alibi s": "skipped" if res["alibi"] is None else f"{res['alibi']:.2f}",
              "ratio": ratio})


def _peers(test: str, ref: np.ndarray, cur: np.ndarray, ref_df: pd.DataFrame,
           cur_df: pd.DataFrame) -> list[tuple[str, Callable[[], dict[str, float] | None]]]:
    """The peers of ``test`` (and the numpy floor of PSI), each measured when called."""
    peers = [("alibi-detect", lambda: alibi_ks(ref, cur))] if test == "ks" else []
    peers += [("frouros", lambda: frouros_test(test, ref, cur)),
              ("evidently", lambda: evidently_test(test, ref_df, cur_df))]
    if test == "psi":
        peers.append(("numpy floor", lambda: dict.fromkeys(("first", "repeat"),
                                                           numpy_psi(ref, cur))))
    return peers


if __name__ == "__main__":
    main()
