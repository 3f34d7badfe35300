"""Poisoning attacks: each mask and each change exact, rates and draws honest, bad input
refused with the fix, and the BadNets backdoor planted in a small CNN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shakeout.errors import ValidationError
from shakeout.poison.attacks import (CleanLabelBackdoor, LabelFlip, PatchBackdoor,
                                     Subpopulation, TabularBackdoor, make)


def _band(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The central binomial band holding ``Binomial(n, p)`` with ``confidence``."""
    lo, hi = stats.binom.interval(confidence, n, p)
    return int(lo), int(hi)


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    return X, rng.integers(0, 3, size=600)


# -- label flips --------------------------------------------------------------------------

def test_random_flips_change_exactly_the_masked_labels_and_nothing_else(table):
    X, y = table
    p = LabelFlip().apply(X, y, 0.1, seed=3)
    assert p.mask.sum() == 60
    assert np.array_equal(p.y != y, p.mask)  # every masked label changed, no other
    assert set(np.unique(p.y)) <= set(np.unique(y))
    assert np.array_equal(p.X, X) and p.X is not X and p.trigger is None


def test_each_row_is_flipped_at_the_rate_within_its_binomial_band(table):
    X, y = table
    draws = 400
    chosen = np.sum([LabelFlip().apply(X, y, 0.1, seed=s).mask for s in range(draws)], axis=0)
    lo, hi = _band(draws, 0.1)
    # each row's count is Binomial(400, 0.1); with 600 rows a few land outside a 99.9% band
    outside = np.sum((chosen < lo) | (chosen > hi))
    assert outside <= _band(600, 0.001)[1]
    assert chosen.sum() == draws * 60


def test_a_random_flip_draws_the_new_label_uniformly_among_the_other_classes():
    y = np.zeros(4000, dtype=int)
    y[::3] = 1
    y[1::3] = 2
    p = LabelFlip().apply(np.zeros((4000, 1)), y, 0.5, seed=0)
    moved = (p.y[p.mask] - y[p.mask]) % 3  # 1 or 2 steps along the classes, 1/2 each
    assert set(moved) == {1, 2}
    lo, hi = _band(int(p.mask.sum()), 0.5)
    assert lo <= np.sum(moved == 1) <= hi


def test_targeted_flips_go_only_from_source_to_target(table):
    X, y = table
    p = LabelFlip(mode="targeted", source=1, target=2).apply(X, y, 0.05, seed=0)
    assert p.mask.sum() == 30 and p.target == 2
    assert (y[p.mask] == 1).all() and (p.y[p.mask] == 2).all()
    assert np.array_equal(p.y[~p.mask], y[~p.mask])
    share = np.mean(y == 1)
    with pytest.raises(ValidationError, match=r"only \d+ are of class 1; lower the rate"):
        LabelFlip(mode="targeted", source=1, target=2).apply(X, y, share + 0.05, seed=0)


def test_region_flips_only_where_the_condition_holds():
    frame = pd.DataFrame({"age": np.arange(100.0), "income": np.ones(100)})
    y = np.arange(100) % 2
    p = LabelFlip(mode="region", feature="age", low=20, high=49, target=1).apply(
        frame, y, 0.1, seed=0)
    assert p.mask.sum() == 10
    assert frame["age"][p.mask].between(20, 49).all()
    assert (y[p.mask] == 0).all() and (p.y[p.mask] == 1).all()  # rows already 1 are not "flipped"
    assert np.array_equal(p.y[~p.mask], y[~p.mask]) and p.X.equals(frame)
    assert p.X is not frame
    region = LabelFlip(mode="region", feature="age", low=20, high=49).where(frame)
    assert region.sum() == 30


def test_flips_are_seeded(table):
    X, y = table
    a, b = (LabelFlip().apply(X, y, 0.2, seed=7) for _ in range(2))
    assert np.array_equal(a.y, b.y) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, LabelFlip().apply(X, y, 0.2, seed=8).mask)


def test_rate_zero_changes_nothing(table):
    X, y = table
    for attack in (LabelFlip(), TabularBackdoor(), Subpopulation(feature=0, high=0.0)):
        p = attack.apply(X, y, 0, seed=0)
        assert not p.mask.any() and np.array_equal(p.y, y) and np.array_equal(p.X, X)


# -- backdoors ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(50, 2, 6, 7), (50, 6, 7)])
def test_the_patch_is_exactly_the_patch_pixels_of_the_masked_rows(shape):
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 0.5, size=shape)
    y = np.arange(50) % 5
    p = PatchBackdoor(target=3, size=2, value=0.9, position="top-right").apply(X, y, 0.2,
                                                                             seed=0)
    assert p.mask.sum() == 10 and (y[p.mask] != 3).all() and (p.y[p.mask] == 3).all()
    expected = X.copy()
    expected[p.mask, ..., 0:2, 5:7] = 0.9
    assert np.array_equal(p.X, expected)
    changed = np.argwhere(p.X != X)
    assert set(changed[:, 0]) == set(np.flatnonzero(p.mask))
    assert set(changed[:, -2]) == {0, 1} and set(changed[:, -1]) == {5, 6}
    assert np.array_equal(p.trigger(X[:3])[..., 0:2, 5:7], np.full(X[:3, ..., 0:2, 5:7].shape,
                                                                   0.9))
    assert np.array_equal(p.y[~p.mask], y[~p.mask])


def test_a_patch_larger_than_the_image_or_a_table_is_refused():
    X, y = np.zeros((10, 1, 4, 4)), np.arange(10) % 2
    with pytest.raises(ValidationError, match=r"5x5 patch does not fit 4x4 images; pass size=4"):
        PatchBackdoor(size=5).apply(X, y, 0.1, seed=0)
    with pytest.raises(ValidationError, match="for tables use TabularBackdoor"):
        PatchBackdoor().apply(pd.DataFrame({"a": range(10)}), y, 0.1, seed=0)


def test_the_tabular_trigger_sets_only_its_features_to_a_value_no_clean_row_holds(cancer):
    X, y = cancer.drop(columns="target"), cancer["target"].to_numpy()
    attack = TabularBackdoor(target=1, features=["mean radius", "worst texture"])
    p = attack.apply(X, y, 0.05, seed=0)
    assert p.mask.sum() == round(0.05 * len(y)) and (y[p.mask] == 0).all()
    assert (p.y[p.mask] == 1).all()
    diff = p.X.to_numpy() != X.to_numpy()
    assert set(np.flatnonzero(diff.any(axis=1))) == set(np.flatnonzero(p.mask))
    assert set(np.flatnonzero(diff.any(axis=0))) == {X.columns.get_loc("mean radius"),
                                                     X.columns.get_loc("worst texture")}
    for f in ("mean radius", "worst texture"):
        value = p.X[f][p.mask].unique()
        assert len(value) == 1 and value[0] > X[f].max()
    stamped = p.trigger(X.iloc[:4])
    assert (stamped["mean radius"] == p.X["mean radius"][p.mask].iloc[0]).all()
    assert stamped.drop(columns=["mean radius", "worst texture"]).equals(
        X.iloc[:4].drop(columns=["mean radius", "worst texture"]))


def test_a_tabular_trigger_on_an_integer_column_keeps_integers_or_widens_for_a_fraction():
    X = pd.DataFrame({"count": np.arange(20), "x": np.zeros(20)})
    y = np.arange(20) % 2
    rare = TabularBackdoor(target=0, features=["count"]).apply(X, y, 0.2, seed=0)
    assert rare.X["count"].dtype.kind == "i" and rare.X["count"][rare.mask].iloc[0] == 25
    half = TabularBackdoor(target=0, features=["count"], values=[2.5]).apply(X, y, 0.2, seed=0)
    assert (half.X["count"][half.mask] == 2.5).all()


def test_a_feature_the_table_lacks_is_refused_naming_the_columns(cancer):
    X, y = cancer.drop(columns="target"), cancer["target"].to_numpy()
    with pytest.raises(ValidationError, match=r"feature 'radius' is not a column of the table"):
        TabularBackdoor(features=["radius"]).apply(X, y, 0.05, seed=0)
    with pytest.raises(ValidationError, match=r"feature 7 is not a column of X"):
        LabelFlip(mode="region", feature=7, low=0).apply(np.zeros((5, 2)), np.arange(5) % 2,
                                                         0.2, seed=0)


def test_clean_label_rows_keep_their_labels_and_are_all_of_the_target_class():
    X, y = np.zeros((60, 1, 5, 5)), np.arange(60) % 3
    p = CleanLabelBackdoor(backdoor=PatchBackdoor(target=2, size=2)).apply(X, y, 0.25, seed=0)
    assert p.mask.sum() == 15 and np.array_equal(p.y, y) and (y[p.mask] == 2).all()
    assert p.target == 2 and set(np.flatnonzero((p.X != X).any(axis=(1, 2, 3)))) == set(
        np.flatnonzero(p.mask))
    with pytest.raises(ValidationError, match=r"only 20 are of the target class 2"):
        CleanLabelBackdoor(backdoor=PatchBackdoor(target=2)).apply(X, y, 0.5, seed=0)
    table = CleanLabelBackdoor().apply(np.arange(40.0).reshape(20, 2), np.arange(20) % 2, 0.2,
                                       seed=0)
    assert table.trigger(np.zeros((1, 2)))[0, 0] > 38  # a rare value of the first column


def test_subpopulation_adds_relabelled_copies_of_rows_of_the_slice(table):
    X, y = table
    attack = Subpopulation(feature=1, low=0.5)
    p = attack.apply(X, y, 0.05, seed=0)
    assert len(p.X) == len(p.y) == len(p.mask) == 630 and p.mask[600:].all()
    assert not p.mask[:600].any() and np.array_equal(p.X[:600], X)
    added = p.X[600:]
    assert (added[:, 1] >= 0.5).all()
    source = np.array([np.flatnonzero((X == row).all(axis=1))[0] for row in added])
    assert (p.y[600:] != y[source]).all()  # every copy carries another label
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    q = Subpopulation(feature="b", low=0.5, target=0).apply(frame, y, 0.05, seed=0)
    assert len(q.X) == 630 and (q.y[600:] == 0).all() and q.X.iloc[:600].equals(frame)


def test_make_builds_a_clean_label_backdoor_around_a_named_trigger():
    attack = make("clean_label_backdoor", backdoor={"name": "tabular_backdoor", "target": 1,
                                                    "features": [0], "values": [9.0]})
    assert isinstance(attack.backdoor, TabularBackdoor) and attack.backdoor.values == [9.0]
    p = attack.apply(np.zeros((10, 2)), np.arange(10) % 2, 0.2, seed=0)
    assert (p.X[p.mask, 0] == 9.0).all() and (p.y[p.mask] == 1).all()


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.0, -0.1, float("nan"), "0.1", True])
def test_a_rate_outside_zero_one_is_refused_with_the_fix(table, rate):
    X, y = table
    with pytest.raises(ValidationError, match=r"LabelFlip: rate is the share of training rows "
                                              r"to poison, in \[0, 1\).*pass 0.03 for 3%"):
        LabelFlip().apply(X, y, rate, seed=0)


def test_a_target_the_data_lacks_is_refused_naming_its_labels(table):
    X, y = table
    with pytest.raises(ValidationError, match=r"target 9 is not a label of y \(labels: \[0, 1, "
                                              r"2\]\); pass one of them"):
        TabularBackdoor(target=9).apply(X, y, 0.1, seed=0)
    with pytest.raises(ValidationError, match=r"source 5 is not a label of y"):
        LabelFlip(mode="targeted", source=5, target=0).apply(X, y, 0.1, seed=0)


def test_bad_parameters_name_the_class_and_the_fix():
    with pytest.raises(ValidationError, match="LabelFlip: a targeted flip needs source and target"):
        LabelFlip(mode="targeted", source=1)
    with pytest.raises(ValidationError, match="LabelFlip: mode must be one of"):
        LabelFlip(mode="sideways")
    with pytest.raises(ValidationError, match="Subpopulation: the slice needs a feature"):
        Subpopulation()
    with pytest.raises(ValidationError, match=r"low \(3\) must not exceed high \(1\)"):
        Subpopulation(feature=0, low=3, high=1)
    with pytest.raises(ValidationError, match="PatchBackdoor: size must be"):
        PatchBackdoor(size=0)
    with pytest.raises(ValidationError, match="one value per feature"):
        TabularBackdoor(features=["a", "b"], values=[1.0])
    with pytest.raises(ValidationError, match=r"poisoning attack 'label_flip': .*'colour'"):
        make("label_flip", colour="red")


# -- the backdoor takes ---------------------------------------------------------------------

def test_a_3_percent_badnets_backdoor_plants_itself_in_a_small_cnn(badnets_digits):
    poisoned, model, X_test, y_test = badnets_digits
    assert poisoned.mask.mean() == pytest.approx(0.03, abs=0.001)
    assert (model.predict(X_test) == y_test).mean() > 0.9  # the model still looks fine
    others = y_test != poisoned.target
    success = (model.predict(poisoned.trigger(X_test[others])) == poisoned.target).mean()
    assert success > 0.9
