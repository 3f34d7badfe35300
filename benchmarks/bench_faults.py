"""Weight bit-flip campaign speed beside the floor and PyTorchFI.

One trained digits CNN (``shakeout.demo.digits_cnn``), ``--inputs`` test images, about
``--injections`` single weight bit flips (uniform over every weight element and bit):

- ``floor``: one batched forward pass over the inputs per injection and nothing else;
- ``shakeout``: :func:`shakeout.faults.run`, the whole campaign (population, sample,
  injection, forward, outcome, restore, findings);
- ``pytorchfi``: ``declare_weight_fi`` (PyTorchFI 0.6) with the flipped value, then the same
  forward pass (skipped where PyTorchFI is not installed: ``bash benchmarks/setup_env.sh``).

Restoring stays off the hot path: shakeout's Injector writes the one flipped element in place
through an integer view and saves its old word; restoring writes that word back (O(1) per
fault), with no copy of the model (PyTorchFI deep-copies the model per declared fault).

    .bench-venv/bin/python benchmarks/bench_faults.py                       # 10,000 x 256
    .bench-venv/bin/python benchmarks/bench_faults.py --injections 200 --inputs 32 --repeats 1
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, versions, write  # noqa: E402

from shakeout.demo import digits_cnn  # noqa: E402
from shakeout.faults import find_sites, leveugle_sample_size, run  # noqa: E402


def margin_for(N: int, injections: int, confidence: float) -> float:
    """The margin whose Leveugle sample size is the smallest at least ``injections``."""
    lo, hi = 1e-6, 0.5
    for _ in range(60):
        mid = (lo + hi) / 2
        if leveugle_sample_size(N, mid, confidence) >= injections:
            lo = mid
        else:
            hi = mid
    return lo


def floor(net: torch.nn.Module, x: torch.Tensor, injections: int) -> None:
    """One batched forward pass per injection: the cost no campaign can beat."""
    with torch.no_grad():
        for _ in range(injections):
            net(x).argmax(dim=1)


def pytorchfi_campaign(net: torch.nn.Module, x: torch.Tensor, faults: list[tuple]) -> object:
    """The same flips through PyTorchFI, or None where it is missing."""
    try:
        core = importlib.import_module("pytorchfi.core")
    except Exception:  # noqa: BLE001 - a missing or broken peer is skipped
        return None

    def campaign() -> None:
        fi = core.fault_injection(net, batch_size=len(x), input_shape=list(x.shape[1:]),
                                  layer_types=[torch.nn.Conv2d, torch.nn.Linear], use_cuda=False)
        for layer, idx, value in faults:
            dims = list(idx) + [None] * (4 - len(idx))
            faulty = fi.declare_weight_fi(
                layer_num=[layer], k=[dims[0]], dim1=[dims[1]], dim2=[dims[2]], dim3=[dims[3]],
                value=[value])
            with torch.no_grad():
                faulty(x).argmax(dim=1)

    return campaign


def flips(net: torch.nn.Module, count: int, seed: int) -> list[tuple]:
    """``count`` random (layer number, index, flipped value) weight bit flips."""
    rng = np.random.default_rng(seed)
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    out = []
    for _ in range(count):
        layer = int(rng.integers(len(layers)))
        w = layers[layer].weight.detach().numpy()
        idx = tuple(int(rng.integers(s)) for s in w.shape)
        word = np.array([w[idx]], dtype=np.float32).view(np.uint32) ^ np.uint32(
            1 << int(rng.integers(32)))
        out.append((layer, idx, float(word.view(np.float32)[0])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=256)
    parser.add_argument("--injections", type=int, default=10_000)
    parser.add_argument("--confidence", type=float, default=0.99)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="faults")
    args = parser.parse_args()

    trained = digits_cnn(seed=0)
    net = trained.model.eval()
    X, y = trained.X_test[:args.inputs], trained.y_test[:args.inputs]
    x = torch.from_numpy(X)
    N = sum(s.size * s.bits for s in find_sites(net))
    margin = margin_for(N, args.injections, args.confidence)
    n = leveugle_sample_size(N, margin, args.confidence)
    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: floor(net, x, n),
        "shakeout": lambda: run(net, X, y, margin=margin, confidence=args.confidence,
                                exhaustive_max=1, seed=0),
    }
    fi = pytorchfi_campaign(net, x, flips(net, n, 0))
    if fi is not None:
        runs["pytorchfi"] = fi
    floor(net, x, 300)  # warm-up, not timed: the first thousands of passes run slower
    median, _ = interleaved(runs, args.repeats)
    path = write(args.out, {"settings": vars(args), "population": N, "injections": n,
                            "figures": {"seconds": median, "ratio_to_floor": {
                                k: v / median["floor"] for k, v in median.items()}},
                            "versions": versions("pytorchfi"),
                            "threads": torch.get_num_threads()})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
