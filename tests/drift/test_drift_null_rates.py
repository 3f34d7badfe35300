"""Issue #8 items 3, 8-11, 13: false alarms without drift, small windows, too few rows.

Each test here failed on the code before the fix (the audit's figures) and checks the
promise itself: a null rejection rate inside its 99.9% binomial band, or an error.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared bands
from calibration.bands import assert_in_band, rejection_band  # noqa: E402
from shakeout import drift
from shakeout.drift import PSI, Chi2Test, DriftSuite, KLDivergence, Wasserstein, decide
from shakeout.errors import ValidationError


def _rate(make, compare, trials, seed):
    rng = np.random.default_rng(seed)
    return sum(bool(compare(make(rng), t)) for t in range(trials))


def test_psi_chance_level_holds_at_50_rows():
    """Item 8: the chi-square chance law rejected 26-29% of null windows at 50/50."""
    count = _rate(lambda rng: (rng.normal(size=50), rng.normal(size=50)),
                  lambda d, t: PSI(seed=t).fit(d[0]).compare(d[1]).details[
                      "chance_p_value"] < 0.05, 300, 1)
    assert_in_band(count, rejection_band(300, 0.05), "PSI chance p < 0.05 at 50/50")


def test_kl_chance_level_holds_at_500_reference_50_current():
    """Item 8: KL at 500/50 rejected 7.2% (PSI 13%) under the chi-square law."""
    count = _rate(lambda rng: (rng.normal(size=500), rng.normal(size=50)),
                  lambda d, t: PSI(seed=t).fit(d[0]).compare(d[1]).details[
                      "chance_p_value"] < 0.05, 300, 2)
    assert_in_band(count, rejection_band(300, 0.05), "PSI chance p < 0.05 at 500/50")


def test_chi_square_on_reference_deciles_is_not_conservative():
    """Item 13: with the reference row fixed by decile bins, scipy's law rejected 2.2%."""
    count = _rate(lambda rng: (rng.normal(size=50), rng.normal(size=50)),
                  lambda d, t: Chi2Test(kind="numeric", n_permutations=500, seed=t).fit(d[0])
                  .compare(d[1]).p_value < 0.05, 1000, 0)
    assert_in_band(count, rejection_band(1000, 0.05), "chi-square p < 0.05 at 50/50")


def test_chi_square_point_value_is_scipys():
    rng = np.random.default_rng(4)
    ref = rng.choice(np.array(list("abcd"), dtype=object), 3000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(np.array(list("abcd"), dtype=object), 2000, p=[0.35, 0.3, 0.2, 0.15])
    f = Chi2Test().fit(ref).compare(cur)
    table = np.array([f.details["reference_counts"], f.details["current_counts"]])
    res = stats.chi2_contingency(table)
    assert f.value == pytest.approx(res.statistic, rel=1e-12)
    assert f.p_value == pytest.approx(res.pvalue, rel=1e-9)  # large: scipy's law
    small = Chi2Test(seed=0).fit(ref[:60]).compare(cur[:40])
    table = np.array([small.details["reference_counts"], small.details["current_counts"]])
    assert small.value == pytest.approx(stats.chi2_contingency(table).statistic, rel=1e-12)
    assert small.details["p_method"].startswith("permutation")


def test_wasserstein_does_not_warn_on_most_null_windows():
    """Item 10: at n=100 the 0.1-std band warned or failed in 95% of null windows."""
    count = _rate(lambda rng: (rng.normal(size=100), rng.normal(size=100)),
                  lambda d, t: Wasserstein(n_permutations=200, seed=t).fit(d[0])
                  .compare(d[1]).status != "pass", 200, 5)
    assert count <= rejection_band(200, 0.05)[1]


def test_wasserstein_and_js_values_match_scipy_and_shifts_are_found():
    from scipy.spatial.distance import jensenshannon

    from shakeout.drift import JSDivergence

    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=400), rng.normal(0.8, 1, size=300)
    w = Wasserstein(scale="none", n_permutations=200).fit(ref).compare(cur)
    assert w.details["raw"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)
    assert w.p_value < 0.01 and w.status == "fail"
    js = JSDivergence().fit(ref).compare(cur)
    r = np.array(js.details["reference_counts"], float)
    c = np.array(js.details["current_counts"], float)
    assert js.details["distance"] == pytest.approx(
        jensenshannon(r / r.sum(), c / c.sum()) / np.sqrt(np.log(2)), rel=1e-9)
    assert js.p_value < 0.01 and js.status == "warn"  # 0.071 nats: the warn band


def test_gaussian_kl_carries_a_permutation_p_value():
    """Item 10: Gaussian KL had neither a p-value nor a chance level."""
    rng = np.random.default_rng(7)
    count = _rate(lambda rng: (rng.normal(size=60), rng.normal(size=60)),
                  lambda d, t: KLDivergence(method="gaussian", n_permutations=200, seed=t)
                  .fit(d[0]).compare(d[1]).status != "pass", 200, 7)
    assert count <= rejection_band(200, 0.05)[1]
    shifted = KLDivergence(method="gaussian").fit(rng.normal(size=300)).compare(
        rng.normal(1.0, 1.0, size=300))
    assert shifted.p_value < 0.01 and shifted.status == "fail"


def test_decision_controls_its_family_on_twenty_unchanged_features():
    """Item 9: 20 unchanged features at n=200 said "investigate first" in 40 of 40 runs."""
    rng = np.random.default_rng(8)
    alarms = 0
    for t in range(40):
        ref = pd.DataFrame(rng.normal(size=(200, 20)), columns=[f"f{i}" for i in range(20)])
        cur = pd.DataFrame(rng.normal(size=(200, 20)), columns=ref.columns)
        result = drift.run(ref, cur, multivariate=(), seed=t)
        alarms += result.findings[-1].details["action"] != "continue monitoring"
    assert alarms <= rejection_band(40, 0.01)[1]  # at most 3 of 40 at a 1% family rate


def test_decision_still_finds_a_unit_change_on_a_small_window():
    rng = np.random.default_rng(9)
    ref = pd.DataFrame(rng.normal(size=(300, 20)), columns=[f"f{i}" for i in range(20)])
    cur = pd.DataFrame(rng.normal(size=(100, 20)), columns=ref.columns)
    cur["f3"] *= 100  # a unit change (metres to centimetres)
    decision = drift.run(ref, cur, multivariate=(), seed=0).findings[-1]
    assert decision.details["action"] == "retrain now"
    assert any("'f3'" in e for e in decision.details["evidence"])


def test_negligible_mmd_alone_does_not_alert():
    """Item 9: a significant MMD^2 of 0.0006 moved clean weeks to "investigate first"."""
    from shakeout.report import Finding

    mmd = Finding(name="drift/mmd", metric="mmd", value=0.0006, p_value=0.001, status="fail",
                  drill="drift", group="mmd", details={"statistic_text": "MMD^2=0.0006"})
    assert decide([mmd]).details["action"] == "continue monitoring"
    big = Finding(name="drift/mmd", metric="mmd", value=0.05, p_value=0.001, status="fail",
                  drill="drift", group="mmd", details={"statistic_text": "MMD^2=0.05"})
    assert decide([big]).details["action"] == "investigate first"


def test_one_row_reference_is_refused_and_tiny_windows_get_no_decision():
    """Item 3: a 1-row reference ended in "Retrain now: major drift"."""
    rng = np.random.default_rng(10)
    cur = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    with pytest.raises(ValidationError, match=r"reference has 1 rows.*at least 10"):
        drift.run(cur.iloc[:1], cur, seed=0)
    result = drift.run(cur, cur.iloc[:3] + 5.0, multivariate=(), seed=0)
    decision = result.findings[-1]
    assert decision.details["action"] == "no decision" and np.isnan(decision.value)
    assert "3 rows" in decision.message and decision.status == "info"


def test_ddm_false_alarms_are_stated_and_calibrated():
    """Item 11: river's DDM alarmed in 25-55% of windows whose error rate never changed."""
    pytest.importorskip("river")
    from shakeout.drift import DDM
    from shakeout.drift.streaming import detections

    rng = np.random.default_rng(11)
    null = (rng.random(20_000) < 0.1).astype(int)
    assert DDM().false_alarm_rate(null, window=1000, n_simulations=300, seed=1) > 0.25
    ddm = DDM.calibrate(null, window=1000, target=0.05, seed=2)
    windows = (rng.random((200, 1000)) < 0.1).astype(int)
    alarms = sum(bool(detections(DDM(**ddm.params()), w)) for w in windows)  # river itself
    assert_in_band(alarms, rejection_band(200, 0.05), "calibrated DDM alarms per window")


def test_concept_finding_warns_on_five_percent_of_stable_windows():
    """Item 11: the concept finding (DDM over a window's errors) warned in 25-36%."""
    pytest.importorskip("river")
    from types import SimpleNamespace

    from shakeout.drift._model import concept_findings

    rng = np.random.default_rng(12)
    warns = 0
    for t in range(200):
        rows = (rng.random(300) > 0.15).astype(float)  # 1 = right, 15% errors throughout
        found = concept_findings(SimpleNamespace(rows=rows, metric="accuracy"),
                                 n_permutations=200, seed=t)[0]
        warns += found.status == "warn"
    assert_in_band(warns, rejection_band(200, 0.05), "concept warnings per stable window")
