"""Training-data scanners beside the floor and their peers.

Part ``tabular``: ``--rows`` x ``--features`` normal rows with 1% shifted outliers; per
tabular scanner, the seconds and the peak memory it allocates (tracemalloc: numpy's buffers
included) beside the floor, scikit-learn's (or numpy's) own fit and score on the same rows in
one call, unbatched:

- ``robust_z``: numpy's column medians and MADs over the whole table at once;
- ``iqr``: scikit-learn's ``RobustScaler`` (median and IQR) fit and transform;
- ``mahalanobis_mcd``, ``isolation_forest``, ``lof``: ``MinCovDet``, ``IsolationForest``,
  ``LocalOutlierFactor(novelty=True)`` fitted on the same seeded subsample shakeout fits on,
  scoring every row in one call.

shakeout scores in batches of 65,536 rows, so its peak stays near the subsample and one
batch while the floor's grows with the table (the table itself is not counted: it exists
before either runs).

Part ``labels``: breast cancer with 10% random label flips; shakeout's confident learning
beside cleanlab's ``find_label_issues(filter_by="confident_learning")`` on the same
out-of-fold probabilities (skipped where cleanlab is missing): issues found, precision, and
how many rows the two sets share.

Part ``representations``: the digits with a 3% BadNets patch backdoor and the tests' tiny
CNN trained on them; per layer (the default, the head's input: the flattened last
convolution, and ``relu3``, the penultimate layer), shakeout's spectral signatures and activation
clustering beside ART's ``SpectralSignatureDefense`` and ``ActivationDefence`` on the same
representations (ART reads its classifier's last layer, so it gets a classifier whose only
layer passes the representations through): seconds, rows flagged, precision and recall of
the poisoned rows. ART's spectral defence removes ``eps_multiplier * expected_pp_poison`` of
every class; shakeout's is read at the same number of rows, on its one scale across classes
(skipped where ART is missing).

    .bench-venv/bin/python benchmarks/bench_poison.py                          # 1,000,000 x 50
    .bench-venv/bin/python benchmarks/bench_poison.py --rows 20000 --features 10
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import streamed_table, timed, versions, write  # noqa: E402

from shakeout.poison.scanners import (IsolationForestScanner, LOFScanner,  # noqa: E402
                                      RobustMahalanobis, RobustZScore, TukeyIQR, fit_rows)

SEED = 0


def table(rows: int, features: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(rows, features))
    X[: rows // 100] += 4.0
    return X


def measured(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds, peak MiB allocated while it ran, and its result."""
    tracemalloc.start()
    try:
        seconds, out = timed(fn)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return seconds, peak, out


def floors(X: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Each scanner's floor: the library's own fit and score on the same rows, one call."""
    from sklearn.covariance import MinCovDet
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import RobustScaler

    def robust_z() -> np.ndarray:
        med = np.median(X, axis=0)
        mad = 1.4826 * np.median(np.abs(X - med), axis=0)
        return (np.abs(X - med) / mad).max(axis=1)

    def rows(limit: int) -> np.ndarray:
        chosen = fit_rows(len(X), limit, np.random.default_rng(SEED))
        return X if chosen is None else X[chosen]

    return {
        "robust_z": robust_z,
        "iqr": lambda: np.abs(RobustScaler().fit(X).transform(X)).max(axis=1),
        "mahalanobis_mcd": lambda: MinCovDet(random_state=SEED).fit(rows(20_000))
        .mahalanobis(X),
        "isolation_forest": lambda: IsolationForest(random_state=SEED).fit(rows(100_000))
        .score_samples(X),
        "lof": lambda: LocalOutlierFactor(novelty=True).fit(rows(10_000)).score_samples(X),
    }


def tabular(args: argparse.Namespace) -> list[dict[str, Any]]:
    X = table(args.rows, args.features)
    scanners = {"robust_z": RobustZScore(), "iqr": TukeyIQR(),
                "mahalanobis_mcd": RobustMahalanobis(seed=SEED),
                "isolation_forest": IsolationForestScanner(seed=SEED), "lof": LOFScanner(seed=SEED)}
    print(f"\nTabular scanners on {args.rows:,} x {args.features}")
    row = streamed_table(["scanner", "shakeout_s", "floor_s", "ratio", "shakeout_MiB",
                          "floor_MiB", "top1%_recall"])
    out = []
    for name, floor in floors(X).items():
        if args.only and name not in args.only:
            continue
        s_sec, s_mib, scores = measured(lambda: scanners[name].scores(X))
        f_sec, f_mib, _ = measured(floor)
        found = np.argsort(-scores)[: args.rows // 100] < args.rows // 100
        result = {"scanner": name, "shakeout_s": round(s_sec, 3), "floor_s": round(f_sec, 3),
                  "ratio": round(s_sec / f_sec, 2), "shakeout_MiB": round(s_mib, 1),
                  "floor_MiB": round(f_mib, 1), "top1%_recall": round(float(found.mean()), 3)}
        row(result)
        out.append(result)
    return out


def labels(args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer

    from shakeout.poison.attacks import LabelFlip
    from shakeout.poison.labels import ConfidentLearning

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    poisoned = LabelFlip(mode="random").apply(X, y, 0.10, seed=SEED)
    scanner = ConfidentLearning(seed=SEED)
    seconds, scores = timed(lambda: scanner.scores(X, poisoned.y))
    ours = np.flatnonzero(scores > scanner.threshold)
    result: dict[str, Any] = {"rows": len(y), "flipped": int(poisoned.mask.sum()),
                              "shakeout_issues": len(ours),
                              "shakeout_precision": round(float(poisoned.mask[ours].mean()), 3),
                              "shakeout_s_with_cv": round(seconds, 3)}
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        result["cleanlab"] = "not installed"
    else:
        c_sec, issues = timed(lambda: find_label_issues(poisoned.y, scanner.proba_,
                                                        filter_by="confident_learning"),
                              repeat=3)
        o_sec, _ = timed(lambda: _issues_only(scanner), repeat=3)
        theirs = np.flatnonzero(issues)
        result.update({"cleanlab_issues": len(theirs),
                       "cleanlab_precision": round(float(poisoned.mask[theirs].mean()), 3),
                       "shared": len(set(ours) & set(theirs)),
                       "cleanlab_s": round(c_sec, 4), "shakeout_s_same_proba": round(o_sec, 4)})
    print("\nConfident learning on breast cancer, 10% random flips")
    for key, value in result.items():
        print(f"  {key:24s} {value}")
    return result


def _issues_only(scanner: Any) -> np.ndarray:
    """shakeout's confident joint on the scanner's out-of-fold probabilities (no refit)."""
    from shakeout.poison.labels import confident_joint

    return confident_joint(scanner.proba_, scanner.codes_)[1]


def representation_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from shakeout.models import wrap
    from shakeout.poison.attacks import PatchBackdoor
    from shakeout.poison.representation import (activation_clustering, representations,
                                                spectral_signature)

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "poison"))
    from conftest import BADNETS_RATE, BADNETS_TARGET, train_cnn

    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)[:, None]
    X, _, y, _ = train_test_split(X, data.target, test_size=0.25, random_state=0,
                                  stratify=data.target)
    poisoned = PatchBackdoor(target=BADNETS_TARGET, size=3).apply(X, y, BADNETS_RATE, seed=SEED)
    fit = train_cnn(poisoned.X, poisoned.y)
    model = wrap(fit.module, classes=fit.classes)
    mask = poisoned.mask
    print(f"\nRepresentation scanners, digits, {int(mask.sum())} of {len(mask)} rows backdoored")
    row = streamed_table(["layer", "method", "seconds", "flagged", "precision", "recall"])
    out: list[dict[str, Any]] = []

    def report(layer: str, method: str, seconds: float, flagged: np.ndarray) -> None:
        hit = int(mask[flagged].sum())
        result = {"layer": layer, "method": method, "seconds": round(seconds, 4),
                  "flagged": int(len(flagged)),
                  "precision": round(hit / len(flagged), 3) if len(flagged) else None,
                  "recall": round(hit / int(mask.sum()), 3)}
        row(result)
        out.append(result)

    for layer in (None, "relu3"):
        name = "head input (default)" if layer is None else "relu3 (penultimate)"
        R = representations(model, poisoned.X, layer)
        s_sec, scores = timed(lambda: spectral_signature(R, poisoned.y), repeat=3)
        budget = int(round(1.5 * BADNETS_RATE * len(mask)))
        report(name, "shakeout spectral (1.5x rate)", s_sec, np.argsort(-scores)[:budget])
        a_sec, (clusters, _) = timed(lambda: activation_clustering(R, poisoned.y, seed=SEED))
        report(name, "shakeout activation clustering", a_sec, np.flatnonzero(clusters > 0))
        try:
            art = _art(R, poisoned.y, torch)
        except ImportError:
            print("  ART is not installed: its rows skipped")
            continue
        sec, flagged = timed(lambda: art("spectral", BADNETS_RATE))
        report(name, "ART SpectralSignatureDefense", sec, flagged)
        report(name, "shakeout spectral (ART's count)", s_sec,
               np.argsort(-scores)[:len(flagged)])
        sec, flagged = timed(lambda: art("activation", BADNETS_RATE))
        report(name, "ART ActivationDefence", sec, flagged)
    return out


def _art(R: np.ndarray, y: np.ndarray, torch: Any) -> Callable[[str, float], np.ndarray]:
    """ART's two defences on representations ``R``: a classifier whose one layer passes
    them through, so ART's "last layer" activations are ``R`` itself."""
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.estimators.classification import PyTorchClassifier

    classes = int(y.max()) + 1
    net = torch.nn.Sequential(torch.nn.Flatten())
    clf = PyTorchClassifier(net, loss=torch.nn.CrossEntropyLoss(), input_shape=R.shape[1:],
                            nb_classes=classes)
    x = R.astype(np.float32)
    onehot = np.eye(classes)[y]

    def flagged(which: str, rate: float) -> np.ndarray:
        if which == "spectral":
            defence = SpectralSignatureDefense(clf, x, onehot, expected_pp_poison=rate,
                                               eps_multiplier=1.5)
            _, clean = defence.detect_poison()
        else:
            defence = ActivationDefence(clf, x, onehot)
            _, clean = defence.detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA")
        return np.flatnonzero(np.asarray(clean) == 0)

    return flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--only", nargs="*", help="Tabular scanners to run (default: all).")
    parser.add_argument("--parts", nargs="*", default=["tabular", "labels"])
    args = parser.parse_args()
    payload: dict[str, Any] = {"seed": SEED, "rows": args.rows, "features": args.features,
                               "versions": versions("cleanlab", "adversarial-robustness-toolbox",
                                                    "torch")}
    if "tabular" in args.parts:
        payload["tabular"] = tabular(args)
    if "labels" in args.parts:
        payload["labels"] = labels(args)
    if "representations" in args.parts:
        payload["representations"] = representation_part(args)
    suffix = "" if args.rows == 1_000_000 and args.features == 50 else f"-{args.rows}x{args.features}"
    print(f"\nwritten to {write('poison' + suffix, payload)}")


if __name__ == "__main__":
    main()
