"""Split conformal predictors: sets and intervals against hand-written loops, bad input."""

import math
import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from conformal_cases import (CLASSIFIER, REGRESSOR, class_data, model_proba, reg_data,
                             reg_mean, reg_quantiles)
from shakeout.errors import NotFittedError, ValidationError
from shakeout.uncertainty._conformal_scores import (calibration_rank, min_calibration_size,
                                                    weighted_thresholds)
from shakeout.uncertainty.conformal import ConformalClassifier, ConformalRegressor


def _hand_threshold(scores, alpha):
    k = math.ceil((len(scores) + 1) * (1 - alpha) - 1e-9)
    return sorted(scores)[k - 1]


def _hand_aps(p, u):
    """APS scores of every label of one row, by a loop over the ranking."""
    order = sorted(range(len(p)), key=lambda j: -p[j])  # stable: ties in column order
    out, mass = [0.0] * len(p), 0.0
    for j in order:
        mass += p[j]
        out[j] = mass - (1 - u) * p[j] if u is not None else mass
    return out


@pytest.mark.parametrize("n,alpha", [(9, 0.1), (19, 0.05), (99, 0.01), (10, 0.1), (50, 0.2),
                                     (3, 0.25), (30, 0.3)])
def test_rank_is_the_finite_sample_quantile(n, alpha):
    assert calibration_rank(n, alpha) == math.ceil((n + 1) * (1 - alpha) - 1e-9)
    need = min_calibration_size(alpha)
    assert calibration_rank(need, alpha) <= need < calibration_rank(need - 1, alpha) + 1


def test_rank_reads_alpha_as_written_and_rounds_up_otherwise():
    # 0.1 is read as 1/10: (9 + 1) * 0.9 = 9 exactly, not the float product 9.000000000000002
    assert calibration_rank(9, 0.1) == 9
    # 1 / 3 as a float is a hair below a third: the rank is the conservative 21, not 20
    assert calibration_rank(29, 1 / 3) == 21


def test_lac_sets_equal_a_loop():
    rng = np.random.default_rng(1)
    X, y = class_data(300, rng)
    Xt, _ = class_data(200, rng)
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1).fit(X, y)
    p_cal, p = model_proba(X), model_proba(Xt)
    q = _hand_threshold([1 - p_cal[i, y[i]] for i in range(len(y))], 0.1)
    want = [[1 - p[i, j] <= q for j in range(3)] for i in range(len(p))]
    assert cp.predict(Xt).tolist() == want
    assert cp.threshold_ == q


@pytest.mark.parametrize("randomized", [False, True])
def test_aps_sets_equal_a_loop(randomized):
    rng = np.random.default_rng(2)
    X, y = class_data(300, rng)
    Xt, _ = class_data(200, rng)
    cp = ConformalClassifier(CLASSIFIER, alpha=0.2, score="aps", randomized=randomized)
    sets = cp.fit(X, y, seed=5).predict(Xt, seed=7)
    u_cal = np.random.default_rng(5).random(len(y)) if randomized else [None] * len(y)
    u_test = np.random.default_rng(7).random(len(Xt)) if randomized else [None] * len(Xt)
    p_cal, p = model_proba(X), model_proba(Xt)
    q = _hand_threshold([_hand_aps(p_cal[i], u_cal[i])[y[i]] for i in range(len(y))], 0.2)
    want = [[s <= q for s in _hand_aps(p[i], u_test[i])] for i in range(len(p))]
    assert sets.tolist() == want
    # a set is the top of the ranking: no label left out ranks above one taken
    top = np.where(sets, p, np.inf).min(axis=1)
    assert np.all(np.where(~sets, p, -np.inf).max(axis=1) <= top)


def test_aps_ties_rank_in_column_order():
    p = np.full((1, 4), 0.25)
    cp = ConformalClassifier(lambda X: np.tile(p, (len(X), 1)), score="aps", alpha=0.5)
    cp.fit(np.zeros((3, 1)), [0, 1, 2])  # scores 0.25, 0.5, 0.75: threshold the 2nd
    assert cp.predict(np.zeros((1, 1))).tolist() == [[True, True, False, False]]


def test_mondrian_thresholds_are_per_class_loops():
    rng = np.random.default_rng(3)
    X, y = class_data(600, rng)
    Xt, _ = class_data(100, rng)
    cp = ConformalClassifier(CLASSIFIER, alpha=0.1, mondrian=True).fit(X, y)
    p_cal, p = model_proba(X), model_proba(Xt)
    q = [_hand_threshold([1 - p_cal[i, c] for i in range(len(y)) if y[i] == c], 0.1)
         for c in range(3)]
    assert cp.threshold_.tolist() == q
    assert cp.predict(Xt).tolist() == [[1 - p[i, j] <= q[j] for j in range(3)]
                                       for i in range(len(p))]


def test_weighted_thresholds_equal_a_loop_and_the_unweighted_with_equal_weights():
    rng = np.random.default_rng(4)
    s, w, wt = rng.normal(size=40), rng.exponential(size=40), rng.exponential(size=25) * 3
    got = weighted_thresholds(s, w, wt, 0.1)
    for g, w_new in zip(got, wt):
        total, acc, want = w.sum() + w_new, 0.0, math.inf
        for i in np.argsort(s):
            acc += w[i]
            if acc / total >= 0.9:
                want = s[i]
                break
        assert g == want
    for n in range(9, 120):
        for alpha in (0.1, 0.05, 0.2, 0.3):
            if n >= min_calibration_size(alpha):
                s = rng.normal(size=n)
                k = calibration_rank(n, alpha)
                got = weighted_thresholds(s, np.ones(n), np.ones(1), alpha)[0]
                assert got == np.sort(s)[k - 1]


def test_absolute_and_cqr_intervals_equal_a_loop():
    rng = np.random.default_rng(5)
    X, y = reg_data(200, rng)
    Xt, _ = reg_data(50, rng)
    iv = ConformalRegressor(REGRESSOR, alpha=0.1).fit(X, y).predict(Xt)
    q = _hand_threshold(list(np.abs(y - reg_mean(X))), 0.1)
    assert np.allclose(iv, np.c_[reg_mean(Xt) - q, reg_mean(Xt) + q], rtol=0, atol=0)
    cqr = ConformalRegressor(reg_quantiles, alpha=0.1, score="cqr").fit(X, y).predict(Xt)
    lo, hi = reg_quantiles(X)
    q = _hand_threshold([max(lo[i] - y[i], y[i] - hi[i]) for i in range(len(y))], 0.1)
    lo_t, hi_t = reg_quantiles(Xt)
    assert np.array_equal(cqr, np.c_[lo_t - q, hi_t + q])


def test_cqr_takes_a_pair_of_models_and_an_n_by_2_callable():
    rng = np.random.default_rng(6)
    X, y = reg_data(200, rng)
    lo = LinearRegression().fit(X, y - 2)
    hi = LinearRegression().fit(X, y + 2)
    pair = ConformalRegressor((lo, hi), score="cqr").fit(X, y).predict(X[:5])
    cols = ConformalRegressor(lambda Z: np.c_[lo.predict(Z), hi.predict(Z)],
                              score="cqr").fit(X, y).predict(X[:5])
    assert np.array_equal(pair, cols)


def test_same_seed_same_sets_and_pickle_round_trip():
    X, y = class_data(300, np.random.default_rng(7))
    clf = LogisticRegression().fit(X, y)
    cp = ConformalClassifier(clf, score="aps", randomized=True).fit(X, y, seed=1)
    assert np.array_equal(cp.predict(X, seed=3), cp.predict(X, seed=3))
    assert not np.array_equal(cp.predict(X, seed=3), cp.predict(X, seed=4))
    again = pickle.loads(pickle.dumps(cp))
    assert np.array_equal(again.predict(X, seed=3), cp.predict(X, seed=3))


def test_a_calibration_set_too_small_is_refused_with_the_minimum():
    X, y = class_data(8, np.random.default_rng(8))
    with pytest.raises(ValidationError, match=r"8 calibration rows are too few for "
                       r"alpha=0.1.*at least 9 calibration rows, or alpha >= 0.111"):
        ConformalClassifier(CLASSIFIER, alpha=0.1).fit(X, y)
    ConformalClassifier(CLASSIFIER, alpha=0.1).fit(*class_data(9, np.random.default_rng(8)))
    with pytest.raises(ValidationError, match="at least 19 calibration rows"):
        ConformalRegressor(REGRESSOR, alpha=0.05).fit(*reg_data(18, np.random.default_rng(8)))


def test_mondrian_names_the_classes_with_too_few_rows():
    X = np.zeros((25, 2))
    y = np.r_[np.zeros(15, int), np.ones(7, int), np.full(3, 2)]
    with pytest.raises(ValidationError, match=r"at least 9 calibration rows of every class "
                       r"for alpha=0.1; too few for class\(es\) 1: 7, 2: 3"):
        ConformalClassifier(CLASSIFIER, alpha=0.1, mondrian=True).fit(X, y)


def test_the_wrong_kind_of_model_is_refused():
    X, y = reg_data(50, np.random.default_rng(9))
    with pytest.raises(ValidationError, match="ConformalClassifier needs a classification "
                       "model, but LinearRegression is a regression model. Use "
                       "ConformalRegressor"):
        ConformalClassifier(LinearRegression().fit(X, y))
    Xc, yc = class_data(50, np.random.default_rng(9))
    with pytest.raises(ValidationError, match="ConformalRegressor needs a regression model, "
                       "but LogisticRegression is a classification model. Use "
                       "ConformalClassifier"):
        ConformalRegressor(LogisticRegression().fit(Xc, yc))
    with pytest.raises(ValidationError, match="score='cqr' needs the conditional quantiles"):
        ConformalRegressor(LinearRegression().fit(X, y), score="cqr")
    with pytest.raises(ValidationError, match="a pair of models is the quantile pair"):
        ConformalRegressor((REGRESSOR, REGRESSOR))


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": 1.0}, r"alpha must be in \(0, 1\), got 1.0"),
    ({"alpha": 0}, r"alpha must be in \(0, 1\), got 0"),
    ({"score": "raps"}, "score must be one of 'lac', 'aps', got 'raps'"),
    ({"randomized": True}, "randomized=True needs score='aps'"),
    ({"randomized": 1, "score": "aps"}, "randomized must be True or False, got 1"),
    ({"mondrian": True, "shift": "domain"}, "mondrian=True and a shift cannot be combined"),
    ({"shift": "covariate"}, "shift must be None, 'domain'"),
    ({"domain_classifier": LogisticRegression()}, "domain_classifier is used only with"),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        ConformalClassifier(CLASSIFIER, **kwargs)


def test_bad_calls_say_what_to_do():
    X, y = class_data(50, np.random.default_rng(10))
    with pytest.raises(NotFittedError, match=r"call fit\(X_calibration, y_calibration\)"):
        ConformalClassifier(CLASSIFIER).predict(X)
    with pytest.raises(ValidationError, match="shift='domain' needs target rows"):
        ConformalClassifier(CLASSIFIER, shift="domain").fit(X, y)
    with pytest.raises(ValidationError, match="target rows are used only with a shift"):
        ConformalClassifier(CLASSIFIER).fit(X, y, target=X)
    with pytest.raises(ValidationError, match="X has 50 rows but y has 49"):
        ConformalClassifier(CLASSIFIER).fit(X, y[:49])
    with pytest.raises(ValidationError, match=r"labels \['7'\] are not among"):
        ConformalClassifier(LogisticRegression().fit(X, y)).fit(X, np.r_[y[:-1], 7])
    with pytest.raises(ValidationError, match="one finite, non-negative weight per row"):
        ConformalClassifier(CLASSIFIER, shift=lambda Z: -np.ones(len(Z))).fit(X, y)
    Xr, yr = reg_data(50, np.random.default_rng(10))
    with pytest.raises(ValidationError, match="y holds NaN or inf"):
        ConformalRegressor(REGRESSOR).fit(Xr, np.r_[yr[:-1], np.nan])
    with pytest.raises(ValidationError, match=r"return \(lower, upper\), two arrays of 50"):
        ConformalRegressor(lambda Z: Z[:, 0], score="cqr").fit(Xr, yr)
