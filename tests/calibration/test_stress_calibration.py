"""Stress intervals and tests against known truths, including the perturbation's own randomness.

Coverage: a threshold classifier (clean accuracy 0.97) under input noise and under a
model-side draw shared by all rows, where E[accuracy] is known in closed form
(``stress_cases``), at n = 10, 20, 30, 100 with 5 draws per severity. Size: the accuracy
drop's sign-flip test (exact McNemar with one draw) and the prediction shift's signed-rank
test with outputs that change but not systematically.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration.bands import assert_in_band, coverage_band, rejection_band
from calibration.stress_cases import (ThresholdShift, data, input_noise_accuracy,
                                      model_side_accuracy, threshold_model)
from shakeout.perturb import GaussianNoise
from shakeout.stats import BootstrapPlan
from shakeout.stress import Sweep, run
from shakeout.stress.metrics import METRICS
from shakeout.stress.paired import compare_outputs, summarise

CALIBRATES = (
    "wilson", "effective_size", "paired_difference_interval", "draw_counts", "draw_inflation",
    "sign_flip_test", "mcnemar_exact", "clopper_pearson", "interval", "p_value",
    "adjust_p_values", "stress intervals",
    *(f"metric:{name}" for name in METRICS),
)

CLEAN = 0.97
SIGMA, SHIFT = 0.1, 0.05


def _covers(kind: str, n: int, trials: int, repeats: int | None = None) -> np.ndarray:
    """Per trial: clean accuracy, perturbed accuracy and drop intervals contain the truth."""
    if kind == "input":
        sev, truth = SIGMA, input_noise_accuracy(SIGMA)
        sweep = lambda: Sweep(GaussianNoise(relative=False), (0, sev))  # noqa: E731
    else:
        sev, truth = SHIFT, model_side_accuracy(SHIFT)
        sweep = lambda: Sweep(ThresholdShift(), (0, sev))  # noqa: E731
    hits = np.zeros((trials, 3), dtype=bool)
    for t in range(trials):
        X, y = data(n, np.random.default_rng([n, t, kind == "input"]))
        extra = {} if repeats is None else {"repeats": repeats}  # default: 5 draws
        r = run(threshold_model(), X, y, sweeps=[sweep()], metrics=["accuracy"],
                n_bootstrap=200, sensitivity=False, seed=t, **extra)
        acc = {f.severity: f.ci for f in r.select(metric="accuracy")}
        drop = r.select(metric="accuracy_drop")[0].ci
        hits[t] = (acc[0][0] <= CLEAN <= acc[0][1], acc[sev][0] <= truth <= acc[sev][1],
                   drop[0] <= CLEAN - truth <= drop[1])
    return hits.sum(axis=0)


def _check_coverage(kind: str, n: int, trials: int) -> None:
    """Accuracy is discrete: at a fixed (n, p) no interval has exactly 95% coverage (Wilson's
    is 0.93-0.98 at p = 0.97, Brown, Cai & DasGupta 2001). So the lower band binds, and an
    upper cap of 99.5% shows the interval is not made safe by being useless."""
    counts = _covers(kind, n, trials)
    band = coverage_band(trials, 0.95)
    cap = int(0.995 * trials)
    for what, count in zip(("clean accuracy (Wilson)", f"accuracy under {kind} perturbation",
                            "accuracy drop (Newcombe)"), counts):
        where = f"{what}, n={n}: covers {count} of {trials}"
        assert count >= band[0], f"{where}, below the band [{band[0]}, {band[1]}]"
        if what != "accuracy drop (Newcombe)" or n >= 100:
            assert count <= cap, f"{where}, above {cap}: needlessly wide"


@pytest.mark.parametrize("kind", ["input", "model"])
def test_stress_intervals_cover_a_truth_with_draw_randomness_fast(kind):
    _check_coverage(kind, 30, 200)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["input", "model"])
@pytest.mark.parametrize("n", [10, 20, 30, 100])
def test_stress_intervals_cover_a_truth_with_draw_randomness(kind, n):
    _check_coverage(kind, n, 1000)


def test_one_draw_misses_a_model_side_truth():
    """With one draw a model-side perturbation has no draw spread to measure: the row
    bootstrap alone covers far below 95%, which is why the default is 5 draws."""
    with pytest.warns(UserWarning, match="repeats=1"):
        _, perturbed, _ = _covers("model", 200, 200, repeats=1)
    assert perturbed < coverage_band(200, 0.95)[0]


def _exchangeable(n: int, rng: np.random.Generator, draws: int, tied: bool):
    """Clean and perturbed outputs drawn alike per row: no systematic change."""
    y = rng.integers(0, 2, n)
    logit = rng.normal(size=n) + (2 * y - 1) * 0.8

    def out():
        z = logit + rng.normal(size=n)
        p = 1 / (1 + np.exp(-z))
        if tied:
            p = np.round(p, 1).clip(0.05, 0.95)
        return np.column_stack([1 - p, p])
    return y, out(), [out() for _ in range(draws)]


def _null_rejections(n: int, trials: int, draws: int, tied: bool) -> tuple[int, int]:
    rng = np.random.default_rng([n, draws, tied])
    acc_rej = shift_rej = 0
    metrics = [METRICS["accuracy"]]
    for t in range(trials):
        y, a, b = _exchangeable(n, rng, draws, tied)
        plan = BootstrapPlan(n=n, n_boot=10, seed=t)
        extra = {}
        if draws > 1:
            from shakeout.stress.paired import Draws
            extra = {"draws": Draws(count=draws)}
        pms, st = compare_outputs(y, summarise(y, a, metrics, plan), b if draws > 1 else b[0],
                                  metrics, plan, "classification", **extra)
        acc_rej += pms[0].change.p_value < 0.05
        shift_rej += st.ks_p_value < 0.05
    return acc_rej, shift_rej


@pytest.mark.parametrize("tied", [False, True])
def test_paired_tests_hold_their_size_fast(tied):
    acc, shift = _null_rejections(300, 300, 1, tied)
    band = rejection_band(300, 0.05)
    assert acc <= band[1], f"accuracy drop (exact McNemar) rejects {acc} of 300"
    assert_in_band(shift, band, f"prediction shift (signed-rank), tied={tied}")


@pytest.mark.slow
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("n", [30, 1000])
def test_paired_tests_hold_their_size(n, tied):
    """Exact tests are conservative on few discordant rows: at small n only the upper band
    binds; on many rows the size is in band."""
    trials = 1000
    band = rejection_band(trials, 0.05)
    acc, shift = _null_rejections(n, trials, 1, tied)
    assert acc <= band[1], f"accuracy drop rejects {acc}, n={n}"
    if n >= 1000:
        assert_in_band(acc, band, f"accuracy drop (exact McNemar), n={n}")
    assert_in_band(shift, band, f"prediction shift (signed-rank), n={n}, tied={tied}")


@pytest.mark.slow
def test_sign_flip_test_with_draws_holds_its_size():
    """With 5 draws the per-row change is not symmetric, only centred: the studentised
    sign-flip test is then valid on many rows."""
    trials = 1000
    acc, _ = _null_rejections(1000, trials, 5, False)
    assert_in_band(acc, rejection_band(trials, 0.05), "accuracy drop (sign-flip), 5 draws")


# --- the statistics underneath, each against its promise --------------------------------


def _proba(rng, n, k):
    logits = rng.normal(size=(n, k)) * 2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4])
def test_metric_point_estimates_agree_with_scikit_learn(k):
    from sklearn import metrics as skm

    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 300)
    p = _proba(rng, 300, k)
    pred = p.argmax(axis=1)
    auc = (skm.roc_auc_score(y, p[:, 1]) if k == 2
           else skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    expected = {"accuracy": skm.accuracy_score(y, pred),
                "macro_f1": skm.f1_score(y, pred, average="macro",
                                         labels=np.unique(np.r_[y, pred])),
                "roc_auc": auc, "log_loss": skm.log_loss(y, p, labels=np.arange(k))}
    for name, value in expected.items():
        assert METRICS[name].value(y, p) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    conf, right = p.max(axis=1), pred == y
    bins = np.minimum((conf * 15).astype(int), 14)
    ece = sum(abs(right[bins == b].sum() - conf[bins == b].sum()) for b in range(15)) / 300
    assert METRICS["ece"].value(y, p) == pytest.approx(ece, abs=1e-12)
    t = rng.normal(size=300)
    v = t + rng.normal(size=300)
    assert METRICS["mae"].value(t, v) == pytest.approx(skm.mean_absolute_error(t, v))
    assert METRICS["rmse"].value(t, v) == pytest.approx(np.sqrt(skm.mean_squared_error(t, v)))


def _proportion_coverage(trials: int, n: int, seed: int) -> tuple[int, int]:
    """Wilson and Clopper-Pearson covers with p drawn at random per trial."""
    from shakeout.stats import clopper_pearson, wilson

    rng = np.random.default_rng([seed, n])
    p = rng.uniform(0.05, 0.95, trials)
    k = rng.binomial(n, p)
    w = c = 0
    for pi, ki in zip(p, k):
        lo, hi = wilson(ki / n, n)
        w += lo <= pi <= hi
        lo, hi = clopper_pearson(int(ki), n)
        c += lo <= pi <= hi
    return w, c


@pytest.mark.parametrize("n", [10, 30, 100])
def test_proportion_intervals_cover(n):
    """Averaged over p, Wilson covers at its nominal level; Clopper-Pearson at least it."""
    trials = 1000
    wilson_hits, cp_hits = _proportion_coverage(trials, n, 0)
    band = coverage_band(trials, 0.95)
    assert_in_band(wilson_hits, band, f"Wilson, n={n}")
    assert cp_hits >= band[0], f"Clopper-Pearson covers {cp_hits} < {band[0]}, n={n}"


def test_mcnemar_exact_holds_its_size():
    """Two classifiers equally good: the exact test rejects at most alpha, in band on many
    discordant pairs."""
    from shakeout.stats import mcnemar_exact

    rng = np.random.default_rng(11)
    trials = 1000
    discordant = rng.binomial(600, 0.3, trials)
    b = rng.binomial(discordant, 0.5)
    rejections = sum(mcnemar_exact(int(x), int(d - x)) < 0.05 for x, d in zip(b, discordant))
    assert_in_band(int(rejections), rejection_band(trials, 0.05), "exact McNemar")


def _bootstrap_trials(trials: int, n: int, n_boot: int) -> tuple[int, int]:
    """MAE drop of a known size (covered by ``interval``) and a null one (``p_value``)."""
    metrics = [METRICS["mae"]]
    truth = (1.5 - 1.0) * np.sqrt(2 / np.pi)
    rng = np.random.default_rng([n, n_boot])
    covers = rejections = 0
    for t in range(trials):
        y = rng.normal(size=n)
        a, b = y + rng.normal(size=n), y + 1.5 * rng.normal(size=n)
        plan = BootstrapPlan(n=n, n_boot=n_boot, seed=t)
        pm = compare_outputs(y, summarise(y, a, metrics, plan), b, metrics, plan,
                             "regression")[0][0]
        covers += pm.change.ci[0] <= truth <= pm.change.ci[1]
        b0 = y + rng.normal(size=n)
        null = compare_outputs(y, summarise(y, a, metrics, plan), b0, metrics, plan,
                               "regression")[0][0]
        rejections += null.change.p_value < 0.05
    return covers, rejections


def test_paired_bootstrap_covers_and_holds_its_size_fast():
    covers, rejections = _bootstrap_trials(200, 200, 400)
    assert_in_band(covers, coverage_band(200, 0.95), "paired bootstrap interval (MAE drop)")
    assert_in_band(rejections, rejection_band(200, 0.05), "paired bootstrap p-value (MAE)")


@pytest.mark.slow
def test_paired_bootstrap_covers_and_holds_its_size():
    covers, rejections = _bootstrap_trials(1000, 200, 400)
    assert_in_band(covers, coverage_band(1000, 0.95), "paired bootstrap interval (MAE drop)")
    assert_in_band(rejections, rejection_band(1000, 0.05), "paired bootstrap p-value (MAE)")


def test_holm_and_bonferroni_control_the_family_wise_error():
    from shakeout.stats import adjust_p_values

    rng = np.random.default_rng(5)
    trials = 1000
    for method in ("holm", "bonferroni"):
        any_rejected = sum(bool((adjust_p_values(rng.random(20), method) < 0.05).any())
                           for _ in range(trials))
        assert any_rejected <= rejection_band(trials, 0.05)[1], method
