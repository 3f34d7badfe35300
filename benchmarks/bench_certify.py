"""CERTIFY speed beside the floor and IBM ART's randomized smoothing.

One trained digits CNN (``shakeout.demo.digits_cnn``), ``--inputs`` test images, Gaussian noise
``sigma``, ``n0`` selection and ``n`` estimation passes per input, the same batch size for all:

- ``shakeout``: :func:`shakeout.certify.certify`;
- ``floor``: the same number of batched noisy forward passes (``inputs * (n0 + n)``) and
  nothing else: one batch of repeated inputs, noise added, the model, an argmax;
- ``art``: ``PyTorchRandomizedSmoothing.certify`` on the same model and inputs (skipped where
  ART is not installed; ART draws its noise with numpy's global generator).

Each time is the median of interleaved repeats; certified radii are compared (same class,
mean absolute difference of radii). Results go to ``benchmarks/results/certify.json``.

    .bench-venv/bin/python benchmarks/bench_certify.py                 # 100 inputs, n=10,000
    .bench-venv/bin/python benchmarks/bench_certify.py --inputs 5 --n 500 --repeats 1  # check
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

from shakeout.certify import certify  # noqa: E402
from shakeout.demo import digits_cnn  # noqa: E402


def floor(net: torch.nn.Module, x: torch.Tensor, passes: int, sigma: float, batch_size: int,
          gen: torch.Generator) -> None:
    """``passes`` noisy forward passes in full batches: the cost no certifier can beat."""
    batch = x[torch.arange(batch_size) % len(x)]
    with torch.no_grad():
        for start in range(0, passes, batch_size):
            rows = batch[:min(batch_size, passes - start)]
            net(rows + sigma * torch.randn(rows.shape, generator=gen)).argmax(dim=1)


def art_certifier(net: torch.nn.Module, shape: tuple[int, ...], sigma: float, n0: int,
                  alpha: float) -> object | None:
    try:
        module = importlib.import_module(
            "art.estimators.certification.randomized_smoothing")
    except Exception:  # noqa: BLE001 - a missing or broken peer is skipped
        return None
    return module.PyTorchRandomizedSmoothing(
        model=net, loss=torch.nn.CrossEntropyLoss(), input_shape=shape, nb_classes=10,
        device_type="cpu", sample_size=n0, scale=sigma, alpha=alpha)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="certify")
    args = parser.parse_args()

    trained = digits_cnn(seed=0)
    net = trained.model.eval()
    X = trained.X_test[:args.inputs]
    x = torch.from_numpy(X)
    passes = args.inputs * (args.n0 + args.n)
    art = art_certifier(net, X.shape[1:], args.sigma, args.n0, args.alpha)
    gen = torch.Generator().manual_seed(0)

    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: floor(net, x, passes, args.sigma, args.batch_size, gen),
        "shakeout": lambda: certify(net, X, sigma=args.sigma, n0=args.n0, n=args.n,
                                    alpha=args.alpha, batch_size=args.batch_size, seed=0),
    }
    if art is not None:
        runs["art"] = lambda: art.certify(X, n=args.n, batch_size=args.batch_size)
    floor(net, x, args.batch_size, args.sigma, args.batch_size, gen)  # warm-up, not timed
    median, outputs = interleaved(runs, args.repeats)
    ours = outputs["shakeout"]
    figures = {"seconds": median, "ratio_to_floor": {k: v / median["floor"]
                                                     for k, v in median.items()},
               "passes": passes,
               "certified_share": float(np.mean(~ours.abstained)),
               "median_radius": float(np.median(ours.radius))}
    if art is not None:
        art_pred, art_radius = outputs["art"]
        figures["art"] = {"same_class": float(np.mean(art_pred == ours.prediction)),
                          "mean_abs_radius_difference": float(np.mean(
                              np.abs(art_radius - ours.radius))),
                          "ratio_to_shakeout": median["art"] / median["shakeout"]}
    path = write(args.out, {"settings": vars(args), "figures": figures,
                            "versions": versions("adversarial-robustness-toolbox"),
                            "threads": torch.get_num_threads()})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
