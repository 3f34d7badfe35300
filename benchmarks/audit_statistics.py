"""Re-run the statistical audit of issue #8 through the public API, with known truths.

Each row simulates replications where the truth is known (no drift, a fixed accuracy, a
known AUC) and counts rejections or covers against the 99.9% binomial band. It is an
independent check of the calibration tests, written apart from the code it checks, and
the source of the measured figures in docs/statistics.md. Not a test; prints each row as
it is measured and writes JSON:

    python benchmarks/audit_statistics.py [--trials 200] [--only ks,ad,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from _common import versions, write  # noqa: E402

ALPHA = 0.05
ROWS: list[dict] = []


def band(trials: int, p: float) -> tuple[int, int]:
    law = stats.binom(trials, p)
    return int(law.ppf(0.0005)), int(law.isf(0.0005))


def record(item: str, what: str, count: int, trials: int, p: float, kind: str = "size",
           note: str = "") -> None:
    lo, hi = band(trials, p)
    ok = lo <= count <= hi if kind == "size" else count >= lo
    row = {"item": item, "what": what, "kind": kind, "count": count, "trials": trials,
           "rate": round(count / trials, 4), "nominal": p, "band": [lo, hi],
           "inside": bool(ok), "note": note}
    ROWS.append(row)
    print(f"{item:>4} {what:58s} {count:4d}/{trials:<4d} = {count / trials:6.3f}  "
          f"band [{lo}, {hi}]  {'ok' if ok else 'OUTSIDE'} {note}", flush=True)


def at(result, metric: str, severity: float):
    """The one finding of ``metric`` at ``severity``."""
    return next(f for f in result.select(metric=metric) if f.severity == severity)


def rejections(trials: int, one) -> int:
    return int(sum(bool(one(np.random.default_rng(1000 + t))) for t in range(trials)))


# ---------------------------------------------------------------- drift tests under the null
def drift_tests(trials: int) -> None:
    from shakeout.drift import (ADTest, Chi2Test, ClassifierTest, KSTest, ProjectionTest,
                                Wasserstein)

    def p_of(test, a, b):
        return test.fit(a).compare(b).p_value

    cases = {
        "continuous n=50": lambda r, n=50: r.normal(size=n),
        "continuous n=2000": lambda r, n=2000: r.normal(size=n),
        "tied, 5 levels n=50": lambda r, n=50: r.integers(0, 5, n).astype(float),
        "tied, 5 levels n=2000": lambda r, n=2000: r.integers(0, 5, n).astype(float),
        "tied, rounded normal n=300": lambda r, n=300: np.round(r.normal(size=n), 1),
    }
    for name, draw in cases.items():
        record("12", f"KS {name}", rejections(trials, lambda r: p_of(
            KSTest(), draw(r), draw(r)) < ALPHA), trials, ALPHA)
        record("7", f"AD {name}", rejections(trials, lambda r: p_of(
            ADTest(), draw(r), draw(r)) < ALPHA), trials, ALPHA)
    for n in (50, 1000):
        for kind, draw in (("categories", lambda r, n=n: r.choice(list("abcde"), n,
                                                                   p=[.4, .3, .15, .1, .05])),
                           ("numeric", lambda r, n=n: r.normal(size=n))):
            record("13", f"chi-square {kind} n={n}", rejections(trials, lambda r: p_of(
                Chi2Test(kind="categorical" if kind == "categories" else "numeric"),
                draw(r), draw(r)) < ALPHA), trials, ALPHA)
    for n in (100, 1000):
        record("10", f"Wasserstein warn-or-fail, no drift, n={n}", rejections(
            trials, lambda r: Wasserstein().fit(r.normal(size=n)).compare(
                r.normal(size=n)).status != "pass"), trials, ALPHA)

    multi = max(trials // 2, 50)
    covers = 0

    def classifier(r):
        nonlocal covers
        f = ClassifierTest(seed=int(r.integers(2**31))).fit(r.normal(size=(200, 5))).compare(
            r.normal(size=(200, 5)))
        covers += f.ci[0] <= 0.5 <= f.ci[1]
        return f.p_value < ALPHA

    record("5", "classifier 200 vs 200, 5 features", rejections(multi, classifier), multi,
           ALPHA)
    record("5", "classifier AUC interval covers 0.5", covers, multi, 0.95, kind="coverage")
    record("6", "projection 200 vs 200, 50 features", rejections(multi, lambda r: p_of(
        ProjectionTest(), r.normal(size=(200, 50)), r.normal(size=(200, 50))) < ALPHA),
        multi, ALPHA)
    from sklearn.datasets import load_digits
    digits = load_digits().data

    def images(r):
        order = r.permutation(len(digits))
        return p_of(ProjectionTest(), digits[order[:400]], digits[order[400:800]]) < ALPHA

    record("6", "projection on 8x8 digits, random halves", rejections(multi, images), multi,
           ALPHA)


def psi_kl(trials: int) -> None:
    from shakeout.drift import PSI, KLDivergence

    def chance_rejects(test, n_ref, n_cur):
        def one(r):
            f = test.fit(r.normal(size=n_ref)).compare(r.normal(size=n_cur))
            p = f.details.get("chance_p_value")
            return p is not None and p < ALPHA
        return rejections(trials, one)

    for n_ref, n_cur in ((50, 50), (500, 50), (100, 100), (1000, 1000)):
        record("8", f"PSI chance level {n_ref}/{n_cur}", chance_rejects(PSI(), n_ref, n_cur),
               trials, ALPHA)
    record("8", "KL chance level 500/50", chance_rejects(KLDivergence(), 500, 50), trials,
           ALPHA)


def decision(trials: int) -> None:
    from shakeout import drift

    runs = max(trials // 4, 40)

    def alarm(r, multivariate=()):
        ref, cur = r.normal(size=(200, 20)), r.normal(size=(200, 20))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = drift.run(ref, cur, seed=int(r.integers(2**31)),
                               multivariate=multivariate)
        return result.select(metric="decision")[0].details["action"] != "continue monitoring"

    record("9", "decision alarms, 20 unchanged features, n=200", rejections(runs, alarm),
           runs, ALPHA, note="(rate stated in docs; band at 5%)")
    record("9", "decision alarms with MMD, 20 unchanged features", rejections(
        runs, lambda r: alarm(r, ("mmd",))), runs, ALPHA, note="(band at 5%)")


def streaming(trials: int) -> None:
    from shakeout.drift import ADWIN, DDM, PageHinkley

    windows = max(trials // 2, 50)
    for name, make in (("DDM", DDM), ("ADWIN", ADWIN), ("PageHinkley", PageHinkley)):
        for p in (0.1, 0.3):
            def one(r, make=make, p=p):
                det = make()
                for x in (r.random(1000) < p).astype(float):
                    det.update(x)
                return len(det.detections_) > 0
            record("11", f"{name} alarms in 1,000 steps, error rate {p} constant",
                   rejections(windows, one), windows, ALPHA, note="(band at 5%)")
    for name, cls in (("DDM", DDM), ("PageHinkley", PageHinkley)):
        for p in (0.1, 0.3):
            stable = np.random.default_rng(7).random(20_000) < p  # a stable period's errors
            calibrated = cls.calibrate(stable, window=1000, target=ALPHA, seed=0)

            def fresh(r, calibrated=calibrated, p=p):
                det = type(calibrated)(**calibrated.params())
                for x in (r.random(1000) < p).astype(float):
                    det.update(x)
                return len(det.detections_) > 0
            record("11", f"{name}.calibrate(target=0.05), fresh windows, rate {p}",
                   rejections(windows, fresh), windows, ALPHA)


# ------------------------------------------------------------------------------- stress
def stress_items(trials: int) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from shakeout import stress
    from shakeout.perturb import GaussianNoise

    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, test = order[:300], order[300:]
    gbm = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[train], y[train])
    result = stress.run(gbm, X[test], y[test], metrics=["roc_auc"], seed=0,
                        sweeps=[stress.Sweep(GaussianNoise(), (0, 0.5))], sensitivity=False,
                        n_bootstrap=200)
    clean = at(result, "roc_auc", 0).value
    truth = roc_auc_score(y[test], gbm.predict_proba(X[test])[:, 1])
    ROWS.append({"item": "1", "what": "GBM ROC-AUC vs scikit-learn", "shakeout": clean,
                 "sklearn": truth, "inside": abs(clean - truth) < 1e-12})
    print(f"   1 GBM ROC-AUC point estimate: shakeout {clean:.6f}, scikit-learn {truth:.6f}",
          flush=True)

    # Coverage with the perturbation's randomness: a population of rows, a fixed model, the
    # truth E[accuracy] over rows and draws estimated once on a large sample (many draws).
    for signal in (1.0, 6.0):
        _coverage(trials, signal, "input")
    _coverage(trials, 1.0, "weights")

    # Item 14: unchanged outputs must not reject (a perturbation that changes nothing).
    Xfit, yfit = _population(np.random.default_rng(1), 5000, 1.0)
    lr = LogisticRegression().fit(Xfit, yfit)

    def unchanged(r):
        Xs, ys = _population(r, 300, 1.0)
        res = stress.run(lr, Xs, ys, metrics=["accuracy"], seed=int(r.integers(2**31)),
                         sweeps=[stress.Sweep(GaussianNoise(), (0, 1e-12))],
                         sensitivity=False, n_bootstrap=100)
        tested = [f for f in res.findings if f.p_value is not None]
        return any(f.p_value < ALPHA for f in tested)

    runs = max(trials // 4, 50)
    record("14", "any stress test rejects when outputs do not change",
           rejections(runs, unchanged), runs, ALPHA, note="(at most 5%)")


W = np.array([1.0, -1.0, 0.5])


def _population(r: np.random.Generator, n: int, signal: float):
    X = r.normal(size=(n, 3))
    return X, (X @ W * signal + r.logistic(size=n) > 0).astype(int)


def _coverage(trials: int, signal: float, kind: str, sigma: float = 0.5) -> None:
    """Do the accuracy and accuracy-drop intervals cover E over rows and draws?"""
    import torch
    from sklearn.linear_model import LogisticRegression

    from shakeout import stress
    from shakeout.perturb import GaussianNoise, WeightNoise

    Xfit, yfit = _population(np.random.default_rng(1), 5000, signal)
    lr = LogisticRegression().fit(Xfit, yfit)
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():  # the same decision rule as lr, as logits for classes 0 and 1
        net.weight.copy_(torch.tensor(np.r_[-lr.coef_, lr.coef_] / 2, dtype=torch.float32))
        net.bias.copy_(torch.tensor(np.r_[-lr.intercept_, lr.intercept_] / 2,
                                    dtype=torch.float32))
    Xbig, ybig = _population(np.random.default_rng(2), 200_000, signal)
    truth_clean = float(np.mean(lr.predict(Xbig) == ybig))
    if kind == "input":
        model, perturbation = lr, GaussianNoise()
        noise = np.random.default_rng(3).normal(size=Xbig.shape) * Xfit.std(axis=0) * sigma
        truth_noisy = float(np.mean(lr.predict(Xbig + noise) == ybig))
    else:
        model, perturbation = net, WeightNoise()
        draws = []
        r = np.random.default_rng(3)
        Xt = torch.tensor(Xbig[:50_000], dtype=torch.float32)
        for _ in range(400):
            with torch.no_grad():
                w = net.weight + sigma * net.weight.std() * torch.tensor(
                    r.normal(size=(2, 3)), dtype=torch.float32)
                b = net.bias + sigma * net.bias.std() * torch.tensor(r.normal(size=2),
                                                                     dtype=torch.float32)
                pred = (Xt @ w.T + b).argmax(1).numpy()
            draws.append(np.mean(pred == ybig[:50_000]))
        truth_noisy = float(np.mean(draws))
    cov_trials = max(trials // 2, 60)
    for n in (20, 200):
        hits = {"accuracy@0": 0, "accuracy": 0, "accuracy_drop": 0}
        degenerate = 0
        for t in range(cov_trials):
            Xs, ys = _population(np.random.default_rng(5000 + t), n, signal)
            res = stress.run(model, Xs.astype(np.float32), ys, metrics=["accuracy"], seed=t,
                             n_bootstrap=300, sweeps=[stress.Sweep(perturbation, (0, sigma))],
                             sensitivity=False, **_repeats())
            clean, acc, drop = (at(res, "accuracy", 0), at(res, "accuracy", sigma),
                                at(res, "accuracy_drop", sigma))
            hits["accuracy@0"] += clean.ci[0] <= truth_clean <= clean.ci[1]
            hits["accuracy"] += acc.ci[0] <= truth_noisy <= acc.ci[1]
            hits["accuracy_drop"] += drop.ci[0] <= truth_clean - truth_noisy <= drop.ci[1]
            degenerate += (clean.ci[0] == clean.ci[1]) + (acc.ci[0] == acc.ci[1])
        for name, h in hits.items():
            record("2/3", f"{name} {kind} noise, clean acc {truth_clean:.2f}, n={n}", h,
                   cov_trials, 0.95, kind="coverage", note=f"(zero-width: {degenerate})")


def _repeats() -> dict:
    import inspect

    from shakeout import stress
    return {"repeats": 5} if "repeats" in inspect.signature(stress.run).parameters else {}


SECTIONS = {"drift": drift_tests, "psi": psi_kl, "decision": decision,
            "streaming": streaming, "stress": stress_items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    started = time.perf_counter()
    for name in args.only.split(","):
        SECTIONS[name](args.trials)
    write("audit_statistics", {"rows": ROWS, "trials": args.trials, "versions": versions(),
                               "seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main()
