"""``shakeout demo``: train small models on bundled data and run the drills on them."""

from __future__ import annotations

from shakeout.errors import MissingDependencyError
from shakeout.report.gate import Gate, GateCondition
from shakeout.report.result import Manifest, Result

TABULAR, IMAGES = "breast-cancer GBM", "digits CNN"

DEMO_GATE = Gate(conditions=[
    # Release criteria a validator might write; each is judged on the interval's bound.
    GateCondition(metric="accuracy_drop", subject=TABULAR, group="gaussian_noise",
                  severity=0.1, max=0.05),
    GateCondition(metric="robustness_score", subject=TABULAR, group="missing_values", min=0.9),
    GateCondition(metric="accuracy_drop", subject=IMAGES, group="blur", severity=1, max=0.05),
    GateCondition(metric="robust_accuracy", subject=IMAGES, drill="attack", group="ensemble",
                  severity=0.03, min=0.8),
])


def run_demo(*, seed: int = 0, quiet: bool = True, n_bootstrap: int = 1000) -> Result:
    """The stress drill on both demo models and the attack drill on the CNN, in one Result.

    The tabular model is a gradient-boosted classifier on scikit-learn's breast-cancer
    table; the image model a small CNN on its 8x8 digits (inputs in [0, 1], so an L-inf
    budget of 0.03 is about 8/255).
    """
    from shakeout import stress
    from shakeout.demo.models import breast_cancer_gbm

    tab = breast_cancer_gbm(seed)
    parts = [(TABULAR, stress.run(tab.model, tab.X_test, tab.y_test, seed=seed, quiet=quiet,
                                  n_bootstrap=n_bootstrap,
                                  data_name="breast cancer (scikit-learn)"))]
    try:
        from shakeout.demo.models import digits_cnn

        cnn = digits_cnn(seed)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the image part of the demo needs PyTorch ({exc}); install it with "
            "pip install \"shakeout[torch]\"."
        ) from None
    from shakeout import attacks

    data = "digits 8x8 (scikit-learn)"
    parts.append((IMAGES, stress.run(cnn.model, cnn.X_test, cnn.y_test, seed=seed, quiet=quiet,
                                     n_bootstrap=n_bootstrap, data_name=data)))
    parts.append((IMAGES, attacks.run(cnn.model, cnn.X_test, cnn.y_test, seed=seed,
                                      quiet=quiet, data_name=data)))
    first = parts[0][1].manifest
    timings = {f"{subject} {r.findings[0].drill}: {k}": v for subject, r in parts
               for k, v in r.manifest.timings.items()}
    manifest = Manifest.collect(seed=seed, model=f"{TABULAR}, {IMAGES}",
                                data="scikit-learn bundled: breast cancer, digits",
                                model_fingerprint=first.model_fingerprint,
                                data_fingerprint=first.data_fingerprint, timings=timings,
                                parameters={"drill": "demo", "n_bootstrap": n_bootstrap})
    return Result.merge("shakeout demo", parts, manifest)
