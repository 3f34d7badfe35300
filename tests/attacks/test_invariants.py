"""Invariants every attack keeps: budget, range, no accuracy gained, same seed same output."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from shakeout import wrap
from shakeout.attacks import (APGD, BIM, CATALOG, EAD, FGSM, JSMA, PGD, Attack, CarliniWagner,
                              DeepFool, HopSkipJump, SquareAttack, TransferAttack, make,
                              perturbation_norm)

ATTACKS = {
    "fgsm": lambda: FGSM(eps=0.1),
    "fgsm-l2": lambda: FGSM(eps=1.0, norm="l2"),
    "pgd-linf": lambda: PGD(eps=0.1, steps=5),
    "pgd-l2": lambda: PGD(eps=1.0, norm="l2", steps=5, restarts=2),
    "pgd-l1": lambda: PGD(eps=3.0, norm="l1", steps=5),
    "bim": lambda: BIM(eps=0.1, steps=5),
    "apgd-ce": lambda: APGD(eps=0.1, steps=10),
    "apgd-dlr-l2": lambda: APGD(eps=1.0, norm="l2", loss="dlr", steps=10),
    "cw": lambda: CarliniWagner(eps=1.0, steps=10, binary_steps=2, c=1.0),
    "deepfool": lambda: DeepFool(eps=1.0),
    "deepfool-linf": lambda: DeepFool(eps=0.1, norm="linf"),
    "jsma": lambda: JSMA(eps=6),
    "ead": lambda: EAD(eps=5.0, steps=10, binary_steps=2, c=1.0),
    "square": lambda: SquareAttack(eps=0.1, steps=50),
    "square-l2": lambda: SquareAttack(eps=1.0, norm="l2", steps=50, p_init=0.1),
    "hopskipjump": lambda: HopSkipJump(eps=2.0, steps=3, max_evals=100),
    "transfer": lambda: TransferAttack(eps=0.2, epochs=3),
}
SLACK = 1e-5  # float32 rounding of x + delta


@pytest.fixture(scope="module", params=sorted(ATTACKS))
def outcome(request, digits):
    net, X, y = digits
    attack = ATTACKS[request.param]()
    return attack, X, y, net, attack.apply(net, X, y, seed=0)


def test_shape_dtype_and_valid_range(outcome):
    attack, X, y, net, X_adv = outcome
    assert X_adv.shape == X.shape and X_adv.dtype == X.dtype
    assert X_adv.min() >= 0.0 and X_adv.max() <= 1.0


def test_never_outside_the_budget(outcome):
    attack, X, y, net, X_adv = outcome
    size = perturbation_norm(X_adv, X, norm=attack.norm)
    assert size.max() <= attack.eps * (1 + SLACK) + SLACK


def test_never_raises_accuracy_and_keeps_wrong_rows(outcome):
    attack, X, y, net, X_adv = outcome
    model = wrap(net)
    clean_ok = model.predict(X) == y
    adv_ok = model.predict(X_adv) == y
    assert adv_ok.sum() <= clean_ok.sum()
    assert not adv_ok[~clean_ok].any()
    np.testing.assert_array_equal(X_adv[~clean_ok], X[~clean_ok])
    assert (~adv_ok[clean_ok]).any(), f"{attack.name} fooled nothing"


def test_same_seed_same_examples(outcome):
    attack, X, y, net, X_adv = outcome
    np.testing.assert_array_equal(attack.apply(net, X, y, seed=0), X_adv)


def test_random_attacks_depend_on_the_seed(digits):
    net, X, y = digits
    a = PGD(eps=0.05, steps=2)
    assert not np.array_equal(a.apply(net, X, y, seed=0), a.apply(net, X, y, seed=1))


@pytest.mark.parametrize("name", ["fgsm", "pgd", "apgd-ce", "square"])
def test_zero_budget_returns_x(digits, name):
    net, X, y = digits
    steps = {} if name == "fgsm" else {"steps": 3}  # FGSM takes one step, no steps
    np.testing.assert_array_equal(make(name, eps=0.0, **steps).apply(net, X, y, seed=0), X)


@pytest.mark.parametrize("attack", [PGD(eps=0.3, steps=20), APGD(eps=0.3, steps=20, loss="dlr"),
                                    CarliniWagner(binary_steps=4),
                                    DeepFool(), JSMA(gamma=0.3),
                                    SquareAttack(eps=0.3, steps=200)], ids=lambda a: a.name)
def test_targeted_attacks_reach_the_target(digits, attack):
    net, X, y = digits
    model = wrap(net)
    right = model.predict(X) == y
    targets = (y + 1) % 10
    X_adv = attack.apply(net, X, y, target_classes=targets, seed=0)
    assert np.mean(model.predict(X_adv)[right] == targets[right]) > 0.8


def test_images_in_other_ranges_and_standardised_inputs(digits):
    """Bounds are not [0, 1]: a model reading standardised pixels, per-pixel bounds."""
    import torch

    net, X, y = digits
    mean, std = 0.3, 0.4
    model = torch.nn.Sequential(_Unscale(mean, std), net)
    Z = (X - mean) / std
    bounds = ((0 - mean) / std, (1 - mean) / std)
    Z_adv = PGD(eps=0.1 / std, steps=10, bounds=bounds).apply(model, Z, y, seed=0)
    X_adv = PGD(eps=0.1, steps=10).apply(net, X, y, seed=0)
    assert Z_adv.min() >= bounds[0] - 1e-6 and Z_adv.max() <= bounds[1] + 1e-6
    fooled_z = wrap(model).predict(Z_adv) != y
    fooled_x = wrap(net).predict(X_adv) != y
    assert abs(fooled_z.mean() - fooled_x.mean()) < 0.1


class _Unscale:
    def __new__(cls, mean, std):
        import torch

        class Unscale(torch.nn.Module):
            def forward(self, z):
                return z * std + mean

        return Unscale()


def test_model_left_as_it_was(digits):
    net, X, y = digits
    net.train()
    try:
        PGD(eps=0.1, steps=2).apply(net, X, y, seed=0)
        assert net.training
        assert all(p.requires_grad for p in net.parameters())
    finally:
        net.eval()


def test_dataframe_in_dataframe_out(tabular):
    from shakeout.attacks import data_bounds

    clf, X, y, X_all = tabular
    X_adv = SquareAttack(eps=0.5, steps=30, bounds=data_bounds(X_all)).apply(clf, X, y, seed=0)
    assert list(X_adv.columns) == list(X.columns)
    assert (X_adv.dtypes == X.dtypes).all()


def test_every_catalogued_attack_pickles_and_names_itself():
    for name in CATALOG:
        attack = make(name, eps=1)
        assert isinstance(attack, Attack)
        again = pickle.loads(pickle.dumps(attack))
        assert repr(again) == repr(attack)
        assert attack.name.startswith(name.split("-")[0])
        assert "Examples" in type(attack).__doc__ and attack.paper
