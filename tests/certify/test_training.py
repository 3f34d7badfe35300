"""The seeded training loop: augmentation that smoothing needs, early stopping, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.certify import certify
from shakeout.errors import ValidationError
from shakeout.models.runtime import gaussian
from shakeout.models.training import noisy, train
from shakeout.stats import clopper_pearson

from .conftest import digits_mlp_module

torch = pytest.importorskip("torch")


def _certified_at(module, X, y, radius: float) -> tuple[int, int]:
    cert = certify(module, X, sigma=0.5, n0=50, n=500, alpha=0.01, seed=0)
    return int(np.sum((cert.prediction == y) & (cert.radius >= radius))), len(y)


def test_noise_augmentation_raises_certified_accuracy(digits):
    """Smoothing a model trained without noise certifies almost nothing (Cohen et al. 2019);
    trained with the noise it is smoothed by, it certifies a third of the digits at 0.5."""
    X_train, X_test, y_train, y_test = digits
    plain = train(digits_mlp_module(), X_train, y_train, epochs=30, lr=3e-3, seed=0)
    augmented = train(digits_mlp_module(), X_train, y_train, epochs=30, lr=3e-3,
                      transform=noisy(gaussian(0.5)), seed=0)
    X, y = X_test[:100], y_test[:100]
    with_noise = clopper_pearson(*_certified_at(augmented.module, X, y, 0.5))
    without = clopper_pearson(*_certified_at(plain.module, X, y, 0.5))
    assert with_noise[0] > without[1]


def test_the_same_seed_gives_the_same_weights(digits):
    X_train, _, y_train, _ = digits
    runs = [train(digits_mlp_module(), X_train[:300], y_train[:300], epochs=3,
                  transform=noisy(gaussian(0.3)), seed=s) for s in (4, 4, 5)]
    weights = [torch.cat([p.flatten() for p in r.module.parameters()]) for r in runs]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    assert runs[0].history == runs[1].history


def test_the_module_given_is_not_changed(digits):
    X_train, _, y_train, _ = digits
    net = digits_mlp_module()
    before = [p.detach().clone() for p in net.parameters()]
    fit = train(net, X_train[:200], y_train[:200], epochs=2, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert fit.module is not net and not fit.module.training
    assert fit.classes.tolist() == list(range(10))


def test_early_stopping_keeps_the_best_epoch():
    """Labels that are noise: the validation loss rises once the model memorises them, so
    training stops after ``patience`` epochs without a better one and keeps the best."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(np.float32)
    y = rng.integers(0, 2, size=300)
    net = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2))
    fit = train(net, X, y, epochs=200, lr=1e-2, patience=3, seed=0)
    losses = [h["val_loss"] for h in fit.history]
    assert fit.stopped_early and len(fit.history) == fit.best_epoch + 3
    assert losses[fit.best_epoch - 1] == min(losses)


def test_without_a_validation_split_every_epoch_runs():
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    fit = train(torch.nn.Linear(2, 2), X, (X[:, 0] > 0).astype(int), epochs=4, validation=0,
                seed=0)
    assert len(fit.history) == 4 and fit.best_epoch == 4 and not fit.stopped_early
    assert np.isnan(fit.history[0]["val_loss"])


def test_the_transform_sees_labels_and_module():
    """The hook adversarial training needs: each batch's labels and the module, in eval mode."""
    seen = []

    def spy(x, y, module, gen):
        seen.append((len(x) == len(y), module.training))
        return x

    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    train(torch.nn.Linear(2, 2), X, (X[:, 0] > 0).astype(int), epochs=1, batch_size=16,
          validation=0, transform=spy, seed=0)
    assert seen == [(True, False)] * 3


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "train: epochs must be"),
    ({"lr": 0.0}, r"train: lr must be in \(0, inf\]"),
    ({"validation": 1.0}, r"train: validation must be in \[0, 1\)"),
    ({"y": np.zeros(40, int)}, "y holds one class"),
    ({"y": np.zeros(3, int)}, "one label per row of X"),
])
def test_bad_settings_are_refused(kwargs, match):
    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    settings = {"y": (X[:, 0] > 0).astype(int), **kwargs}
    with pytest.raises(ValidationError, match=match):
        train(torch.nn.Linear(2, 2), X, **settings)


def test_a_module_that_is_not_torch_is_refused():
    from sklearn.linear_model import LogisticRegression

    X, y = np.array([[0.0], [1.0], [0.2], [0.9]]), [0, 1, 0, 1]
    with pytest.raises(ValidationError, match="train needs a torch model; got "
                                              "LogisticRegression"):
        train(LogisticRegression().fit(X, y), X, y)
