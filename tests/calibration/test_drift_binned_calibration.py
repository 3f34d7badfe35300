"""Calibration of the binned drift tests, the distances, the decision and streaming detectors.

Null data sets (no drift) are drawn from one law for reference and current; the count of
false alarms must fall in the 99.9% binomial band (``calibration.bands``). Fast versions
run by default; the full replication counts are marked ``slow``. Every trial is seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from calibration.bands import assert_in_band, rejection_band
from shakeout import drift
from shakeout.drift import PSI, Chi2Test, JSDivergence, KLDivergence, Wasserstein

CALIBRATES = ("PSI", "KLDivergence", "JSDivergence", "Chi2Test", "Wasserstein", "decide",
              "ADWIN", "DDM", "PageHinkley")
ALPHA = 0.05
LETTERS = np.array(list("abcdef"), dtype=object)
SHARES = [0.3, 0.25, 0.2, 0.15, 0.07, 0.03]


def draw(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Continuous (normal), tied (Poisson counts) or categorical values, no drift."""
    if kind == "continuous":
        return rng.normal(size=n)
    if kind == "tied":
        return rng.poisson(3.0, size=n).astype(np.float64)
    return rng.choice(LETTERS, size=n, p=SHARES)


def null_count(make, kind: str, n_ref: int, n_cur: int, trials: int, seed: int,
               alarm) -> int:
    """False alarms of ``make(trial)`` over ``trials`` seeded null data sets."""
    rng = np.random.default_rng(seed)
    count = 0
    for t in range(trials):
        test = make(t).fit(draw(kind, n_ref, rng))
        count += bool(alarm(test.compare(draw(kind, n_cur, rng))))
    return count


def chance(f) -> bool:
    return f.details["chance_p_value"] < ALPHA


def significant(f) -> bool:
    return f.p_value < ALPHA


BINNED = {
    "psi": (lambda t: PSI(n_permutations=500, seed=t), chance),
    "kl": (lambda t: KLDivergence(n_permutations=500, seed=t), chance),
    "js": (lambda t: JSDivergence(n_permutations=500, seed=t), significant),
}
SIZES = [("continuous", 50, 50), ("tied", 50, 50), ("categorical", 50, 50),
         ("continuous", 500, 50), ("continuous", 1000, 1000), ("tied", 1000, 1000),
         ("categorical", 2000, 1000)]


def _binned(name: str, kind: str, n_ref: int, n_cur: int, trials: int, seed: int) -> None:
    make, alarm = BINNED[name]
    count = null_count(make, kind, n_ref, n_cur, trials, seed, alarm)
    assert_in_band(count, rejection_band(trials, ALPHA),
                   f"{name} chance p < {ALPHA} ({kind}, {n_ref}/{n_cur})")


def _chi2(kind: str, n_ref: int, n_cur: int, trials: int, seed: int) -> None:
    count = null_count(lambda t: Chi2Test(n_permutations=500, seed=t,
                                          kind="categorical" if kind == "categorical"
                                          else "numeric"),
                       kind, n_ref, n_cur, trials, seed, significant)
    assert_in_band(count, rejection_band(trials, ALPHA),
                   f"chi-square p < {ALPHA} ({kind}, {n_ref}/{n_cur})")


@pytest.mark.parametrize("name", sorted(BINNED))
@pytest.mark.parametrize("kind,n_ref,n_cur", SIZES)
def test_binned_chance_level_fast(name, kind, n_ref, n_cur):
    _binned(name, kind, n_ref, n_cur, trials=200, seed=n_ref + n_cur)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BINNED))
@pytest.mark.parametrize("kind,n_ref,n_cur", SIZES)
def test_binned_chance_level_full(name, kind, n_ref, n_cur):
    _binned(name, kind, n_ref, n_cur, trials=1000, seed=7 * n_ref + n_cur)


@pytest.mark.parametrize("kind,n_ref,n_cur", SIZES)
def test_chi_square_size_fast(kind, n_ref, n_cur):
    _chi2(kind, n_ref, n_cur, trials=200, seed=n_ref + 3 * n_cur)


@pytest.mark.slow
@pytest.mark.parametrize("kind,n_ref,n_cur", SIZES)
def test_chi_square_size_full(kind, n_ref, n_cur):
    _chi2(kind, n_ref, n_cur, trials=1000, seed=11 * n_ref + n_cur)


NUMERIC = [("continuous", 50, 50), ("tied", 50, 50), ("continuous", 100, 100),
           ("continuous", 1000, 1000), ("tied", 1000, 1000)]
PERMUTED = {
    "wasserstein": lambda t: Wasserstein(n_permutations=200, seed=t),
    "gaussian-kl": lambda t: KLDivergence(method="gaussian", n_permutations=200, seed=t),
}


def _permuted(name: str, kind: str, n_ref: int, n_cur: int, trials: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = warned = 0
    for t in range(trials):
        f = PERMUTED[name](t).fit(draw(kind, n_ref, rng)).compare(draw(kind, n_cur, rng))
        count += f.p_value < ALPHA
        warned += f.status != "pass"
    assert_in_band(count, rejection_band(trials, ALPHA),
                   f"{name} permutation p < {ALPHA} ({kind}, {n_ref}/{n_cur})")
    assert warned <= rejection_band(trials, ALPHA)[1]  # the bands count only beyond chance


@pytest.mark.parametrize("name", sorted(PERMUTED))
@pytest.mark.parametrize("kind,n_ref,n_cur", NUMERIC)
def test_permutation_distances_fast(name, kind, n_ref, n_cur):
    _permuted(name, kind, n_ref, n_cur, trials=100 if n_ref < 1000 else 40,
              seed=n_ref + 5 * n_cur)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PERMUTED))
@pytest.mark.parametrize("kind,n_ref,n_cur", NUMERIC)
def test_permutation_distances_full(name, kind, n_ref, n_cur):
    _permuted(name, kind, n_ref, n_cur, trials=500 if n_ref < 1000 else 100,
              seed=13 * n_ref + n_cur)


def test_point_values_match_scipy():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=700), rng.normal(0.2, 1.3, size=400)
    w = Wasserstein(scale="none", n_permutations=10).fit(ref).compare(cur)
    assert w.value == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)
    js = JSDivergence(n_permutations=10).fit(ref).compare(cur)
    r = np.array(js.details["reference_counts"], float)
    c = np.array(js.details["current_counts"], float)
    assert np.sqrt(js.value / np.log(2)) == pytest.approx(
        jensenshannon(r / r.sum(), c / c.sum()) / np.sqrt(np.log(2)), rel=1e-9)
    for kind in ("continuous", "tied", "categorical"):
        a, b = draw(kind, 3000, rng), draw(kind, 2500, rng)
        f = Chi2Test(kind="categorical" if kind == "categorical" else "numeric").fit(a)
        f = f.compare(b)
        table = np.array([f.details["reference_counts"], f.details["current_counts"]])
        expected = stats.chi2_contingency(table)
        assert f.value == pytest.approx(expected.statistic, rel=1e-12)
        if f.details["p_method"] == "chi-square law":
            assert f.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    keep = (r > 0) & (c > 0)  # deciles: no empty bin but the missing-value bin
    rp, cp = r[keep] / r.sum(), c[keep] / c.sum()
    psi = PSI(n_permutations=10).fit(ref).compare(cur)
    assert psi.value == pytest.approx(float(np.sum((cp - rp) * np.log(cp / rp))), rel=1e-12)
    kl = KLDivergence(n_permutations=10).fit(ref).compare(cur)
    assert kl.value == pytest.approx(float(np.sum(cp * np.log(cp / rp))), rel=1e-12)


def _decision_alarms(kind: str, n: int, features: int, windows: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(features)]
    alarms = 0
    for t in range(windows):
        ref = pd.DataFrame({c: draw(kind, 2 * n, rng) for c in names})
        cur = pd.DataFrame({c: draw(kind, n, rng) for c in names})
        result = drift.run(ref, cur, seed=t, multivariate=("mmd",), n_permutations=50)
        alarms += result.findings[-1].details["action"] != "continue monitoring"
    return alarms


@pytest.mark.parametrize("kind,n", [("continuous", 100), ("categorical", 100)])
def test_decision_false_alarms_per_window_fast(kind, n):
    alarms = _decision_alarms(kind, n, features=10, windows=30, seed=n)
    assert alarms <= rejection_band(30, 0.01)[1]  # Holm at 1%: a bound, not a size


@pytest.mark.slow
@pytest.mark.parametrize("kind,n", [("continuous", 50), ("tied", 200), ("categorical", 200)])
def test_decision_false_alarms_per_window_full(kind, n):
    windows = 60  # docs/drift.md: 150 windows each, 0-1 alarms
    alarms = _decision_alarms(kind, n, features=10, windows=windows, seed=3 * n)
    assert alarms <= rejection_band(windows, 0.01)[1]


def _stream_windows(kind: str, n: int, windows: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "errors":
        return (rng.random((windows, n)) < 0.1).astype(np.float64)
    return rng.normal(size=(windows, n))


@pytest.mark.parametrize("detector", ["DDM", "PageHinkley"])
@pytest.mark.parametrize("window", [300, 2000])
def test_calibrated_stream_detectors_alarm_at_their_target(detector, window):
    pytest.importorskip("river")
    from shakeout.drift import DDM, PageHinkley

    cls = {"DDM": DDM, "PageHinkley": PageHinkley}[detector]
    kind = "errors" if detector == "DDM" else "normal"
    rng = np.random.default_rng(window)
    stable = _stream_windows(kind, 20_000, 1, rng)[0]
    calibrated = cls.calibrate(stable, window=window, target=ALPHA, seed=1)
    fresh = _stream_windows(kind, window, 400, rng)  # new streams, not the resampled ones
    rate = calibrated.null_scores(fresh) > calibrated._threshold()
    assert_in_band(int(rate.sum()), rejection_band(400, ALPHA),
                   f"calibrated {detector} alarms per window of {window}")


def test_default_stream_detectors_rates_as_stated():
    """The docs' figures: river's defaults per window of 1,000 values without change."""
    pytest.importorskip("river")
    from shakeout.drift import ADWIN, DDM, PageHinkley

    rng = np.random.default_rng(2)
    errors = (rng.random(50_000) < 0.1).astype(np.float64)
    normal = rng.normal(size=50_000)
    assert DDM().false_alarm_rate(errors, window=1000, n_simulations=400, seed=0) > 0.25
    ph = PageHinkley().false_alarm_rate(normal, window=1000, n_simulations=400, seed=0)
    assert 0.15 < ph < 0.45
    adwin = ADWIN().false_alarm_rate(normal, window=1000, n_simulations=40, seed=0)
    assert adwin <= 0.05  # conservative: delta bounds it
