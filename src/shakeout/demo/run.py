"""``shakeout demo``: train small models on bundled data and run the drills on them."""

from __future__ import annotations

from shakeout.errors import MissingDependencyError
from shakeout.report.gate import Gate, GateCondition
from shakeout.report.result import Manifest, Result

TABULAR, IMAGES, STREAM = "breast-cancer GBM", "digits CNN", "weekly stream LR"

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
    """The stress drill on two demo models, the attack drill on the CNN, and eight weeks of
    drift monitoring on a third, in one Result.

    The tabular model is a gradient-boosted classifier on scikit-learn's breast-cancer
    table; the image model a small CNN on its 8x8 digits (inputs in [0, 1], so an L-inf
    budget of 0.03 is about 8/255). The monitored model is a logistic regression on
    synthetic data whose feature ``x2`` silently changes unit from week 5
    (:func:`~shakeout.demo.models.drifting_stream`); its history goes through a SQLite
    store in a temporary folder.
    """
    from shakeout import stress
    from shakeout._validation import check_number
    from shakeout.demo.models import breast_cancer_gbm

    check_number("run_demo", "seed", seed, 0, integer=True)
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
    parts.append((STREAM, _monitor_demo(seed, quiet)))
    first = parts[0][1].manifest
    timings = {f"{subject} {r.findings[0].drill}: {k}": v for subject, r in parts
               for k, v in r.manifest.timings.items()}
    manifest = Manifest.collect(seed=seed, model=f"{TABULAR}, {IMAGES}",
                                data="scikit-learn: breast cancer, digits, make_classification",
                                model_fingerprint=first.model_fingerprint,
                                data_fingerprint=first.data_fingerprint, timings=timings,
                                parameters={"drill": "demo", "n_bootstrap": n_bootstrap})
    return Result.merge("shakeout demo", parts, manifest)


def _monitor_demo(seed: int, quiet: bool) -> Result:
    """Weekly windows of the drifting stream, through a real history store."""
    import tempfile

    from shakeout import monitor
    from shakeout.demo.models import drifting_stream

    stream = drifting_stream(seed)
    with tempfile.TemporaryDirectory() as folder:
        store = monitor.HistoryStore(f"sqlite:///{folder}/history.db", stream="demo")
        result = monitor.run(stream.reference, stream.events, timestamp="ts", every="week",
                             target="label", model=stream.model, y_reference=stream.y_reference,
                             holdout=stream.holdout, store=store, seed=seed, quiet=quiet)
        store.engine.dispose()
    return result
