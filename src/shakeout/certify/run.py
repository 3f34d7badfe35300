"""``certify.run``: the certification drill: certified accuracy against radius, with exact
intervals, the median certified radius and the soundness check."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shakeout._validation import (Seed, as_generator, check_choice, check_grid, check_number,
                                  check_open_interval, check_positive_int)
from shakeout.certify.findings import DRILL, findings, soundness_finding
from shakeout.certify.smoothing import NORMS, certify, check_counts, inputs
from shakeout.certify.soundness import soundness
from shakeout.errors import ValidationError
from shakeout.fingerprint import fingerprint
from shakeout.models import wrap
from shakeout.report.result import Manifest, Result

GRIDS = {"l2": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0), "l1": (0.0, 0.25, 0.5, 0.75, 1.0)}
"""Default radii as multiples of ``sigma``: an L2 certificate from ``n = 100,000`` passes
reaches about ``3.8 sigma``, an L1 one under uniform noise at most ``sigma``."""


def run(model: Any, X: Any, y: Any, *, sigma: float = 0.25, norm: str = "l2",
        relative: bool = False, n0: int = 100, n: int = 100_000, alpha: float = 0.001,
        radii: Sequence[float] | float | None = None, level: float = 0.95,
        batch_size: int = 4096, shard_size: int = 100, sanity: bool = True,
        sanity_steps: int = 20, sanity_samples: int = 16, sanity_n: int | None = None,
        seed: Seed = 0, quiet: bool = True, data_name: str = "data") -> Result:
    """Certify a torch classifier by randomized smoothing and report certified accuracy.

    Findings, all with ``drill="certify"``:

    - per radius of ``radii`` (group ``smoothed``, ``severity`` the radius):
      ``certified_accuracy``, the share of inputs the smoothed classifier gets right with a
      certificate of at least that radius, with its exact Clopper-Pearson interval over the
      inputs (a gate's ``min`` judges its lower bound);
    - ``median_certified_radius``: the median radius, 0 where the smoothed classifier
      abstains or is wrong, with its distribution-free interval;
    - ``abstention_rate``, whose ``details["inputs"]`` hold each input's label, prediction
      (None where it abstained), lower bound ``p_lower`` and radius;
    - with ``sanity``, ``broken_certificates`` (group ``soundness``): the certificates that
      an attack on the smoothed classifier within their radius broke, ``fail`` beyond the
      rate sound certificates allow (:mod:`shakeout.certify.soundness`).

    Each certificate is wrong with probability at most ``alpha``; the intervals describe
    the sampling of the inputs.

    Parameters
    ----------
    model : a torch classifier (an ``nn.Module`` or a wrapped one)
    X, y : inputs (array of any shape, or numeric DataFrame) and labels
    sigma, norm, relative, n0, n, alpha, batch_size, shard_size
        As :func:`~shakeout.certify.certify`: ``sigma`` is the Gaussian's standard deviation
        (L2) or the uniform noise's half-width (L1), in input units, or in units of each
        feature's standard deviation with ``relative`` (the findings' ``unit`` says which).
    radii : float or increasing list of floats, or None
        Radii of the certified-accuracy curve, in the radius's units; None for
        :data:`GRIDS` times ``sigma``.
    level : float, default=0.95
        Confidence level of every interval.
    sanity : bool, default=True
        Run the soundness check.
    sanity_steps, sanity_samples : int, default=20, 16
        Its PGD iterations and noise draws per step.
    sanity_n : int or None
        Noisy passes that test each point it found; None for ``min(n, 10_000)``.
    seed : int, Generator or None
    quiet : bool, default=True
        Hide the progress bar.
    data_name : str, default="data"

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.certify import run
    >>> net = torch.nn.Linear(1, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
    >>> X = np.linspace(-1, 1, 40, dtype=np.float32)[:, None]
    >>> result = run(net, X, (X[:, 0] > 0).astype(int), sigma=0.5, n=2_000, radii=[0, 0.5],
    ...              seed=0)
    >>> [(f.severity, f.value) for f in result.select(metric="certified_accuracy")]
    [(0.0, 0.925), (0.5, 0.475)]
    >>> float(np.mean(np.abs(X[:, 0]) >= 0.5))  # the share truly robust at 0.5: an upper limit
    0.5
    >>> result.select(metric="broken_certificates")[0].status
    'pass'
    """
    started = time.perf_counter()
    check_number("certify.run", "sigma", sigma, 0, low_open=True)
    check_choice("certify.run", "norm", norm, NORMS)
    check_counts("certify.run", n0, n, alpha)
    check_open_interval("certify.run", "level", level, 0, 1)
    check_choice("certify.run", "sanity", sanity, (True, False))
    sanity_n = min(n, 10_000) if sanity_n is None else sanity_n
    check_positive_int("certify.run", "sanity_n", sanity_n)
    grid = check_grid("certify.run", "radii",
                      tuple(sigma * r for r in GRIDS[norm]) if radii is None else radii)
    model = wrap(model)
    x = inputs(X)
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValidationError(f"certify.run: y must be one label per row of X ({len(x)}), got "
                              f"shape {labels.shape}.")
    codes = model.encode_labels(labels)
    rng_cert, rng_check = as_generator(seed, owner="certify.run").spawn(2)
    cert = certify(model, x, sigma=sigma, norm=norm, relative=relative, n0=n0, n=n,
                   alpha=alpha, batch_size=batch_size, shard_size=shard_size, seed=rng_cert,
                   quiet=quiet)
    timings = {"certify_s": time.perf_counter() - started}
    seen = int(max(codes.max(), cert.prediction.max())) + 1  # a class no label holds, too
    classes = model.classes_ if model.classes_ is not None else np.arange(seen)
    found = findings(cert, codes, labels, np.asarray(classes), grid, level, n=n)
    if sanity:
        t = time.perf_counter()
        check = soundness(model, x, cert, steps=sanity_steps, samples=sanity_samples,
                          n=sanity_n, batch_size=batch_size, seed=rng_check)
        found.append(soundness_finding(check, alpha, level, cert.unit))
        timings["soundness_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=model.name,
        model_fingerprint=model.fingerprint(), data=data_name, data_fingerprint=fingerprint(x),
        n_rows=len(x), timings=timings,
        parameters={"drill": DRILL, "sigma": sigma, "norm": norm, "noise": cert.unit,
                    "relative": relative, "n0": n0, "n": n, "alpha": alpha,
                    "radii": list(grid), "level": level, "batch_size": batch_size,
                    "shard_size": shard_size, "sanity": sanity, "sanity_steps": sanity_steps,
                    "sanity_samples": sanity_samples, "sanity_n": sanity_n})
    return Result(title=f"Certified robustness of {model.name} ({data_name})",
                  findings=tuple(found), manifest=manifest)
