"""Stress sweep throughput and memory on 1,000,000 rows x 50 features.

Compares, for one scikit-learn model and one perturbation grid with ``--repeats`` draws per
severity (5 by default, as ``stress.run``):
- floor: the model's own batched predict, once clean and once per draw of every noisy grid
  point (rows x (1 + severities x repeats) predictions / time);
- naive: the loop a user writes by hand (materialise X + noise, predict, accuracy) for every
  draw, no intervals, no tests; it holds a full perturbed copy of X in memory;
- shakeout: ``stress.run`` with intervals over rows and draws (1,000 resamples), exact
  sign-flip tests, Holm correction, flip rate, prediction shift and the robustness score,
  streaming in batches.

Each case runs in its own process so peak memory (ru_maxrss) is its own. Run:
    python benchmarks/bench_stress.py [--rows 1000000] [--model hgb|logreg] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import streamed_table, timed, versions, write  # noqa: E402

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


def child(case: str, rows: int, model_name: str, repeats: int) -> dict:
    import numpy as np

    X, y, model = make_case(rows, model_name)
    base = peak_mib()
    batch = 65_536
    if case == "floor":
        def work():
            for _ in range(len(SEVERITIES) * repeats + 1):
                for i in range(0, rows, batch):
                    model.predict_proba(X[i:i + batch])
    elif case == "naive":
        def work():
            rng = np.random.default_rng(0)
            std = X.std(axis=0)
            accs = [float((model.predict(X) == y).mean())]
            for s in SEVERITIES:
                for _ in range(repeats):
                    Xp = X + s * std * rng.standard_normal(X.shape)
                    accs.append(float((model.predict(Xp) == y).mean()))
            return accs
    else:
        from shakeout import stress
        from shakeout.perturb import GaussianNoise

        def work():
            return stress.run(model, X, y, sweeps=[stress.Sweep(GaussianNoise(), (0, *SEVERITIES))],
                              sensitivity=False, n_bootstrap=1000, batch_size=batch,
                              repeats=repeats, seed=0)
    cpu = time.process_time()
    seconds, _ = timed(work)
    return {"case": case, "seconds": seconds, "cpu_s": time.process_time() - cpu,
            "peak_mib": peak_mib(), "base_mib": base}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", choices=("hgb", "logreg"), default="hgb")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default="floor,naive,shakeout")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.model, args.repeats)))
        return
    passes = len(SEVERITIES) * args.repeats + 1
    print(f"stress sweep: {args.rows:,} rows x {FEATURES} features, model {args.model}, "
          f"clean + {len(SEVERITIES)} noise levels x {args.repeats} draws = {passes} "
          "predictions of every row", flush=True)
    print("x_floor compares wall times; cpu_x_floor compares CPU seconds (all threads), "
          "which a busy machine distorts less.", flush=True)
    show = streamed_table(["case", "seconds", "rows_per_s", "x_floor", "cpu_s", "cpu_x_floor",
                           "extra_mib"])
    rows, floor = [], None
    for case in args.cases.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", case, "--rows", str(args.rows),
                              "--model", args.model, "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        floor = r if case == "floor" else floor
        r["rows_per_s"] = f"{args.rows * passes / r['seconds']:,.0f}"
        r["x_floor"] = round(r["seconds"] / floor["seconds"], 2) if floor else None
        r["cpu_x_floor"] = round(r["cpu_s"] / floor["cpu_s"], 2) if floor else None
        r["extra_mib"] = round(r["peak_mib"] - r["base_mib"])
        r["seconds"], r["cpu_s"] = round(r["seconds"], 2), round(r["cpu_s"], 2)
        rows.append(r)
        show(r)
    path = write(f"stress_{args.model}", {"rows": args.rows, "features": FEATURES,
                                          "model": args.model, "repeats": args.repeats,
                                          "predictions_per_row": passes, "seed": 0,
                                          "cases": rows, "versions": versions()})
    print(f"written {path}")


if __name__ == "__main__":
    main()
