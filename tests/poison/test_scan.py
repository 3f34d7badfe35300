"""scan(): the combined rank, exact intervals for precision and recall, honest tie-breaks at
the budget, the quarantine file, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.poison.scan import combine, quarantine, run, scan

CALIBRATES = ("scan",)
"""What these tests calibrate (read by tests/calibration/test_registry.py)."""


class Fixed:
    """A scanner whose scores are given (a constant one has no opinion)."""

    needs: tuple[str, ...] = ()
    threshold = None

    def __init__(self, name="constant", values=None):
        self.name, self.values = name, values

    def scores(self, X, y=None, model=None):
        return np.zeros(len(X)) if self.values is None else np.asarray(self.values, float)

    def reasons(self, scores, index):
        return [f"score {scores[index]:g}"]


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    mask = np.zeros(500, bool)
    mask[rng.choice(500, 15, replace=False)] = True
    X[mask] += rng.choice([-1, 1], size=(15, 3)) * 4.0
    return X, mask


def test_combined_is_the_mean_rank_percentile():
    table = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=list("abc"))
    expected = np.mean([stats.rankdata(table[c]) / 50 for c in "abc"], axis=0)
    np.testing.assert_allclose(combine(table), expected)


def test_precision_and_recall_carry_exact_intervals(planted):
    X, mask = planted
    r = scan(X, mask=mask, budget=0.04, scanners=["robust_z", "iqr"], seed=0)
    removed = math.ceil(0.04 * 500)
    table = r.scores
    for name in ("robust_z", "iqr", "combined"):
        precision = r.select(group=name, metric="precision")[0]
        recall = r.select(group=name, metric="recall")[0]
        hits = precision.details["poisoned_found"]
        assert precision.value == hits / removed and recall.value == hits / 15
        ci = stats.binomtest(hits, removed).proportion_ci(0.95, method="exact")
        assert precision.ci == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert precision.details["base_rate"] == 15 / 500
    combined_hits = int(mask[table["quarantined"].to_numpy()].sum())
    assert r.select(group="combined", metric="precision")[0].details["poisoned_found"] \
        == combined_hits
    assert r.select(metric="base_rate")[0].value == 0.03
    assert table["rank"].sort_values().tolist() == list(range(1, 501))


def test_ties_at_the_budget_do_not_follow_row_order():
    """A scanner with no opinion removes a random subset: its hits at the budget are
    hypergeometric (mean 2 for 20 poisoned rows of 200, 20 removed), not 0 or 20 as a cut by
    row order would give. Over 100 seeds the mean lies within 4 standard errors of 2."""
    X = np.zeros((200, 1))
    mask = np.r_[np.zeros(180, bool), np.ones(20, bool)]      # poison appended at the end
    hits = [scan(X, mask=mask, budget=0.1, scanners=[Fixed()], seed=s)
            .select(group="constant", metric="precision")[0].details["poisoned_found"]
            for s in range(100)]
    sd = math.sqrt(stats.hypergeom(200, 20, 20).var() / 100)
    assert abs(np.mean(hits) - 2.0) < 4 * sd


def test_scanners_beating_chance_pass_and_the_rest_warn(planted):
    X, mask = planted
    r = scan(X, mask=mask, budget=0.03, scanners=["isolation_forest", Fixed()], seed=1)
    assert r.select(group="isolation_forest", metric="precision")[0].status == "pass"
    assert r.select(group="constant", metric="precision")[0].status == "warn"
    assert not r.select(group="constant", metric="flagged_share")   # no rule of its own


def test_flagged_share_is_the_rule_with_its_interval(planted):
    X, mask = planted
    r = scan(X, scanners=["robust_z"], seed=0)
    f = r.select(group="robust_z", metric="flagged_share")[0]
    k = int((r.scores["robust_z"] > 3.5).sum())
    assert f.value == k / 500 and f.details["threshold"] == 3.5
    assert not r.select(metric="precision")                        # no mask, no precision


def test_same_seed_same_table(planted):
    X, mask = planted
    a = scan(X, mask=mask, scanners=["isolation_forest", "lof"], seed=4).scores
    b = scan(X, mask=mask, scanners=["isolation_forest", "lof"], seed=4).scores
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_quarantine_file(tmp_path, planted, suffix):
    X, mask = planted
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=pd.Index(np.arange(500) + 7000))
    r = scan(frame, budget=0.02, scanners=["robust_z", Fixed()], seed=0)
    path = quarantine(r, tmp_path / f"q{suffix}")
    q = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(q.columns[:4]) == ["row_id", "rank", "combined_score", "reasons"]
    assert q["rank"].tolist() == list(range(1, 11)) and q["row_id"].min() >= 7000
    assert q["reasons"].str.startswith("robust_z: ").all()
    shown = r.select(group="quarantine")
    assert [f.feature for f in shown][:10] == [str(i) for i in q["row_id"]]


def test_a_row_removed_by_no_single_scanner_says_so():
    a = Fixed("a", [10, 0, 9, 1, 2, 3, 4, 5, 6, 7])      # row 0 first for a alone
    b = Fixed("b", [0, 10, 9, 1, 2, 3, 4, 5, 6, 7])      # row 1 first for b alone
    r = scan(np.zeros((10, 1)), budget=0.1, scanners=[a, b], seed=0)
    assert r.scores["rank"].idxmin() == 2                # second for both: first combined
    assert r.scores["reasons"][2].startswith("combined rank only")
    r = scan(np.zeros((10, 1)), budget=0.3, scanners=[a, b], seed=0)
    assert r.scores["reasons"][2] == "a: score 9; b: score 9"


def test_the_drill_takes_mask_and_key_columns_out():
    from shakeout.data import Dataset
    from shakeout.poison.scan_plan import ScanPlan

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(100) + 1, "x": rng.normal(size=100),
                          "bad": np.r_[np.ones(5, bool), np.zeros(95, bool)]})
    frame.loc[:4, "x"] += 8
    section = ScanPlan(scanners=["robust_z"], mask="bad", key="id")
    r = run(None, Dataset(X=frame, name="t"), section, seed=0, quiet=True)
    assert list(r.scores.index[:3]) == [1, 2, 3]
    assert r.select(group="robust_z", metric="recall")[0].value == 1.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"X": np.empty((0, 2))}, "the training set is empty"),
    ({"budget": 1.0}, "budget must be in"),
    ({"mask": np.ones(3, bool)}, "mask must hold one True/False"),
    ({"scanners": ["zscore"]}, "unknown scanner 'zscore'"),
    ({"scanners": ["lof", "lof"]}, "each scanner runs once"),
    ({"scanners": ["knn_labels"]}, "needs the labels"),
    ({"scanners": []}, "non-empty list"),
])
def test_bad_input_is_named(kwargs, match):
    X = kwargs.pop("X", np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValidationError, match=match):
        scan(X, **kwargs)


def test_representation_scanner_needs_a_model_with_representations():
    from sklearn.linear_model import LogisticRegression

    from shakeout.models import wrap

    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.arange(40) % 2
    model = wrap(LogisticRegression().fit(X, y))
    with pytest.raises(ValidationError, match="needs a model with representations"):
        scan(X, y, model=model, scanners=["spectral_signature"])


def test_quarantine_needs_per_row_scores(tmp_path, planted):
    from shakeout.report.result import Result

    r = scan(planted[0], scanners=["iqr"])
    with pytest.raises(ValidationError, match="holds no per-row scores"):
        quarantine(Result.from_dict(r.to_dict()), tmp_path / "q.csv")
    with pytest.raises(ValidationError, match="must end in .csv or .parquet"):
        quarantine(r, tmp_path / "q.txt")


def test_a_torch_model_brings_the_representation_scanners():
    torch = pytest.importorskip("torch")
    pytest.importorskip("shakeout.poison.representation")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    r = scan(X, np.arange(60) % 2, model=net, seed=0)
    assert {"spectral_signature", "activation_clustering", "lof"} <= set(r.scores.columns)


def test_better_than_random_is_an_exact_hypergeometric_test_holm_adjusted():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    mask = np.zeros(300, bool)
    mask[:15] = True
    X[:6] += 5.0  # some of the poison stands out
    r = scan(X, mask=mask, budget=0.05, scanners=["robust_z", "iqr"])
    found = {f.group: f for f in r.select(metric="precision")}
    raw = {g: stats.hypergeom.sf(f.details["poisoned_found"] - 1, 300, 15,
                                 f.details["removed"]) for g, f in found.items()}
    order = sorted(raw, key=raw.get)  # Holm by hand
    running = 0.0
    for i, g in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * raw[g]))
        assert found[g].p_value == pytest.approx(running, rel=1e-12)
        assert found[g].status == ("pass" if running < 0.05 else "warn")
    assert found["combined"].status == "pass"


def test_scanners_blind_to_the_poison_pass_at_most_alpha_of_the_time():
    """Poison independent of the data: every scanner removes rows at random, so a scan
    where any scanner is called better than a random removal is a false positive; the
    family's rate stays at or below 5% (binomial band's upper end over 300 scans)."""
    rng = np.random.default_rng(0)
    false = 0
    for _ in range(300):
        X = rng.normal(size=(200, 2))
        mask = rng.random(200) < 0.1
        r = scan(X, mask=mask, budget=0.1, scanners=["robust_z", "iqr"], seed=rng)
        false += any(f.status == "pass" for f in r.select(metric="precision"))
    assert false <= stats.binom.ppf(0.999, 300, 0.05)
