"""``shakeout demo``: train small models on bundled data and run the drills on them."""

from __future__ import annotations

from shakeout.demo.models import Trained
from shakeout.errors import MissingDependencyError
from shakeout.report.gate import Gate, GateCondition
from shakeout.report.result import Manifest, Result

TABULAR, IMAGES, STREAM = "breast-cancer GBM", "digits CNN", "weekly stream LR"
NOISY_IMAGES = "digits CNN, noise-trained"

SIGMA, N, N_CERTIFIED, RADII = 0.25, 1_000, 100, (0.0, 0.25, 0.5)
"""Certification in the demo: L2 smoothing with Gaussian noise of ``SIGMA`` (pixel units) on
the first ``N_CERTIFIED`` test images, ``N`` noisy passes each (see :func:`run_demo`)."""
ALPHA, MC_DROPOUT = 0.02, 50
"""Conformal miscoverage and MC-dropout passes of the demo's uncertainty section."""

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
    """The stress drill on two demo models, the attack drill on the CNN, eight weeks of
    drift monitoring on a third, and certification and uncertainty on the CNN, in one
    Result.

    The tabular model is a gradient-boosted classifier on scikit-learn's breast-cancer
    table; the image model a small CNN on its 8x8 digits (inputs in [0, 1], so an L-inf
    budget of 0.03 is about 8/255). The monitored model is a logistic regression on
    synthetic data whose feature ``x2`` silently changes unit from week 5
    (:func:`~shakeout.demo.models.drifting_stream`); its history goes through a SQLite
    store in a temporary folder, and each week's coverage of conformal sets calibrated on
    the holdout (``conformal_alpha=0.1``) is tested beside the drift tests.

    Certification (:func:`shakeout.certify.run`) smooths two CNNs with Gaussian noise of
    ``sigma=0.25``: the plain one and the same network trained with that noise
    (:func:`~shakeout.demo.models.noisy_digits_cnn`, subject ``"digits CNN, noise-trained"``),
    on the first 100 test images, at radii 0, 0.25 and 0.5 (L2, pixel units). Each image
    gets ``n=1,000`` noisy passes, not the paper's 100,000, so that both certifications
    take seconds: 100 times fewer passes, at the price of smaller radii. With ``n`` passes
    that all agree, the lower bound on pA is ``alpha**(1/n)``, so the largest radius
    ``n=1,000`` can certify is ``sigma * Phi^-1(0.001**(1/1000))``, 2.46 sigma or 0.62
    (3.8 sigma with ``n=100,000``); the curve stops at 0.5 below that cap.

    Uncertainty (:func:`shakeout.uncertainty.run`) on the plain CNN holds half of its 450
    test images out for calibration: calibration and the reliability curve, temperature
    scaling, the rejection threshold with guaranteed risk (5% at ``delta=0.05``), MC
    dropout (50 passes) and conformal sets at ``alpha=0.02``. The CNN errs on about 2% of
    the images: at ``alpha=0.1`` LAC sets would meet their coverage by leaving about one
    image in ten with an empty set; at 0.02 nearly every set holds one label, a few two.
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
    parts.extend(_trust_demo(cnn, seed, quiet, n_bootstrap))
    first = parts[0][1].manifest
    timings = {f"{subject} {r.findings[0].drill}: {k}": v for subject, r in parts
               for k, v in r.manifest.timings.items()}
    manifest = Manifest.collect(seed=seed, model=f"{TABULAR}, {IMAGES}, {NOISY_IMAGES}",
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
                             holdout=stream.holdout, conformal_alpha=0.1, store=store,
                             seed=seed, quiet=quiet)
        store.engine.dispose()
    return result


def _trust_demo(cnn: Trained, seed: int, quiet: bool,
                n_bootstrap: int) -> list[tuple[str, Result]]:
    """Certified accuracy of the plain and the noise-trained CNN, and the plain CNN's
    uncertainty, as ``(subject, result)`` parts."""
    from shakeout import certify, uncertainty
    from shakeout.demo.models import noisy_digits_cnn

    smooth = noisy_digits_cnn(seed, sigma=SIGMA)
    X, y = cnn.X_test[:N_CERTIFIED], cnn.y_test[:N_CERTIFIED]
    settings = {"sigma": SIGMA, "n": N, "radii": RADII, "seed": seed, "quiet": quiet,
                "data_name": f"digits 8x8 (scikit-learn), {N_CERTIFIED} test images"}
    return [(IMAGES, certify.run(cnn.model, X, y, **settings)),
            (NOISY_IMAGES, certify.run(smooth.model, X, y, **settings)),
            (IMAGES, uncertainty.run(cnn.model, cnn.X_test, cnn.y_test, alpha=ALPHA,
                                     mc_dropout=MC_DROPOUT, n_boot=n_bootstrap, seed=seed,
                                     quiet=quiet, data_name="digits 8x8 (scikit-learn)"))]
