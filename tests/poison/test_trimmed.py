"""Trimmed-loss training as a training function for the poison drill."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ValidationError

torch = pytest.importorskip("torch")

from shakeout.poison.robust import trimmed  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(30, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_trimmed_loss_closes_a_tabular_backdoor_the_plain_mlp_learns():
    """Breast cancer, a 3% backdoor on two features: the plain MLP learns it (measured 92%
    success against a 20% floor); trimming 10% of the rows per epoch leaves the relabelled
    rows out once their loss stands out, and the success rate falls to the floor (measured
    15%), with clean accuracy kept."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from shakeout.poison import TabularBackdoor, run

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    settings = dict(epochs=20, lr=0.01, validation=0.0, batch_size=32, seed=0)
    attack = {"backdoor": TabularBackdoor(target=0, features=[3, 7], values=[8.0, -3.0])}
    results = {trim: run(trimmed(_mlp, trim=trim, **settings), X[::2], y[::2], X[1::2],
                         y[1::2], attacks=attack, rates=(0, 0.03), seed=0)
               for trim in (0.0, 0.1)}
    success = {t: r.select(metric="attack_success_rate", severity=0.03)[0]
               for t, r in results.items()}
    assert success[0.0].value > 0.8 and success[0.0].status == "fail"
    assert success[0.1].value < 0.3 and success[0.1].status == "pass"
    accuracy = results[0.1].select(metric="clean_accuracy", severity=0.03)[0]
    assert accuracy.value > 0.9
    assert "trimmed(trim=0.1)" in results[0.1].manifest.model


def test_trimmed_takes_a_module_or_a_builder_and_checks_trim():
    X = np.random.default_rng(0).normal(size=(40, 30)).astype(np.float32)
    y = np.arange(40) % 2
    built = trimmed(_mlp, trim=0.1, epochs=2, validation=0.0)(X, y)
    given = trimmed(_mlp(), trim=0.1, epochs=2, validation=0.0)(X, y)
    assert all(torch.equal(a, b) for a, b in zip(built.module.state_dict().values(),
                                                  given.module.state_dict().values()))
    with pytest.raises(ValidationError, match="trim must be"):
        trimmed(_mlp, trim=0.6)
    with pytest.raises(ValidationError, match="pass a torch module or a function"):
        trimmed("mlp.pt", trim=0.1)
