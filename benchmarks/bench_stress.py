"""Stress sweep throughput and memory on 1,000,000 rows x 50 features.

Compares, for one scikit-learn model and one perturbation grid:
- floor: the model's own clean predict on every grid point (rows x grid points / time);
- naive: the loop a user writes by hand (materialise X + noise, predict, accuracy), no
  intervals, no tests; it holds a full perturbed copy of X in memory;
- shakeout: ``stress.run`` with paired bootstrap intervals (1,000 resamples), exact McNemar,
  Holm correction, flip rate, KS and the robustness score, streaming in batches.

Each case runs in its own process so peak memory (ru_maxrss) is its own. Run:
    python benchmarks/bench_stress.py [--rows 1000000] [--model hgb|logreg]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table, timed, versions, write  # noqa: E402

SEVERITIES = (0.05, 0.1, 0.2, 0.5)
FEATURES = 50


def make_case(rows: int, model_name: str, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES))
    w = rng.standard_normal(FEATURES)
    y = (X @ w + rng.standard_normal(rows) * 2 > 0).astype(int)
    fit_rows = slice(0, 100_000)
    if model_name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier
        model = HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    else:
        from sklearn.linear_model import LogisticRegression
        model = LogisticRegression(max_iter=200)
    model.fit(X[fit_rows], y[fit_rows])
    return X, y, model


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(case: str, rows: int, model_name: str) -> dict:
    import numpy as np

    X, y, model = make_case(rows, model_name)
    base = peak_mib()
    batch = 65_536
    if case == "floor":
        def work():
            for _ in range(len(SEVERITIES) + 1):
                for i in range(0, rows, batch):
                    model.predict_proba(X[i:i + batch])
    elif case == "naive":
        def work():
            rng = np.random.default_rng(0)
            std = X.std(axis=0)
            accs = [float((model.predict(X) == y).mean())]
            for s in SEVERITIES:
                Xp = X + s * std * rng.standard_normal(X.shape)
                accs.append(float((model.predict(Xp) == y).mean()))
            return accs
    else:
        from shakeout import stress
        from shakeout.perturb import GaussianNoise

        def work():
            return stress.run(model, X, y, sweeps=[stress.Sweep(GaussianNoise(), (0, *SEVERITIES))],
                              sensitivity=False, n_bootstrap=1000, batch_size=batch, seed=0)
    seconds, _ = timed(work)
    return {"case": case, "seconds": seconds, "peak_mib": peak_mib(), "base_mib": base}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", choices=("hgb", "logreg"), default="hgb")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.model)))
        return
    rows = []
    for case in ("floor", "naive", "shakeout"):
        out = subprocess.run([sys.executable, __file__, "--child", case, "--rows", str(args.rows),
                              "--model", args.model], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    floor = rows[0]["seconds"]
    points = len(SEVERITIES) + 1
    for r in rows:
        r["rows_per_s"] = f"{args.rows * points / r['seconds']:,.0f}"
        r["x_floor"] = round(r["seconds"] / floor, 2)
        r["extra_mib"] = round(r["peak_mib"] - r["base_mib"])
        r["seconds"] = round(r["seconds"], 2)
    print(f"stress sweep: {args.rows:,} rows x {FEATURES} features, model {args.model}, "
          f"{points} grid points (clean + {len(SEVERITIES)} noise levels)")
    print(table(rows, ["case", "seconds", "rows_per_s", "x_floor", "extra_mib"]))
    path = write(f"stress_{args.model}", {"rows": args.rows, "features": FEATURES, "model": args.model,
                                          "grid_points": points, "seed": 0, "cases": rows,
                                          "versions": versions()})
    print(f"written {path}")


if __name__ == "__main__":
    main()
