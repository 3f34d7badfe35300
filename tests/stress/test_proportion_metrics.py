"""A metric with ``proportion=True`` gets the Wilson interval, the paired Newcombe interval
and the exact sign-flip (McNemar) test of ITS OWN per-row 0/1 column, not accuracy's."""

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from calibration.bands import wilson_by_hand

from shakeout import stress
from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.perturb import GaussianNoise
from shakeout.stats import BootstrapPlan
from shakeout.stress import Sweep
from shakeout.stress.metrics import METRICS, Metric, get_metrics, row_mean
from shakeout.stress.paired import Draws, compare_outputs, summarise


def _top2_hit(y, out, pred=None):
    """1 where the label is among the two most probable classes."""
    second = np.sort(out, axis=1)[:, -2]
    return (out[np.arange(len(y)), y] >= second).astype(np.float64)[:, None]


TOP2 = Metric("top2_accuracy", "classification", True, _top2_hit, row_mean,
              "share of rows whose label is among the two most probable classes",
              proportion=True)
TOP2_ERROR = Metric("top2_error", "classification", False,
                    lambda y, out, pred=None: 1.0 - _top2_hit(y, out), row_mean,
                    "share of rows whose label is not among the two most probable classes",
                    proportion=True)


def _newcombe_by_hand(hits_a, hits_b, level=0.95):
    """Newcombe's (1998) method 10 for p_a - p_b on paired 0/1 outcomes."""
    n = len(hits_a)
    pa, pb = hits_a.mean(), hits_b.mean()
    (la, ua), (lb, ub) = wilson_by_hand(hits_a.sum(), n, level), wilson_by_hand(
        hits_b.sum(), n, level)
    phi = np.corrcoef(hits_a, hits_b)[0, 1]
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2),
            d + math.sqrt((ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _outputs(n, k, rng, noise, draws=1):
    """Labels, clean probabilities and ``draws`` copies with Gaussian logit noise."""
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    noisy = [_softmax(logits + noise * rng.normal(size=(n, k))) for _ in range(draws)]
    return y, _softmax(logits), noisy[0] if draws == 1 else noisy


@pytest.fixture(scope="module")
def one_draw():
    rng = np.random.default_rng(4)
    y, a, b = _outputs(60, 5, rng, 1.5)
    metrics = [METRICS["accuracy"], TOP2, TOP2_ERROR]
    plan = BootstrapPlan(n=len(y), n_boot=300, seed=1)
    pms = compare_outputs(y, summarise(y, a, metrics, plan), b, metrics, plan,
                          "classification")[0]
    return y, a, b, {pm.metric.name: pm for pm in pms}


def test_a_proportion_metric_gets_the_wilson_interval_of_its_own_count(one_draw):
    y, a, b, pms = one_draw
    n = len(y)
    hits_a, hits_b = _top2_hit(y, a)[:, 0], _top2_hit(y, b)[:, 0]
    top2 = pms["top2_accuracy"]
    assert top2.a.value == hits_a.sum() / n and top2.b.value == hits_b.sum() / n
    assert top2.a.ci == pytest.approx(wilson_by_hand(hits_a.sum(), n), abs=1e-12)
    assert top2.b.ci == pytest.approx(wilson_by_hand(hits_b.sum(), n), abs=1e-12)
    # Accuracy keeps its own column: its interval is that of its own count.
    right_a = (a.argmax(axis=1) == y).sum()
    assert right_a != hits_a.sum()
    assert pms["accuracy"].a.ci == pytest.approx(wilson_by_hand(right_a, n), abs=1e-12)


def test_a_proportion_drop_gets_newcombe_and_the_exact_mcnemar_p(one_draw):
    y, a, b, pms = one_draw
    hits_a, hits_b = _top2_hit(y, a)[:, 0], _top2_hit(y, b)[:, 0]
    lost = int(np.sum((hits_a == 1) & (hits_b == 0)))
    gained = int(np.sum((hits_a == 0) & (hits_b == 1)))
    assert lost > gained + 3  # the noise pushes labels out of the top two
    top2 = pms["top2_accuracy"]
    assert top2.test == "exact McNemar"
    assert top2.change.p_value == pytest.approx(
        stats.binomtest(lost, lost + gained, 0.5).pvalue, rel=1e-12)
    assert top2.change.ci == pytest.approx(_newcombe_by_hand(hits_a, hits_b), abs=1e-12)


def test_a_lower_is_better_proportion_mirrors_the_higher_is_better_one(one_draw):
    """The error's drop (b - a) is the top-2 accuracy's drop (a - b): same interval, same p."""
    _, _, _, pms = one_draw
    acc, err = pms["top2_accuracy"], pms["top2_error"]
    assert err.change.value == pytest.approx(acc.change.value, abs=1e-12)
    assert err.change.ci == pytest.approx(acc.change.ci, abs=1e-12)
    assert err.change.p_value == pytest.approx(acc.change.p_value, rel=1e-12)
    assert err.a.ci == pytest.approx((1 - acc.a.ci[1], 1 - acc.a.ci[0]), abs=1e-12)


def _korn_graubard_n(per_row, draws, level=0.95):
    """Effective trials of a proportion averaged over rows x independent draws (Korn &
    Graubard 1998): p(1-p) over the variance of the mean, with their degrees-of-freedom
    factor (z / t_{n-1})^2, kept between the rows and rows x draws."""
    n, p = len(per_row), per_row.mean()
    n_eff = min(max(p * (1 - p) / (per_row.var(ddof=1) / n), n), n * draws)
    q = (1 + level) / 2
    return max(n, n_eff * (stats.norm.ppf(q) / stats.t.ppf(q, n - 1)) ** 2)


def test_with_draws_each_proportion_uses_its_own_rows_for_wilson_and_the_sign_flip_test():
    y, a, outs = _outputs(14, 4, np.random.default_rng(9), 1.5, draws=3)
    plan = BootstrapPlan(n=len(y), n_boot=200, seed=0)
    metrics = [METRICS["accuracy"], TOP2]
    pm = compare_outputs(y, summarise(y, a, metrics, plan), outs, metrics, plan,
                         "classification", draws=Draws(count=3))[0][1]
    per_row = np.mean([_top2_hit(y, o)[:, 0] for o in outs], axis=0)
    n_eff = _korn_graubard_n(per_row, 3)
    assert n_eff != _korn_graubard_n(np.mean([o.argmax(axis=1) == y for o in outs], axis=0), 3)
    z = stats.norm.ppf(0.975)
    p = per_row.mean()
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff ** 2))
    assert pm.b.ci == pytest.approx((centre - half, min(1.0, centre + half)), abs=1e-12)
    change = _top2_hit(y, a)[:, 0] - per_row
    assert pm.test == "exact sign-flip" and np.count_nonzero(change) > 3
    observed = abs(change.sum())
    flips = [abs(np.dot(signs, change)) >= observed - 1e-9
             for signs in itertools.product((1, -1), repeat=len(change))]
    assert pm.change.p_value == pytest.approx(np.mean(flips), rel=1e-9)


@pytest.mark.parametrize("draws", [Draws(), Draws(count=3), Draws(count=3, shared=True)])
def test_a_copy_of_accuracy_gives_accuracys_numbers_bit_for_bit(draws):
    y, a, outs = _outputs(80, 3, np.random.default_rng(2), 1.0, draws=draws.count)
    copy = replace(METRICS["accuracy"], name="hits")
    plan = BootstrapPlan(n=len(y), n_boot=200, seed=3)
    metrics = [METRICS["accuracy"], copy]
    acc, hits = compare_outputs(y, summarise(y, a, metrics, plan), outs, metrics, plan,
                                "classification", draws=draws)[0]
    for side in ("a", "b", "change"):
        assert getattr(acc, side).ci == getattr(hits, side).ci
    assert acc.change.p_value == hits.change.p_value and acc.test == hits.test


def test_stress_run_honours_a_proportion_metric_without_accuracy():
    """All rows covered on 20 rows: the bootstrap would say [1, 1]; Wilson says [0.84, 1]."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    model = wrap(
        lambda Z: np.column_stack([Z[:, 0] <= 0, Z[:, 0] > 0]).astype(float) * 0.8 + 0.1,
        task="classification")
    always = Metric("in_top2", "classification", True, _top2_hit, row_mean,
                    "two classes: always 1", proportion=True)
    result = stress.run(model, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1))],
                        metrics=[always], n_bootstrap=100, repeats=1, sensitivity=False,
                        seed=0)
    clean = [f for f in result.findings if f.metric == "in_top2" and f.severity == 0][0]
    assert clean.value == 1.0
    assert clean.ci == pytest.approx(wilson_by_hand(20, 20), abs=1e-12)
    drop = [f for f in result.findings if f.metric == "in_top2_drop"][0]
    assert drop.p_value == 1.0 and drop.details["test"] == "exact McNemar"
    assert drop.ci[0] < 0 < drop.ci[1]  # nothing moved, yet the interval is not [0, 0]


@pytest.mark.parametrize("bad, shown", [(2.0, "got 2"), (0.5, "got 0.5"), (np.nan, "got nan"),
                                        (-1.0, "got -1")])
def test_per_row_values_that_are_not_0_or_1_are_refused(bad, shown):
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    model = wrap(
        lambda Z: np.column_stack([Z[:, 0] <= 0, Z[:, 0] > 0]).astype(float),
        task="classification")
    odd = Metric("odd", "classification", True,
                 lambda y, out, pred=None: np.where(y == 1, bad, 1.0)[:, None], row_mean,
                 "not a share", proportion=True)
    with pytest.raises(ValidationError, match=rf"metric 'odd' sets proportion=True, so each "
                                              rf"row's value .* must be 0 or 1; {shown}\. "
                                              r"Return 1\.0 where the row counts .* "
                                              r"proportion=False"):
        stress.run(model, X, y, sweeps=[Sweep(GaussianNoise(), (0, 0.1))], metrics=[odd],
                   n_bootstrap=50, repeats=1, sensitivity=False)


@pytest.mark.parametrize("metric", [
    replace(METRICS["ece"], proportion=True),      # scatter columns, its own finish
    replace(METRICS["roc_auc"], proportion=True),  # ranked
    replace(TOP2, finish=lambda s, t: s[:, 0] / t),
])
def test_a_proportion_that_is_not_one_column_averaged_is_refused(metric):
    with pytest.raises(ValidationError, match=r"proportion=True, which needs the mean of one "
                                              r"per-row 0/1 column.*finish=shakeout\.stress"
                                              r"\.metrics\.row_mean.*proportion=False"):
        get_metrics([metric], "classification")


def test_a_proportion_metric_is_accepted_by_name_resolution():
    assert get_metrics(["accuracy", TOP2, TOP2_ERROR], "classification")[1:] == [TOP2,
                                                                                 TOP2_ERROR]
