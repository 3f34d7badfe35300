"""``shakeout demo``: train small models on bundled data and run the drills on them."""

from __future__ import annotations

from shakeout.errors import MissingDependencyError
from shakeout.report.gate import Gate, GateCondition
from shakeout.report.result import Manifest, Result

SUBJECTS = {"tabular": "breast-cancer GBM", "images": "digits CNN"}

DEMO_GATE = Gate(conditions=[
    # Release criteria a validator might write; each is judged on the interval's bound.
    GateCondition(metric="accuracy_drop", subject=SUBJECTS["tabular"], group="gaussian_noise",
                  severity=0.1, max=0.05),
    GateCondition(metric="robustness_score", subject=SUBJECTS["tabular"], group="missing_values",
                  min=0.9),
    GateCondition(metric="accuracy_drop", subject=SUBJECTS["images"], group="blur", severity=1,
                  max=0.05),
])


def run_demo(*, seed: int = 0, quiet: bool = True, n_bootstrap: int = 1000) -> Result:
    """Both demo drills in one Result: the tabular model always, the CNN when torch is there.

    Examples
    --------
    >>> result = run_demo(n_bootstrap=50)  # doctest: +SKIP
    """
    from shakeout import stress
    from shakeout.demo.models import breast_cancer_gbm

    results = {}
    tab = breast_cancer_gbm(seed)
    results[SUBJECTS["tabular"]] = stress.run(
        tab.model, tab.X_test, tab.y_test, seed=seed, quiet=quiet, n_bootstrap=n_bootstrap,
        data_name="breast cancer (scikit-learn)")
    try:
        from shakeout.demo.models import digits_cnn

        cnn = digits_cnn(seed)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the image part of the demo needs PyTorch ({exc}); install it with "
            "pip install \"shakeout[torch]\"."
        ) from None
    results[SUBJECTS["images"]] = stress.run(
        cnn.model, cnn.X_test, cnn.y_test, seed=seed, quiet=quiet, n_bootstrap=n_bootstrap,
        data_name="digits 8x8 (scikit-learn)")
    first = results[SUBJECTS["tabular"]].manifest
    timings = {f"{name}: {k}": v for name, r in results.items() for k, v in r.manifest.timings.items()}
    manifest = Manifest.collect(seed=seed, model=", ".join(results), data="scikit-learn bundled",
                                model_fingerprint=first.model_fingerprint,
                                data_fingerprint=first.data_fingerprint, timings=timings,
                                parameters={"drill": "demo", "n_bootstrap": n_bootstrap})
    return Result.merge("shakeout demo", results, manifest)
