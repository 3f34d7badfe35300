"""Write faults into a model and put back exactly what was there.

A weight fault changes one stored element in place (torch parameter, scikit-learn array)
after saving that element's bits; :meth:`Injector.restore` writes the saved bits back, last
first, so restoring costs one write per fault and never a copy of the model. An activation
fault is a forward hook on its module that changes the element in the module's output (every
input for a permanent fault, one input row for a transient one); restoring removes the hook.
An ONNX model's initializers live inside its onnxruntime session: a weight fault builds a new
session over the changed initializer (``SessionOptions.add_initializer``), which costs one
session build per :meth:`Injector.inject` call (milliseconds: the graph is optimised again),
and restoring puts the original session back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout.errors import ValidationError
from shakeout.faults.sites import Site, weight_targets
from shakeout.models import wrap
from shakeout.models._base import Model
from shakeout.perturb.bits import flip, set_bits, stuck

KINDS = ("flip", "stuck_at_0", "stuck_at_1", "random_value")


@dataclass(frozen=True)
class Fault:
    """One fault at one element of one site.

    Attributes
    ----------
    site : Site
    index : int
        Flat element index in the site (per input for an activation).
    bit : int or None
        Bit position, 0 the least significant; None for ``"random_value"``.
    kind : {"flip", "stuck_at_0", "stuck_at_1", "random_value"}
    value : float or None
        What ``"random_value"`` writes.
    row : int or None
        None: permanent, every input sees it. An int: transient, only input ``row`` of each
        forward pass sees an activation fault (the campaign passes its inputs in one batch);
        a weight fault is written for as long as it is injected, so a campaign evaluates the
        row alone.

    Examples
    --------
    >>> site = Site("w", "weight", "Linear", "float32", (2, 2), 4, 32)
    >>> Fault(site, index=3, bit=30).kind
    'flip'
    >>> Fault(site, index=4, bit=30)
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: Fault: index 4 is outside site 'w' of 4 elements (0 to 3).
    """

    site: Site
    index: int
    bit: int | None
    kind: str = "flip"
    value: float | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(
                f"Fault: kind must be one of {', '.join(KINDS)}, got {self.kind!r}.")
        if not 0 <= self.index < self.site.size:
            raise ValidationError(
                f"Fault: index {self.index} is outside site {self.site.name!r} of "
                f"{self.site.size} elements (0 to {self.site.size - 1}).")
        if self.kind == "random_value":
            if self.value is None:
                raise ValidationError(
                    "Fault: kind 'random_value' needs value=, the number written.")
        elif self.bit is None or not 0 <= self.bit < self.site.bits:
            raise ValidationError(
                f"Fault: bit {self.bit} is outside a {self.site.dtype} value of site "
                f"{self.site.name!r}: valid bits are 0 to {self.site.bits - 1}.")
        if self.row is not None and self.row < 0:
            raise ValidationError(f"Fault: row must be None (permanent) or >= 0, got {self.row}.")


class _Words:
    """The stored bits of one weight array, element by element, as unsigned integers.

    Elements are addressed by their flat index in C order; an array in another layout (a
    Fortran-ordered ``coef_``) is read and written where it lies, through its own strides.
    """

    def __init__(self, site: Site, array: Any):
        self.width = site.bits
        self.shape = tuple(array.shape)
        self.signed = False
        if hasattr(array, "detach"):  # a torch parameter: a signed integer view of its storage
            import torch

            signed = {8: torch.int8, 16: torch.int16, 32: torch.int32, 64: torch.int64}
            self.values = array.detach()
            self.ints = self.values.view(signed[self.width])
            flat = self.values.is_contiguous()
            if self.values.device.type == "cpu":  # numpy reads one element 20x faster
                self.ints = self.ints.numpy().view(f"u{self.width // 8}")
            else:
                self.signed = True
        else:
            if not array.flags.writeable:
                raise ValidationError(f"Injector: array {site.name!r} is read-only, so a fault "
                                      "cannot be written in place.")
            self.values = array
            self.ints = array.view(f"u{self.width // 8}")
            flat = array.flags.c_contiguous
        if flat:
            self.values, self.ints = self.values.reshape(-1), self.ints.reshape(-1)
        self.flat = flat

    def _at(self, i: int) -> Any:
        return i if self.flat else tuple(int(n) for n in np.unravel_index(i, self.shape))

    def get(self, i: int) -> int:
        return int(self.ints[self._at(i)]) & ((1 << self.width) - 1)

    def set(self, i: int, word: int) -> None:
        if self.signed and word >> (self.width - 1):
            word -= 1 << self.width
        self.ints[self._at(i)] = word

    def write(self, i: int, fault: Fault) -> None:
        """Apply ``fault`` to element ``i`` (its bits were saved by the caller)."""
        if fault.kind == "random_value":
            self.values[self._at(i)] = fault.value
        else:
            self.set(i, set_bits(self.get(i), 1 << fault.bit, fault.kind))


class Injector:
    """Inject faults into a model and restore it bit for bit.

    Resolves the sites once; then :meth:`inject` costs O(1) per weight fault (one element
    read, saved and written) and one hook per activation layer, and :meth:`restore` one write
    per fault. As a context manager it restores on leaving, also after an exception or
    KeyboardInterrupt.

    Parameters
    ----------
    model : any model :func:`shakeout.wrap` takes
        Torch, scikit-learn or ONNX.
    sites : sequence of Site
        The sites faults may hit, from :func:`~shakeout.faults.find_sites` on this model.

    Attributes
    ----------
    model : Model
        The wrapped model whose predictions see the injected faults.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.faults import Fault, find_sites
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.fill_(0.5)
    >>> site = find_sites(net, layers=["weight"])[0]
    >>> with Injector(net, [site]) as inj:
    ...     inj.inject([Fault(site, index=1, bit=30)])
    ...     float(net.weight.detach()[0, 1])
    1.7014118346046923e+38
    >>> float(net.weight.detach()[0, 1])
    0.5
    """

    def __init__(self, model: Any, sites: Sequence[Site]):
        self.model: Model = wrap(model)
        self.sites = tuple(sites)
        self._saved: list[tuple[_Words, int, int]] = []
        self._hooks: list[Any] = []
        self._words: dict[str, _Words] = {}
        self._modules: dict[str, Any] = {}
        self._onnx: _OnnxWeights | None = None
        self._resolve()

    def _resolve(self) -> None:
        weights = [s for s in self.sites if s.where == "weight"]
        if weights:
            live = {site.name: (site, array) for site, array in weight_targets(self.model)}
            for site in weights:
                found, array = live.get(site.name, (None, None))
                if found is None or (found.dtype, found.size) != (site.dtype, site.size):
                    raise ValidationError(
                        f"Injector: site {site.name!r} is not a weight of {self.model.name}; "
                        "list its sites with find_sites(model).")
                if found.layer_type.startswith("onnx:"):
                    self._onnx = self._onnx or _OnnxWeights(self.model, live)
                else:
                    self._words[site.name] = _Words(site, array)
        for site in self.sites:
            if site.where == "activation":
                self._modules[site.name] = _module(self.model, site)

    def inject(self, faults: Sequence[Fault]) -> None:
        """Write ``faults`` into the model (on top of any injected before)."""
        by_layer: dict[str, list[Fault]] = {}
        onnx: list[Fault] = []
        for fault in faults:
            name = fault.site.name
            if fault.site.where == "activation" and name in self._modules:
                by_layer.setdefault(name, []).append(fault)
            elif name in self._words:
                words = self._words[name]
                self._saved.append((words, fault.index, words.get(fault.index)))
                words.write(fault.index, fault)
            elif self._onnx is not None and name in self._onnx.names:
                onnx.append(fault)
            else:
                raise ValidationError(f"Injector: fault at {fault.site.where} site {name!r}, which "
                                      "is not among this injector's sites.")
        for name, layer_faults in by_layer.items():
            hook = _activation_hook(fault_table(layer_faults), name)
            self._hooks.append(self._modules[name].register_forward_hook(hook))
        if onnx:
            self._onnx.inject(onnx)

    def restore(self) -> None:
        """Put back every saved element, last first, and remove every hook."""
        while self._hooks:
            self._hooks.pop().remove()
        while self._saved:
            words, index, word = self._saved[-1]
            words.set(index, word)
            self._saved.pop()
        if self._onnx is not None:
            self._onnx.restore()

    def __enter__(self) -> "Injector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()


@contextmanager
def injected(model: Any, faults: Sequence[Fault]) -> Iterator[Model]:
    """The model with ``faults`` injected for the ``with`` block, restored after it.

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.faults import Fault, find_sites
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = [0, 0, 1, 1]
    >>> clf = LogisticRegression().fit(X, y)
    >>> coef = find_sites(clf, layers=["coef_"])[0]
    >>> with injected(clf, [Fault(coef, 0, bit=63)]) as model:   # the sign bit
    ...     model.predict(X).tolist()
    [1, 1, 0, 0]
    >>> clf.predict(X).tolist()
    [0, 0, 1, 1]
    """
    faults = list(faults)
    with Injector(model, list(dict.fromkeys(f.site for f in faults))) as injector:
        injector.inject(faults)
        yield injector.model


def fault_table(faults: Sequence[Fault]) -> list[tuple[int, int | None, Any]]:
    """``(index, row, change)`` per fault: ``change(values)`` gives the faulty values."""
    return [(f.index, f.row, _change(f)) for f in faults]


def _change(fault: Fault) -> Any:
    if fault.kind == "flip":
        return lambda values: flip(values, fault.bit)
    if fault.kind == "random_value":
        return lambda values: values.new_full(values.shape, fault.value)
    return lambda values: stuck(values, fault.bit, to=int(fault.kind[-1]))


def _activation_hook(table: list[tuple[int, int | None, Any]], name: str) -> Any:
    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        import torch

        out = output.clone(memory_format=torch.contiguous_format)
        flat = out.view(out.shape[0], -1)
        for index, row, change in table:
            if index >= flat.shape[1]:
                raise ValidationError(
                    f"activation fault at element {index} of layer {name!r}, whose output has "
                    f"{flat.shape[1]} elements per input: find the sites on inputs of this shape.")
            rows = slice(None) if row is None else slice(row, row + 1)
            flat[rows, index] = change(flat[rows, index])
        return out
    return hook


def _module(model: Model, site: Site) -> Any:
    module = model.capabilities.module
    if module is None or not model.capabilities.representations:
        raise ValidationError(f"activation faults need a torch nn.Module (forward hooks); got "
                              f"{model.name}.")
    names = dict(module.named_modules())
    if site.name not in names:
        raise ValidationError(f"Injector: {model.name} has no layer {site.name!r}; list its "
                              "activation sites with find_sites(model, where='activation', X=X).")
    return names[site.name]


class _OnnxWeights:
    """Faulty initializers of an ONNX model, run through a session built over them."""

    def __init__(self, model: Model, live: dict[str, tuple[Site, Any]]):
        self.model = model
        self.names = {name for name, (site, _) in live.items()
                      if site.layer_type.startswith("onnx:")}
        self.originals = {name: live[name][1] for name in self.names}
        self.changed: dict[str, np.ndarray] = {}
        self.session = None  # the model's own session while a faulty one runs
        self.path = str(model.path)

    def inject(self, faults: Sequence[Fault]) -> None:
        import onnxruntime as ort

        for fault in faults:
            name = fault.site.name
            array = self.changed.setdefault(name, self.originals[name].copy())
            _Words(fault.site, array).write(fault.index, fault)
        options = ort.SessionOptions()
        self.values = [ort.OrtValue.ortvalue_from_numpy(a) for a in self.changed.values()]
        for name, value in zip(self.changed, self.values):
            options.add_initializer(name, value)
        if self.session is None:
            self.session = self.model.session
        self.model.session = ort.InferenceSession(self.path, options,
                                                  providers=["CPUExecutionProvider"])

    def restore(self) -> None:
        if self.session is not None:
            self.model.session, self.session = self.session, None
        self.changed = {}
