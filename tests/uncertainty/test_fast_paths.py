"""The block kernels equal straightforward implementations: argsort-ranked APS sets, numpy's
maxima and sorts, scipy's entropy, on probabilities with ties, zeros and sure rows."""

import itertools

import numpy as np
import pytest
from scipy import special, stats

from shakeout.models import wrap
from shakeout.uncertainty import ConformalClassifier, ConformalRegressor, entropy, margin
from shakeout.uncertainty import max_probability
from shakeout.uncertainty import _rowwise
from shakeout.uncertainty._conformal_scores import aps_scores, aps_sets, lac_scores, lac_sets
from shakeout.uncertainty._rowwise import BLOCK, sorted_columns


def _probabilities(n, k, seed, dtype=np.float64):
    """Dirichlet rows, a third rounded to a grid (ties, zeros), some sure and some uniform."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.5), size=n)
    coarse = rng.random(n) < 1 / 3
    p[coarse] = np.maximum(np.round(p[coarse] * 4 * k), 0.0)
    p[coarse, 0] += p[coarse].sum(axis=1) == 0
    p[coarse] /= p[coarse].sum(axis=1, keepdims=True)
    p[rng.random(n) < 0.05] = 1.0 / k
    sure = rng.random(n) < 0.05
    p[sure] = 0.0
    p[sure, rng.integers(0, k, sure.sum())] = 1.0
    return p.astype(dtype)


def _reference_aps(p, u):
    """APS scores by a stable argsort per row, the label's own mass times ``u`` (or whole)."""
    out = np.empty(p.shape)
    for i, row in enumerate(p):
        order = np.argsort(-row, kind="stable")
        mass = np.cumsum(row[order])
        if u is not None:
            mass = mass - (1.0 - u[i]) * row[order]
        out[i, order] = mass
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10, 17, 20, 40, 300])
@pytest.mark.parametrize("randomized", [False, True])
def test_aps_sets_equal_argsort_sets_at_every_boundary(k, randomized, monkeypatch):
    monkeypatch.setattr(_rowwise, "BLOCK", 97)  # several blocks and a short last one
    n = 3 * 97 + 11
    p = _probabilities(n, k, seed=k)
    rng = np.random.default_rng(1)
    u = rng.random(n) if randomized else None
    scores = _reference_aps(p, u)
    # the limit of each row is one of its own scores: the comparison is on the boundary
    limit = scores[np.arange(n), rng.integers(0, k, n)][:, None]
    np.testing.assert_array_equal(aps_sets(p, u, limit), scores <= limit)
    for q in (0.0, 0.5, 0.9, 1.0, np.inf):
        np.testing.assert_array_equal(aps_sets(p, u, np.array([[q]])), scores <= q)


def test_aps_sets_ties_at_the_cut_take_the_first_columns():
    p = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.4, 0.1, 0.4], [0.0, 1.0, 0.0, 0.0]])
    sets = aps_sets(p, None, np.array([[0.5]]))
    assert sets.tolist() == [[True, True, False, False], [False, True, False, False],
                             [False, False, False, False]]
    np.testing.assert_array_equal(sets, _reference_aps(p, None) <= 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aps_sets_over_full_blocks_equal_the_ranking_path(dtype):
    n = BLOCK + 3
    p = _probabilities(n, 10, seed=3, dtype=dtype)
    u = np.random.default_rng(2).random(n)
    p64 = p.astype(np.float64)
    for draws in (None, u):
        want = aps_scores(p64, draws) <= 0.9
        np.testing.assert_array_equal(aps_sets(p, draws, np.array([[0.9]])), want)


def test_aps_sets_of_bad_rows_and_per_class_limits_take_the_ranking_path():
    p = _probabilities(50, 4, seed=4)
    p[3, 1] = np.nan
    p[7, 0] = -0.5
    p[9, 2] = np.inf
    np.testing.assert_array_equal(aps_sets(p, None, np.array([[0.8]])),
                                  aps_scores(p, None) <= 0.8)
    per_class = np.array([[0.3, 0.6, 0.9, 1.0]])
    q = _probabilities(50, 4, seed=5)
    np.testing.assert_array_equal(aps_sets(q, None, per_class), aps_scores(q, None) <= per_class)


def test_lac_sets_equal_their_scores_under_every_kind_of_limit(monkeypatch):
    monkeypatch.setattr(_rowwise, "BLOCK", 64)
    p = _probabilities(300, 6, seed=6)
    per_row = np.random.default_rng(0).random((300, 1))
    for limit in (np.array([[0.7]]), np.linspace(0.2, 0.9, 6)[None], per_row):
        np.testing.assert_array_equal(lac_sets(p, limit), lac_scores(p) <= limit)


@pytest.mark.parametrize("k", range(1, 13))
def test_the_sorting_network_sorts_every_zero_one_input(k):
    # Knuth's 0-1 principle: a comparator network that sorts all 2^k inputs of 0s and 1s
    # sorts every input
    cols = np.array(list(itertools.product([0.0, 1.0], repeat=k))).T
    want = np.sort(cols, axis=0)
    np.testing.assert_array_equal(sorted_columns(cols), want)


@pytest.mark.parametrize("k", [13, 16, 20, 31, 32, 33])
def test_the_sorting_network_sorts_random_columns(k):
    cols = np.round(np.random.default_rng(k).random((k, 500)) * 6) / 6
    want = np.sort(cols, axis=0)
    np.testing.assert_array_equal(sorted_columns(cols), want)


@pytest.mark.parametrize("k", [2, 3, 7, 10, 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_equal_numpy_and_scipy(k, dtype, monkeypatch):
    monkeypatch.setattr(_rowwise, "BLOCK", 128)
    p = _probabilities(128 * 3 + 5, k, seed=k, dtype=dtype)
    p64 = p.astype(np.float64)
    ordered = np.sort(p64, axis=1)
    np.testing.assert_array_equal(max_probability(p), p64.max(axis=1))
    np.testing.assert_array_equal(margin(p), ordered[:, -1] - ordered[:, -2])
    h = entropy(p)
    np.testing.assert_allclose(h, special.entr(p64).sum(axis=1), rtol=1e-12, atol=1e-15)
    if dtype == np.float64:  # scipy divides by the row's sum, 1 only to float64 rounding
        np.testing.assert_allclose(h, stats.entropy(p64, axis=1), rtol=1e-12, atol=1e-15)
    sure = (p64 == 1.0).any(axis=1)
    assert sure.any() and np.all(h[sure] == 0.0) and not np.signbit(h[sure]).any()


@pytest.mark.parametrize("batch_size", [65_536, 997])  # one model batch, or many beside
def test_predict_equals_the_scores_of_every_label_over_blocks(batch_size):
    n = BLOCK + 17
    p = _probabilities(n, 5, seed=8)
    model = wrap(lambda X: p[X[:, 0].astype(int)], task="classification",
                 batch_size=batch_size)
    X = np.arange(n, dtype=float)[:, None]
    y = np.random.default_rng(0).integers(0, 5, n)
    for kwargs in ({"score": "aps"}, {"score": "aps", "randomized": True},
                   {"score": "aps", "mondrian": True}, {"score": "lac"},
                   {"score": "lac", "mondrian": True}):
        cp = ConformalClassifier(model, alpha=0.1, **kwargs).fit(X[:2000], y[:2000])
        want = cp._all_scores(p, np.random.default_rng(3)) <= cp.threshold_
        np.testing.assert_array_equal(cp.predict(X, seed=3), want)
    # under a shift every row has its own limit
    likely = p.argmax(axis=1)  # labels the model mostly gets right: thresholds below 1
    heavier = lambda Z: 1.0 + np.maximum(Z[:, 0] - 2000, 0) / 100  # noqa: E731 - test rows
    for score in ("lac", "aps"):
        cp = ConformalClassifier(model, alpha=0.3, score=score, shift=heavier)
        cp.fit(X[:2000], likely[:2000])
        limit = cp._limit(X)[:, None]
        assert len(np.unique(limit)) > 1
        np.testing.assert_array_equal(cp.predict(X), cp._all_scores(p, None) <= limit)


def test_predict_refuses_a_model_that_changed_its_classes():
    from shakeout.errors import ValidationError

    k = [3]
    model = wrap(lambda X: np.full((len(X), k[0]), 1.0 / k[0]), task="classification",
                 batch_size=10)
    X, y = np.zeros((40, 1)), np.arange(40) % 3
    cp = ConformalClassifier(model, alpha=0.2).fit(X, y)
    k[0] = 4
    with pytest.raises(ValidationError, match="gives 4 class columns but was calibrated "
                                              "with 3"):
        cp.predict(X)


@pytest.mark.parametrize("batch_size", [65_536, 37])
def test_regression_intervals_are_the_prediction_plus_minus_the_threshold(batch_size):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=500)
    model = wrap(lambda Z: Z @ np.array([1.0, -2.0, 0.5]), task="regression",
                 batch_size=batch_size)
    cr = ConformalRegressor(model, alpha=0.1).fit(X[:200], y[:200])
    f = X[200:] @ np.array([1.0, -2.0, 0.5])
    iv = cr.predict(X[200:])
    np.testing.assert_array_equal(iv, np.column_stack([f - cr.threshold_, f + cr.threshold_]))
    assert iv.flags.c_contiguous


def test_scores_check_each_block_as_the_whole_array_is_checked():
    """Checked block by block, the scores equal those of the checked-then-scored array
    (tiny negatives and values over one clipped the same way), and a bad row in a later
    block is named by its row in the whole array."""
    from shakeout.errors import ValidationError
    from shakeout.uncertainty._inputs import as_probabilities
    from shakeout.uncertainty._rowwise import neg_plogp_sum
    from shakeout.uncertainty.scores import _per_row

    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(4), size=2 * BLOCK + 7)
    p[BLOCK + 3] = [1 + 4e-7, -4e-7, 0.0, 0.0]  # within tolerance: clipped, not refused
    assert np.array_equal(entropy(p), _per_row(as_probabilities(p), neg_plogp_sum))
    assert max_probability(p)[BLOCK + 3] == 1.0 and margin(p)[BLOCK + 3] == 1.0
    p[2 * BLOCK + 1] = [0.5, 0.6, 0.0, 0.0]
    with pytest.raises(ValidationError, match=f"row {2 * BLOCK + 1} is not a probability"):
        entropy(p)
