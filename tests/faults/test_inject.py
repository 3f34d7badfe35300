"""The injector changes exactly the faulty element and puts every byte back afterwards."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from shakeout.errors import ValidationError
from shakeout.faults import Fault, Injector, find_sites, injected
from shakeout.perturb.bits import flip, stuck


def _site(model, name, **kw):
    return next(s for s in find_sites(model, **kw) if s.name == name)


def _no_hooks(module: torch.nn.Module) -> bool:
    return all(not m._forward_hooks for m in module.modules())


def _logits(net, X) -> torch.Tensor:
    with torch.no_grad():
        return net(torch.from_numpy(X))


def test_weight_flip_changes_exactly_that_element(linear_net, snapshot) -> None:
    before = linear_net.weight.detach().clone()
    bias = snapshot(linear_net)["bias"]
    site = _site(linear_net, "weight")
    with injected(linear_net, [Fault(site, index=2, bit=30)]):
        after = linear_net.weight.detach().clone()
        assert snapshot(linear_net)["bias"] == bias
    changed = (after != before).nonzero().tolist()
    assert changed == [[0, 2]]                       # flat index 2 of a (2, 3) tensor
    assert after[0, 2] == flip(before[0, 2], 30)
    assert float(after[0, 2]) == pytest.approx(1.7e38, rel=0.01)   # 0.5 -> 2^127
    assert torch.equal(linear_net.weight.detach(), before)


@pytest.mark.parametrize("kind, bit, value", [("stuck_at_1", 31, None), ("stuck_at_0", 29, None),
                                              ("random_value", None, -7.5)])
def test_stuck_bits_and_random_values_on_weights(linear_net, kind, bit, value) -> None:
    before = linear_net.weight.detach().clone()
    site = _site(linear_net, "weight")
    with injected(linear_net, [Fault(site, 0, bit, kind=kind, value=value)]):
        got = linear_net.weight.detach()[0, 0].clone()
    want = (torch.tensor(value) if kind == "random_value"
            else stuck(before[0, 0], bit, to=int(kind[-1])))
    assert got == want and got != before[0, 0]
    assert torch.equal(linear_net.weight.detach(), before)


def test_faults_on_one_element_stack_and_restore_to_the_original(linear_net, snapshot) -> None:
    original = snapshot(linear_net)
    site = _site(linear_net, "weight")
    with Injector(linear_net, [site]) as inj:
        inj.inject([Fault(site, 2, 22), Fault(site, 2, 0)])
        inj.inject([Fault(site, 2, 31, kind="stuck_at_1"), Fault(site, 2, None, "random_value", 3.0)])
        assert linear_net.weight.detach()[0, 2] == 3.0
    assert snapshot(linear_net) == original


def test_permanent_activation_fault_hits_every_row(linear_X) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).eval()
    clean = _logits(net, linear_X)
    site = _site(net, "2", where="activation", X=linear_X)
    with injected(net, [Fault(site, index=1, bit=31)]) as model:
        faulty = _logits(net, linear_X)
        proba = model.predict_proba(linear_X)
    assert torch.equal(faulty[:, 1], -clean[:, 1])
    assert torch.equal(faulty[:, [0, 2]], clean[:, [0, 2]])
    assert np.allclose(proba, torch.softmax(faulty.double(), 1).numpy())
    assert _no_hooks(net) and torch.equal(_logits(net, linear_X), clean)


def test_transient_activation_fault_hits_only_its_row(linear_X) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).eval()
    clean = _logits(net, linear_X)
    hidden = _site(net, "0", where="activation", X=linear_X)
    out = _site(net, "2", where="activation", X=linear_X)
    with injected(net, [Fault(out, index=2, bit=30, row=5), Fault(hidden, 3, None, "random_value",
                                                                  0.0, row=7)]):
        faulty = _logits(net, linear_X)
    differs = (faulty != clean).nonzero().tolist()
    assert [r for r, _ in differs if r != 7] == [5] and [5, 2] in differs
    assert faulty[5, 2] == flip(clean[5, 2], 30)
    assert _no_hooks(net)


def test_activation_fault_on_the_digits_cnn_changes_predictions_then_restores(digits, snapshot) -> None:
    net, X = digits.model, digits.X_test[:64]
    original, clean = snapshot(net), _logits(net, X)
    conv = _site(net, "0", where="activation", X=X)
    faults = [Fault(conv, index=i, bit=30) for i in range(0, conv.size, 7)]
    with injected(net, faults) as model:
        assert (model.predict(X) != clean.argmax(1).numpy()).any()
    assert snapshot(net) == original and _no_hooks(net)
    assert torch.equal(_logits(net, X), clean)


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_restored_after_an_exception_or_ctrl_c(digits, snapshot, stop) -> None:
    net, X = digits.model, digits.X_test[:8]
    original = snapshot(net)
    weights = find_sites(net)
    acts = find_sites(net, where="activation", X=X)
    faults = [Fault(s, index=s.size - 1, bit=b) for s in weights for b in (0, 30, 31)]
    faults += [Fault(s, index=0, bit=30) for s in acts]
    with pytest.raises(stop):
        with injected(net, faults):
            assert snapshot(net) != original
            raise stop("stop")
    assert snapshot(net) == original and _no_hooks(net)


def test_sklearn_linear_and_forest_restored_bit_for_bit(iris, snapshot) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    for est in (LogisticRegression(max_iter=500).fit(X, y),
                RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)):
        original, proba = snapshot(est), est.predict_proba(X)
        sites = find_sites(est)
        faults = [Fault(s, index=i, bit=b) for s in sites for i in (0, s.size - 1) for b in (52, 62, 63)]
        with pytest.raises(KeyboardInterrupt):
            with injected(est, faults):
                assert snapshot(est) != original
                raise KeyboardInterrupt
        assert snapshot(est) == original
        assert np.array_equal(est.predict_proba(X), proba)


def test_tree_threshold_flip_reaches_predictions_and_restores_exactly(iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    proba = tree.predict_proba(X)
    threshold = tree.tree_.threshold.copy()
    site = _site(tree, "tree_.threshold")
    # the root's threshold with its top exponent bit set: every sample goes left
    with injected(tree, [Fault(site, index=0, bit=62)]) as model:
        assert tree.tree_.threshold[0] > 1e300
        faulty = model.predict_proba(X)
        assert (faulty != proba).any()
        assert np.array_equal(faulty, np.broadcast_to(faulty[0], faulty.shape)) or \
            len(np.unique(faulty, axis=0)) < len(np.unique(proba, axis=0))
    assert tree.tree_.threshold.tobytes() == threshold.tobytes()
    assert np.array_equal(tree.predict_proba(X), proba)
    leaf = _site(tree, "tree_.value")
    first_leaf = int(np.flatnonzero(tree.tree_.children_left == -1)[0])
    with injected(tree, [Fault(leaf, index=first_leaf * 3, bit=None, kind="random_value",
                               value=5.0)]) as model:
        assert (model.predict_proba(X) != proba).any()
    assert np.array_equal(tree.predict_proba(X), proba)


def test_onnx_initializer_fault_changes_outputs_and_restores(onnx_path, snapshot) -> None:
    from shakeout.models import wrap

    model = wrap(onnx_path)
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    original, proba, file_bytes = snapshot(model), model.predict_proba(X), onnx_path.read_bytes()
    site = _site(model, "W2")
    with pytest.raises(RuntimeError):
        with Injector(model, [site]) as inj:
            inj.inject([Fault(site, index=0, bit=25)])
            assert not np.array_equal(model.predict_proba(X), proba)
            assert snapshot(model) != original
            raise RuntimeError
    assert np.array_equal(model.predict_proba(X), proba)
    assert snapshot(model) == original and onnx_path.read_bytes() == file_bytes


def test_injector_only_takes_its_own_sites_and_checks_faults(linear_net, iris) -> None:
    weight, bias = find_sites(linear_net)
    with pytest.raises(ValidationError, match="not among this injector's sites"):
        with Injector(linear_net, [weight]) as inj:
            inj.inject([Fault(bias, 0, 1)])
    other = torch.nn.Linear(5, 2)
    with pytest.raises(ValidationError, match="site 'weight' is not a weight of Linear"):
        Injector(other, [weight])
    with pytest.raises(ValidationError, match=r"bit 32 is outside a float32 value of site 'weight': "
                                              r"valid bits are 0 to 31"):
        Fault(weight, 0, 32)
    with pytest.raises(ValidationError, match="kind must be one of flip, stuck_at_0"):
        Fault(weight, 0, 1, kind="bridge")
    with pytest.raises(ValidationError, match="random_value' needs value="):
        Fault(weight, 0, None, kind="random_value")
    with pytest.raises(ValidationError, match="row must be None"):
        Fault(weight, 0, 1, row=-1)


def _inject_restore_seconds(net: torch.nn.Module, repeats: int = 2000) -> float:
    site = find_sites(net)[0]
    faults = [Fault(site, index=int(i), bit=30) for i in
              np.random.default_rng(0).integers(0, site.size, repeats)]
    with Injector(net, [site]) as inj:
        start = time.perf_counter()
        for fault in faults:
            inj.inject([fault])
            inj.restore()
        return (time.perf_counter() - start) / repeats


def test_inject_and_restore_cost_does_not_grow_with_the_tensor() -> None:
    small = torch.nn.Linear(4, 4)
    large = torch.nn.Linear(4000, 4000)              # 16 million weights: a copy takes ms
    small_cost = min(_inject_restore_seconds(small) for _ in range(3))
    large_cost = min(_inject_restore_seconds(large) for _ in range(3))
    assert large_cost < 3 * small_cost + 20e-6, (small_cost, large_cost)
