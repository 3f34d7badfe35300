"""Attack speed and strength beside torchattacks, IBM ART and a hand-written PGD loop.

One trained digits CNN (``shakeout.demo.digits_cnn``), one batch of 256 test images, the same
budgets for every library; each time is the median of interleaved repeats. Strength is robust
accuracy on the batch (lower is a stronger attack); for PGD it is averaged over ``--seeds``
random starts, since one start moves it by a point or two. For C&W: the success rate and the
median L2 size over the clean-correct images (``inf`` where no adversarial was found).

    .bench-venv/bin/python benchmarks/bench_attacks.py            # peers from setup_env.sh
    .bench-venv/bin/python benchmarks/bench_attacks.py --quick    # fewer repeats

A peer that is not installed is skipped. Results go to ``benchmarks/results/attacks.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import shakeout
from shakeout.attacks import PGD, CarliniWagner, SquareAttack, perturbation_norm
from shakeout.demo import digits_cnn

EPS, ALPHA, STEPS = 0.1, 0.025, 10  # PGD: L-inf budget, step, iterations
CW_STEPS, CW_C = 50, 1.0  # C&W: one constant, 50 Adam steps
SQUARE_EPS, SQUARE_QUERIES, SQUARE_P = 0.1, 1000, 0.8  # Square: budget, queries, initial share
OUT = Path(__file__).parent / "results" / "attacks.json"


def plain_pgd(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
              gen: torch.Generator) -> torch.Tensor:
    """PGD-10 as one writes it by hand: random start, sign steps, clip to ball and range."""
    xa = (x + torch.empty_like(x).uniform_(-EPS, EPS, generator=gen)).clamp(0, 1)
    for _ in range(STEPS):
        xa.requires_grad_(True)
        loss = F.cross_entropy(net(xa), y)
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + ALPHA * g.sign(), x - EPS), x + EPS).clamp(0, 1)
    return xa.detach()


def peer(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a missing or broken peer is skipped
        return None


def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(cases: dict[str, Callable[[], np.ndarray]], repeats: int) -> dict[str, dict]:
    """Interleaved repeats (each round runs every case once) so load drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    outputs: dict[str, np.ndarray] = {}
    for fn in cases.values():  # warm-up: first-call costs are not the attack's
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            seconds, outputs[name] = timed(fn)
            times[name].append(seconds)
    return {k: {"seconds": statistics.median(v), "fastest": min(v),
                "runs": [round(s, 4) for s in v], "output": outputs[k]} for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seeds", type=int, default=40, help="PGD random starts for strength")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed = 0
    trained = digits_cnn(seed=seed)
    net = trained.model.eval()
    X = trained.X_test[:256]
    y = trained.y_test[:256]
    xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    model = shakeout.wrap(net)
    clean = float((model.predict(X) == y).mean())
    ta, art = peer("torchattacks"), peer("art")
    gen = torch.Generator().manual_seed(seed)
    reps = {"pgd": 5 if args.quick else 30, "cw": 2 if args.quick else 5,
            "square": 1 if args.quick else 3}

    def frozen(fn):
        def run():
            params = list(net.parameters())
            for p in params:
                p.requires_grad_(False)
            try:
                return fn()
            finally:
                for p in params:
                    p.requires_grad_(True)
        return run

    def pgd_cases(Xb: np.ndarray, yb: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
        xb, ybt = torch.from_numpy(Xb), torch.from_numpy(yb).long()
        cases = {
            "plain loop": lambda: plain_pgd(net, xb, ybt, gen).numpy(),
            "plain loop, frozen weights": frozen(lambda: plain_pgd(net, xb, ybt, gen).numpy()),
            "shakeout": lambda: PGD(eps=EPS, steps=STEPS, step_size=ALPHA).apply(
                model, Xb, yb, seed=int(torch.randint(2**31, (1,), generator=gen))),
        }
        if ta is not None:
            cases["torchattacks"] = lambda: ta_pgd(xb, ybt).numpy()
        if art is not None:
            cases["ART"] = lambda: art_pgd.generate(x=Xb, y=yb)
        return cases

    cw = {"shakeout": lambda: CarliniWagner(c=CW_C, binary_steps=1, steps=CW_STEPS).apply(
        model, X, y, seed=seed),
          "shakeout, lr 0.005": lambda: CarliniWagner(c=CW_C, binary_steps=1, steps=CW_STEPS,
                                                      lr=0.005).apply(model, X, y, seed=seed)}
    square = {"shakeout": lambda: SquareAttack(eps=SQUARE_EPS, steps=SQUARE_QUERIES,
                                               p_init=SQUARE_P).apply(model, X, y, seed=seed)}
    if ta is not None:
        ta_pgd = ta.PGD(net, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=True)
        ta_cw = ta.CW(net, c=CW_C, kappa=0, steps=CW_STEPS, lr=0.01)
        ta_sq = ta.Square(net, norm="Linf", eps=SQUARE_EPS, n_queries=SQUARE_QUERIES,
                          p_init=SQUARE_P, seed=seed)
        cw["torchattacks"] = lambda: ta_cw(xt, yt).numpy()
        square["torchattacks"] = lambda: ta_sq(xt, yt).numpy()
    if art is not None:
        from art.attacks.evasion import CarliniL2Method, ProjectedGradientDescent
        from art.attacks.evasion import SquareAttack as ArtSquare
        from art.estimators.classification import PyTorchClassifier

        clf = PyTorchClassifier(model=net, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 8, 8),
                                nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")
        art_pgd = ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=ALPHA,
                                           max_iter=STEPS, num_random_init=1, batch_size=256,
                                           verbose=False)
        art_cw = CarliniL2Method(clf, confidence=0.0, learning_rate=0.01, binary_search_steps=1,
                                 max_iter=CW_STEPS, initial_const=CW_C, batch_size=256,
                                 verbose=False)
        art_sq = ArtSquare(clf, norm=np.inf, eps=SQUARE_EPS, max_iter=SQUARE_QUERIES,
                           p_init=SQUARE_P, nb_restarts=1, batch_size=256, verbose=False)
        cw["ART"] = lambda: art_cw.generate(x=X, y=y)
        square["ART"] = lambda: art_sq.generate(x=X, y=y)

    rows = []
    pgd_strength = {}  # robust accuracy on the whole test split over random starts;
    X_all, y_all = trained.X_test, trained.y_test  # torchattacks and ART draw them from the
    for lib, fn in pgd_cases(X_all, y_all).items():  # global generators, hence the seeding
        values = []
        for s in range(args.seeds):
            torch.manual_seed(s)
            np.random.seed(s)
            gen.manual_seed(s)
            values.append(float((model.predict(fn()) == y_all).mean()))
        pgd_strength[lib] = values
        print(f"PGD strength, {lib}: robust accuracy {statistics.mean(values):.4f} on "
              f"{len(y_all)} images over {args.seeds} starts", flush=True)
    print(f"{'attack':14s} {'library':28s} {'median s':>8s} {'fastest':>8s} {'robust acc':>10s} "
          f"{'x ours':>7s}", flush=True)
    for attack, cases, repeats in (("PGD-10 Linf", pgd_cases(X, y), reps["pgd"]),
                                   ("C&W L2", cw, reps["cw"]),
                                   ("Square Linf", square, reps["square"])):
        results = measure(cases, repeats)
        ours = results["shakeout"]["seconds"]
        for lib, r in results.items():
            adv = np.asarray(r["output"], dtype=np.float32).reshape(X.shape)
            fooled = model.predict(adv) != y
            row = {"attack": attack, "library": lib, "seconds": round(r["seconds"], 4),
                   "fastest": round(r["fastest"], 4), "runs": r["runs"],
                   "robust_accuracy": round(float(1 - fooled.mean()), 4),
                   "ratio_to_shakeout": round(r["seconds"] / ours, 3)}
            if attack.startswith("C&W"):
                right = model.predict(X) == y
                size = np.where(fooled, perturbation_norm(adv, X, norm="l2"), np.inf)[right]
                row["success_rate"] = round(float(fooled[right].mean()), 4)
                row["median_l2"] = round(float(np.median(size)), 4)
            if attack.startswith("PGD"):
                row["max_linf"] = round(float(perturbation_norm(adv, X, norm="linf").max()), 6)
                runs = pgd_strength[lib]
                row["robust_accuracy"] = round(statistics.mean(runs), 4)
                row["robust_accuracy_sd"] = round(statistics.stdev(runs), 4) if len(runs) > 1 \
                    else 0.0
                row["robust_accuracy_seeds"] = runs
            rows.append(row)
            show(row, len(trained.X_test), args.seeds)
    ratios = {}  # shakeout's time over the other's: below 1, shakeout is faster
    for stat, label in (("seconds", "median"), ("fastest", "fastest")):
        by = {(r["attack"], r["library"]): r[stat] for r in rows}
        for attack in ("PGD-10 Linf", "C&W L2", "Square Linf"):
            for lib in ("plain loop", "plain loop, frozen weights", "torchattacks", "ART"):
                if (attack, lib) in by:
                    ratio = by[(attack, "shakeout")] / by[(attack, lib)]
                    ratios[f"{attack}: shakeout / {lib} ({label})"] = round(ratio, 3)
    report = {
        "benchmark": "attacks", "seed": seed, "batch": len(X), "clean_accuracy": clean,
        "settings": {"pgd": {"eps": EPS, "step": ALPHA, "steps": STEPS},
                     "cw": {"c": CW_C, "steps": CW_STEPS, "binary_steps": 1},
                     "square": {"eps": SQUARE_EPS, "queries": SQUARE_QUERIES, "p_init": SQUARE_P},
                     "repeats": reps, "pgd_strength": {"seeds": args.seeds,
                                                       "rows": len(trained.X_test)}},
        "hardware": {"machine": platform.machine(), "processor": _cpu(), "cores": os.cpu_count(),
                     "torch_threads": torch.get_num_threads(), "device": "cpu",
                     "load_average": os.getloadavg()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "shakeout": shakeout.__version__,
                     "torchattacks": getattr(ta, "__version__", None),
                     "art": getattr(art, "__version__", None)},
        "results": rows, "ratios": ratios,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(json.dumps(ratios, indent=1))
    print(f"written to {OUT}")


def show(r: dict, images: int, seeds: int) -> None:
    """Print one result row as soon as it is measured."""
    extra = f"  success {r['success_rate']:.3f}, median L2 {r['median_l2']}" \
        if "success_rate" in r else ""
    if "robust_accuracy_sd" in r:
        extra = (f"  (all {images} test images, mean of {seeds} starts, "
                 f"sd {r['robust_accuracy_sd']:.4f})")
    print(f"{r['attack']:14s} {r['library']:28s} {r['seconds']:8.3f} {r['fastest']:8.3f} "
          f"{r['robust_accuracy']:10.4f} {r['ratio_to_shakeout']:7.2f}{extra}", flush=True)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
