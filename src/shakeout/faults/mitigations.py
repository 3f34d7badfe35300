"""Mitigations a fault campaign measures on the same faults: activation range restriction,
redundant execution with comparison, protection of the most critical bits or layers.

A mitigation either changes what the faulty model computes (range restriction: the campaign
runs every fault again with it on) or changes what an outcome means (redundant execution
turns a detected corruption into a detected error; protection masks the faults it covers),
without running anything again. :func:`shakeout.faults.run` pairs each mitigation's
outcomes with the unmitigated ones fault by fault.

Examples
--------
>>> [m.name for m in resolve(["range_restriction", "redundant_execution", "protection"])]
['range_restriction', 'redundant_execution', 'protection']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from shakeout.errors import NotFittedError, ValidationError
from shakeout.faults.outcomes import DUE, MASKED, is_sdc


class Mitigation:
    """A fault mitigation: ``name``, whether the campaign must ``rerun`` the faults with it,
    the ``extra_passes`` (forward passes) it adds per inference, and what it does to the
    outcomes."""

    name = "mitigation"
    rerun = False
    extra_passes = 0

    def fit(self, model: Any, X: Any) -> "Mitigation":
        """Learn what the mitigation needs from fault-free runs (nothing by default)."""
        return self

    @contextmanager
    def installed(self, model: Any) -> Iterator[None]:
        """The mitigation active on ``model`` (nothing to install by default)."""
        yield

    def outcomes(self, codes: np.ndarray, differs: np.ndarray, faults: Sequence[Any],
                 transient: bool) -> np.ndarray:
        """The outcome codes once the mitigation has acted (unchanged by default)."""
        return codes

    def cost(self, faults: Sequence[Any], sites: Sequence[Any]) -> dict[str, Any]:
        """What the mitigation costs beyond time, in words and numbers (nothing by default)."""
        return {}


class RangeRestriction(Mitigation):
    """Clip every layer's values to the range profiled on fault-free data (Chen, Li,
    Pattabiraman et al. 2021, "A low-cost fault corrector for deep neural networks through
    range restriction", DSN: "Ranger").

    :meth:`fit` runs the inputs through the model and records, per leaf module, the lowest
    and highest value entering it, and the range of the model's output. Installed, a
    forward pre-hook clips each module's input to its range (NaN to 0, then clipped; +-inf to
    the bounds) and a forward hook clips the output: a fault that makes a value huge is
    clipped where the next layer reads it. On the profiled inputs the clipping changes
    nothing, so fault-free outputs stay bit for bit. The model itself is never changed.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.models import wrap
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    >>> x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    >>> rr = RangeRestriction().fit(wrap(net), x)
    >>> sorted(rr.bounds_)
    ['', '0', '1', '2']
    >>> with rr.installed(wrap(net)):
    ...     out = net(torch.full((1, 2), 1e30))
    >>> bool(out.abs().max() <= max(abs(v) for v in rr.bounds_[""]))
    True
    """

    name = "range_restriction"
    rerun = True

    def fit(self, model: Any, X: Any) -> "RangeRestriction":
        from shakeout.models import wrap
        from shakeout.models.runtime import torch_module

        model = wrap(model)
        module = torch_module(model, "RangeRestriction")
        seen: dict[str, list[float]] = {}

        def record(name: str, value: Any) -> None:
            if hasattr(value, "detach") and value.is_floating_point() and value.numel():
                finite = value.detach()[value.detach().isfinite()]
                if finite.numel():
                    lo, hi = float(finite.min()), float(finite.max())
                    old = seen.get(name, [lo, hi])
                    seen[name] = [min(old[0], lo), max(old[1], hi)]

        hooks = [m.register_forward_pre_hook(lambda _m, args, name=name: record(name, args[0]))
                 for name, m in _leaves(module) if name]
        hooks.append(module.register_forward_hook(lambda _m, _a, out: record("", out)))
        try:
            model.predict_proba(X) if model.task == "classification" else model.predict(X)
        finally:
            for h in hooks:
                h.remove()
        self.bounds_ = {k: (v[0], v[1]) for k, v in seen.items()}
        return self

    @contextmanager
    def installed(self, model: Any) -> Iterator[None]:
        from shakeout.models import wrap
        from shakeout.models.runtime import torch_module

        if not hasattr(self, "bounds_"):
            raise NotFittedError("RangeRestriction: call fit(model, X) on fault-free data first.")
        module = torch_module(wrap(model), "RangeRestriction")
        hooks = []
        for name, m in _leaves(module):
            if name and name in self.bounds_:
                lo, hi = self.bounds_[name]
                hooks.append(m.register_forward_pre_hook(
                    lambda _m, args, lo=lo, hi=hi: (_clip(args[0], lo, hi), *args[1:])))
        if "" in self.bounds_:
            lo, hi = self.bounds_[""]
            hooks.append(module.register_forward_hook(
                lambda _m, _a, out, lo=lo, hi=hi: _clip(out, lo, hi)))
        try:
            yield
        finally:
            for h in hooks:
                h.remove()


def _leaves(module: Any) -> list[tuple[str, Any]]:
    """Named modules without children (the layers values flow through)."""
    return [(n, m) for n, m in module.named_modules() if not any(True for _ in m.children())]


def _clip(value: Any, lo: float, hi: float) -> Any:
    """``value`` clipped to ``[lo, hi]`` (NaN to 0 first); the tensor itself, untouched, when
    every value is already in range, so fault-free runs stay bit for bit."""
    if not (hasattr(value, "clamp") and value.is_floating_point()):
        return value
    if bool(((value >= lo) & (value <= hi)).all()):  # NaN fails both comparisons
        return value
    import torch

    return torch.nan_to_num(value, nan=0.0, posinf=hi, neginf=lo).clamp(lo, hi)


class RedundantExecution(Mitigation):
    """Run each inference twice and compare the outputs bit for bit; a difference is a
    detected error (the inference is repeated or refused), not a silent one.

    A transient fault strikes one execution only, so every corruption it causes is
    detected: its SDC becomes a DUE. A permanent fault (a corrupted weight in memory, a
    stuck bit) strikes both executions alike and is **not** detected: the outcomes of a
    permanent-fault campaign do not change. The cost is a second forward pass per inference.

    >>> import numpy as np
    >>> codes, differs = np.array([0, 1, 2, 3]), np.array([False, True, True, True])
    >>> RedundantExecution().outcomes(codes, differs, [], transient=True).tolist()
    [0, 3, 3, 3]
    >>> RedundantExecution().outcomes(codes, differs, [], transient=False).tolist()
    [0, 1, 2, 3]
    """

    name = "redundant_execution"
    extra_passes = 1

    def outcomes(self, codes: np.ndarray, differs: np.ndarray, faults: Sequence[Any],
                 transient: bool) -> np.ndarray:
        if not transient:
            return codes
        return np.where(differs & (codes != MASKED), DUE, codes)


class Protection(Mitigation):
    """Protect chosen bit positions or layers (ECC or triple modular redundancy on them):
    faults there are masked.

    Parameters
    ----------
    bits : sequence of int, optional
        Bit positions protected in every site (0 the least significant). By default the
        bit below the sign bit: the top exponent bit of a float (30 for float32), whose flip
        multiplies a value by about 2^128 and causes most SDCs.
    layers : sequence of str, optional
        Sites protected whole (every bit), by name.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> site = SimpleNamespace(name="fc.weight", bits=32, size=10)
    >>> faults = [SimpleNamespace(site=site, bit=b) for b in (30, 3)]
    >>> Protection().outcomes(np.array([2, 1]), np.array([True, True]), faults, False).tolist()
    [0, 1]
    >>> Protection().cost(faults, [site])["protected_share"]
    0.03125
    """

    name = "protection"

    def __init__(self, *, bits: Sequence[int] | None = None,
                 layers: Sequence[str] | None = None):
        self.bits = None if bits is None else tuple(int(b) for b in bits)
        self.layers = tuple(layers or ())

    def _bits(self, site: Any) -> tuple[int, ...]:
        return self.bits if self.bits is not None else (site.bits - 2,)

    def covers(self, fault: Any) -> bool:
        """Whether ``fault`` falls on a protected bit or layer."""
        return fault.site.name in self.layers or (fault.bit is not None
                                                   and fault.bit in self._bits(fault.site))

    def outcomes(self, codes: np.ndarray, differs: np.ndarray, faults: Sequence[Any],
                 transient: bool) -> np.ndarray:
        covered = np.array([self.covers(f) for f in faults], dtype=bool)
        return np.where(covered, MASKED, codes)

    def cost(self, faults: Sequence[Any], sites: Sequence[Any]) -> dict[str, Any]:
        total = sum(s.size * s.bits for s in sites)
        guarded = sum(s.size * (s.bits if s.name in self.layers
                                else sum(0 <= b < s.bits for b in self._bits(s)))
                      for s in sites)
        return {"protected_bits": "width - 2 (the top exponent bit)" if self.bits is None
                else list(self.bits), "protected_layers": list(self.layers),
                "protected_share": guarded / total if total else 0.0}


MITIGATIONS = {"range_restriction": RangeRestriction, "redundant_execution": RedundantExecution,
               "protection": Protection}
"""The mitigations by name."""


def resolve(mitigations: Sequence[str | Mitigation]) -> list[Mitigation]:
    """Mitigation objects from names or objects; an unknown name is refused naming the
    known ones."""
    out: list[Mitigation] = []
    for m in mitigations:
        if isinstance(m, Mitigation):
            out.append(m)
        elif m in MITIGATIONS:
            out.append(MITIGATIONS[m]())
        else:
            raise ValidationError(f"faults: unknown mitigation {m!r}; choose from "
                                  f"{', '.join(MITIGATIONS)}.")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValidationError(f"faults: each mitigation once, got {names}.")
    return out


def sdc_removed(before: np.ndarray, after: np.ndarray) -> tuple[int, int]:
    """Discordant pairs: faults that were an SDC only before, and only after.

    >>> sdc_removed(np.array([1, 2, 0, 0]), np.array([0, 2, 1, 0]))
    (1, 1)
    """
    b, a = is_sdc(before), is_sdc(after)
    return int(np.sum(b & ~a)), int(np.sum(a & ~b))


__all__ = ["MITIGATIONS", "Mitigation", "Protection", "RangeRestriction", "RedundantExecution",
           "resolve", "sdc_removed"]
