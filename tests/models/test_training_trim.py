"""Trimmed-loss training (Shen & Sanghavi 2019, one trimming per epoch) and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from shakeout.errors import ValidationError

torch = pytest.importorskip("torch")

from shakeout.models.training import train  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _problem(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def _recorder(seen):
    def transform(x, y, module, gen):  # sees every training batch, in order
        seen.append(x.clone())
        return x
    return transform


def test_no_trim_keeps_the_draws_and_the_results_of_the_untrimmed_loop():
    """Losses recorded from the loop before ``trim`` existed (same seed, one thread), and
    the batches in the order the documented draws give: order = permutation, the first 25%
    held out, three seeds for torch, then one permutation of the rest per epoch."""
    X, y = _problem()
    fit = train(_net(), X, y, epochs=4, batch_size=16, lr=0.05, validation=0.25, seed=3,
                trim=0.0)
    np.testing.assert_allclose([h["train_loss"] for h in fit.history],
                               [0.6578943716155158, 0.4681114315986633, 0.2574157257874807,
                                0.14523737414015664], rtol=1e-6)
    np.testing.assert_allclose([h["val_loss"] for h in fit.history],
                               [0.5445797602335612, 0.3369120200475057, 0.2122823397318522,
                                0.12689764102300008], rtol=1e-6)
    seen: list = []
    train(_net(), X, y, epochs=3, batch_size=16, lr=0.05, validation=0.25, seed=3,
          transform=_recorder(seen), validate_transformed=False)
    rng = np.random.default_rng(3)
    order = rng.permutation(len(X))
    rest = order[30:]
    rng.integers(2**63 - 1, size=3)  # the transform's generator, validation, torch's global
    expected = []
    for _ in range(3):
        rows = rest[rng.permutation(len(rest))]
        expected += [X[rows[s:s + 16]] for s in range(0, len(rows), 16)]
    assert len(seen) == len(expected)
    assert all(np.array_equal(a.numpy(), b) for a, b in zip(seen, expected))


def test_trim_leaves_out_the_flipped_rows_and_recovers_accuracy():
    """20% of the labels flipped far from the boundary: from the second epoch on, the
    highest-loss 20% are mostly those rows, so the batches hold few of them and the model
    is more accurate on clean labels than the untrimmed one."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    far = np.flatnonzero(np.abs(X[:, 0]) > 0.5)
    flip = rng.choice(far, size=120, replace=False)
    noisy = y.copy(); noisy[flip] = 1 - noisy[flip]
    flipped = {tuple(r) for r in X[flip]}
    seen: list = []
    common = dict(epochs=12, batch_size=50, lr=0.05, validation=0.0, seed=0)
    trimmed = train(torch.nn.Linear(2, 2), X, noisy, trim=0.2, transform=_recorder(seen),
                    **common)
    last = torch.cat(seen[-10:]).numpy()  # the last epoch: 480 rows in 10 batches
    assert len(last) == 480
    share = np.mean([tuple(r) in flipped for r in last])
    assert share < 0.05  # 20% of the rows are flipped; the untrimmed loop sees all of them
    plain = train(torch.nn.Linear(2, 2), X, noisy, **common)
    Xt = rng.normal(size=(2000, 2)).astype(np.float32); yt = (Xt[:, 0] > 0).astype(int)
    acc = lambda m: float((m(torch.as_tensor(Xt)).argmax(1).numpy() == yt).mean())
    assert acc(trimmed.module) > acc(plain.module) + 0.02


def test_checkpoints_hold_each_epochs_weights():
    X, y = _problem()
    fit = train(_net(), X, y, epochs=3, batch_size=32, lr=0.05, validation=0.0, seed=0,
                checkpoints=True)
    assert [c.epoch for c in fit.checkpoints] == [1, 2, 3]
    assert all(c.lr == 0.05 for c in fit.checkpoints)
    last = fit.checkpoints[-1].state
    assert all(torch.equal(last[k], v) for k, v in fit.module.state_dict().items())
    assert not torch.equal(fit.checkpoints[0].state["0.weight"], last["0.weight"])
    assert train(_net(), X, y, epochs=1, validation=0.0).checkpoints == ()


def test_trim_must_leave_most_rows():
    X, y = _problem()
    with pytest.raises(ValidationError, match="trim"):
        train(_net(), X, y, trim=0.5)
