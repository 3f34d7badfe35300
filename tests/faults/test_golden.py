"""Golden replay: an unchanged pipeline replays bit for bit; a one-line preprocessing change
fails at the input (layer 0); a changed weight fails first at its own layer; another model is
refused; a model that is not torch is compared on its outputs and says so."""

from __future__ import annotations

import json
import math
from importlib import metadata

import numpy as np
import pandas as pd
import pytest

from shakeout.errors import ValidationError
from shakeout.faults.golden import load_golden, replay, save_golden

torch = pytest.importorskip("torch")


def _cnn(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 6 * 6, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 4))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return net.eval()


def _images(n: int = 20) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 1, 8, 8)).astype(np.float32)


def scale(x):
    return x / 255.0


def _layers(result):
    return [(f.feature, f.status) for f in result.select(group="layer")]


def _first(result):
    return result.select(metric="first_divergence")[0]


def test_the_unchanged_pipeline_replays_bit_for_bit(tmp_path):
    net = _cnn()
    save_golden(net, _images(), tmp_path, preprocess=scale, version="v1")
    result = replay(tmp_path, net, preprocess=scale, version="v1")
    assert result.status == "pass"
    names = [f.feature for f in result.select(group="layer")]
    assert names == ["input", "0", "1", "2", "3", "4", "5", "output"]  # execution order
    assert all(f.details["hash_equal"] for f in result.select(group="layer")[1:-1])
    assert math.isnan(_first(result).value) and _first(result).details["layer"] is None
    assert result.select(metric="weights_changed")[0].value == 0.0


def test_a_one_line_preprocessing_change_fails_at_the_input(tmp_path):
    net = _cnn()
    save_golden(net, _images(), tmp_path, preprocess=scale)
    result = replay(tmp_path, net, preprocess=lambda x: x / 256.0)  # the one-line change
    first = _first(result)
    assert result.status == "fail"
    assert (first.value, first.details["layer"]) == (0.0, "input")
    assert "layer 0" in first.message and "preprocessing" in first.message
    moved = result.select(group="layer", feature="input")[0]
    assert moved.value == pytest.approx(1 / 256, rel=1e-4)  # |x/256 - x/255| / |x/255|


def test_a_changed_weight_fails_first_at_its_own_layer(tmp_path):
    net = _cnn()
    save_golden(net, _images(), tmp_path, preprocess=scale)
    with torch.no_grad():
        net[3].weight[0] += 1.0  # every input of unit 0 now weighs more
    result = replay(tmp_path, net, preprocess=scale)
    assert _layers(result)[:4] == [("input", "pass"), ("0", "pass"), ("1", "pass"),
                                   ("2", "pass")]
    assert _first(result).details["layer"] == "3" and _first(result).value == 4
    assert result.select(metric="weights_changed")[0].status == "fail"


def test_a_difference_within_tolerance_passes_and_says_the_bytes_differ(tmp_path):
    net = _cnn()
    save_golden(net, _images(), tmp_path, preprocess=scale)
    with torch.no_grad():
        net[5].bias[0] = torch.nextafter(net[5].bias[0], torch.tensor(1.0))  # one ulp
    result = replay(tmp_path, net, preprocess=scale)
    last = result.select(group="layer", feature="5")[0]
    assert last.status == "pass" and not last.details["hash_equal"]
    assert "within tolerance" in last.message
    strict = replay(tmp_path, net, preprocess=scale, rtol=0.0, atol=0.0)
    assert _first(strict).details["layer"] == "5"


def test_a_golden_set_from_another_model_is_refused(tmp_path):
    save_golden(_cnn(), _images(), tmp_path, preprocess=scale)
    other = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    with pytest.raises(ValidationError, match=r"saved from another model \(Sequential, "
                                              r"fingerprint [0-9a-f]+\).*differs in its "
                                              r"tensors.*save a new golden set"):
        replay(tmp_path, other, preprocess=scale)


def test_a_module_run_twice_is_traced_each_time(tmp_path):
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.out = (torch.nn.Linear(3, 3), torch.nn.ReLU(),
                                           torch.nn.Linear(3, 2))

        def forward(self, x):
            return self.out(self.act(self.fc(self.act(x))))

    net = Twice().eval()
    x = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    save_golden(net, x, tmp_path)
    manifest, _ = load_golden(tmp_path)
    assert [layer["name"] for layer in manifest["layers"]] == ["act", "fc", "act#2", "out"]
    assert replay(tmp_path, net).status == "pass"


def test_a_model_that_is_not_torch_compares_outputs_only_and_says_so(tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"size": rng.normal(10, 3, 80), "colour": rng.choice(["red", "blue"], 80)})
    y = (raw["size"] > 10).astype(int)

    def encode(frame):
        return np.column_stack([frame["size"] / 10, frame["colour"] == "red"]).astype(float)

    clf = LogisticRegression().fit(encode(raw), y)
    save_golden(clf, raw, tmp_path, preprocess=encode)
    result = replay(tmp_path, clf, preprocess=encode)
    assert result.status == "pass" and _layers(result) == [("input", "pass"), ("output", "pass")]
    assert "Layers were not compared" in _first(result).message
    broken = replay(tmp_path, clf, preprocess=lambda f: encode(f) * [1.0, -1.0])
    assert _first(broken).details["layer"] == "input"
    changed = broken.select(metric="predictions_changed")[0]
    assert changed.value == pytest.approx(
        np.mean(clf.predict(encode(raw)) != clf.predict(encode(raw) * [1.0, -1.0])))


def test_the_manifest_records_what_the_issue_asks(tmp_path):
    net = _cnn()
    save_golden(net, _images(5), tmp_path, preprocess=scale, version="abc123", rtol=1e-4)
    manifest = json.loads((tmp_path / "golden.json").read_text())
    from shakeout.models import wrap

    assert manifest["model_fingerprint"] == wrap(net).fingerprint()
    assert manifest["preprocessing_version"] == "abc123"
    assert manifest["tolerances"] == {"rtol": 1e-4, "atol": 1e-7}
    assert manifest["environment"]["versions"]["torch"] == metadata.version("torch")
    assert all(len(layer["sha256"]) == 64 for layer in manifest["layers"])
    arrays = np.load(tmp_path / "golden.npz")
    np.testing.assert_array_equal(arrays["raw"], _images(5))
    np.testing.assert_array_equal(arrays["input"], scale(_images(5)))
    assert arrays["outputs"].shape == (5, 4)


def test_a_changed_version_is_reported_in_the_environment(tmp_path):
    net = _cnn()
    save_golden(net, _images(5), tmp_path, preprocess=scale, version="v1")
    env = replay(tmp_path, net, preprocess=scale, version="v2").select(
        metric="environment_changes")[0]
    assert env.details["changes"]["preprocessing_version"] == ["v1", "v2"]


def test_a_folder_without_a_golden_set_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"holds no golden set"):
        replay(tmp_path, _cnn())
    save_golden(_cnn(), _images(3), tmp_path)
    (tmp_path / "golden.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValidationError, match=r"not a golden set of format 1"):
        replay(tmp_path, _cnn())
