"""The torch runtime every pillar shares: one inference context, seeded torch generators, a
model with another module, the noise (Gaussian or uniform, a scale per feature or one for
all), and many noisy forward passes counted.

Attacks, model-side perturbations, randomized smoothing, MC dropout and fault campaigns all
run torch the same way: the module in a stated mode (eval or train), its parameters frozen or
not, gradients on or off, and the caller's settings back afterwards, whatever happened in
between. Random draws use a ``torch.Generator`` seeded from the caller's numpy generator: the
global torch seed is never changed.

Examples
--------
>>> import numpy as np, torch
>>> from shakeout.models import wrap
>>> from shakeout.models.runtime import gaussian, inference, repeat_forward
>>> net = torch.nn.Linear(1, 2)
>>> with torch.no_grad():
...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
>>> with inference(wrap(net), grad=False) as module:
...     module.training
False
>>> counts = repeat_forward(wrap(net), np.array([[0.0], [1.0]], dtype=np.float32), 1000,
...                         noise=gaussian(1.0), seed=0)
>>> counts.sum(axis=1).tolist(), bool(counts[1, 1] > counts[0, 1])
([1000, 1000], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

from shakeout._validation import (Seed, as_finite_array, as_generator, check_number,
                                  check_positive_int)
from shakeout.errors import ValidationError
from shakeout.models._base import Model
from shakeout.models.torch import TorchModel, import_torch

# A noise model: (batch on the model's device, generator) -> the noisy batch.
Noise = Callable[[Any, Any], Any]


def torch_module(model: Model, owner: str) -> Any:
    """The ``nn.Module`` of a wrapped torch model; any other model is an error naming ``owner``.

    >>> from shakeout.models import wrap
    >>> torch_module(wrap(lambda X: X, task="regression"), "repeat_forward")
    Traceback (most recent call last):
    shakeout.errors.ValidationError: repeat_forward needs a torch model; got <lambda>, which \
is not a torch module. Wrap an nn.Module (shakeout.wrap(module)).
    """
    module = model.capabilities.module
    if module is None:
        raise ValidationError(
            f"{owner} needs a torch model; got {model.name}, which is not a torch module. "
            "Wrap an nn.Module (shakeout.wrap(module))."
        )
    return module


@contextmanager
def inference(model: Model, *, train: bool = False, grad: bool = False,
              freeze: bool = True) -> Iterator[Any]:
    """Run a torch model's module in a stated mode; the caller's settings come back after.

    Parameters
    ----------
    model : Model
        A wrapped torch model (``model.capabilities.module`` is its ``nn.Module``).
    train : bool, default=False
        Train mode (dropout and batch-norm statistics active) instead of eval mode.
    grad : bool, default=False
        Record the graph (``torch.enable_grad``) or not (``torch.no_grad``).
    freeze : bool, default=True
        With ``grad``, stop gradients to the parameters (input gradients only: an attack
        needs no weight gradients, which cost a third of every backward pass).

    The mode of the module and of each submodule (a caller's dropout layer left in train
    mode stays so) and every parameter's ``requires_grad`` are restored when the block ends,
    also when it raises. Yields the module (on ``model.device``).

    >>> import torch
    >>> from shakeout.models import wrap
    >>> net = torch.nn.Linear(2, 2).train()
    >>> with inference(wrap(net), grad=True) as module:
    ...     module.training, net.weight.requires_grad, torch.is_grad_enabled()
    (False, False, True)
    >>> net.training, net.weight.requires_grad
    (True, True)
    """
    torch = import_torch()
    module = torch_module(model, "inference")
    modes = [(sub, sub.training) for sub in module.modules()]
    frozen = [p for p in module.parameters() if p.requires_grad] if grad and freeze else []
    module.train(train)
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.set_grad_enabled(grad):
            yield module
    finally:
        for p in frozen:
            p.requires_grad_(True)
        _restore_modes(modes)


def _restore_modes(modes: list[tuple[Any, bool]]) -> None:
    """Each module back in its mode; ``modes`` in ``module.modules()`` order (parents
    first), so a parent's recursive ``train`` comes before its children are set."""
    for sub, was in modes:
        if sub.training != was:
            sub.train(was)


def torch_generator(rng: np.random.Generator, device: Any = "cpu") -> Any:
    """A ``torch.Generator`` on ``device`` seeded by one draw from ``rng``.

    >>> import numpy as np, torch
    >>> a = torch_generator(np.random.default_rng(0))
    >>> b = torch_generator(np.random.default_rng(0))
    >>> torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))
    True
    """
    torch = import_torch()
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(2**63 - 1)))
    return gen


def with_module(model: TorchModel, module: Any) -> TorchModel:
    """``model`` with another module: the same task, classes, device and batch size.

    >>> import torch
    >>> from shakeout.models import wrap
    >>> m = wrap(torch.nn.Linear(2, 3), classes=["a", "b", "c"], batch_size=8)
    >>> other = with_module(m, torch.nn.Linear(2, 3))
    >>> other.classes_.tolist(), other.batch_size, other.module is m.module
    (['a', 'b', 'c'], 8, False)
    """
    return TorchModel(module, task=model.task, classes=model.classes_,
                      device=str(model.device), batch_size=model.batch_size)


def gaussian(sigma: float | Any) -> Noise:
    """Gaussian noise of standard deviation ``sigma`` (in the model's input units).

    ``sigma`` is a number (isotropic noise) or an array that broadcasts to one input's shape
    (a standard deviation per feature, pixel or channel); every value is at least 0. The
    draws come from the generator the noise is given, on the batch's device.

    >>> import numpy as np, torch
    >>> from shakeout.models.runtime import torch_generator
    >>> gen = torch_generator(np.random.default_rng(0))
    >>> round(float(gaussian(0.5)(torch.zeros(10_000), gen).std()), 2)
    0.5
    >>> noisy = gaussian(np.array([0.1, 2.0]))(torch.zeros(10_000, 2), gen)
    >>> noisy.std(dim=0).double().round(decimals=1).tolist()
    [0.1, 2.0]
    """
    return _additive("gaussian", "sigma", sigma, _standard_normal)


def uniform(half_width: float | Any) -> Noise:
    """Uniform noise on ``[-half_width, half_width]`` (in the model's input units).

    ``half_width`` is a number or an array that broadcasts to one input's shape, as
    ``sigma`` of :func:`gaussian`; every value is at least 0. The L1 certificate of
    randomized smoothing uses it (Yang et al. 2020, "Randomized smoothing of all shapes and
    sizes", ICML).

    >>> import numpy as np, torch
    >>> from shakeout.models.runtime import torch_generator
    >>> noisy = uniform(0.5)(torch.zeros(10_000), torch_generator(np.random.default_rng(0)))
    >>> bool(noisy.abs().max() <= 0.5), round(float(noisy.var()), 3)  # var = 0.5^2 / 3
    (True, 0.083)
    """
    return _additive("uniform", "half_width", half_width, _unit_uniform)


def _standard_normal(x: Any, gen: Any) -> Any:
    return import_torch().randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


def _unit_uniform(x: Any, gen: Any) -> Any:
    """Uniform on [-1, 1]."""
    return 2 * import_torch().rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) - 1


def _additive(owner: str, name: str, scale: Any, draw: Callable[[Any, Any], Any]) -> Noise:
    """``x + scale * draw(x, gen)``: a number ``scale`` as given, an array one as a tensor
    on the batch's device and dtype, made (and checked against one input's shape) once per
    device, dtype and input shape."""
    scale = _scale(owner, name, scale)
    tensors: dict[tuple[Any, Any, tuple[int, ...]], Any] = {}

    def add(x: Any, gen: Any) -> Any:
        size = scale
        if isinstance(scale, np.ndarray):
            key = (x.device, x.dtype, tuple(x.shape[1:]))
            if key not in tensors:
                tensors[key] = _on(owner, name, scale, x)
            size = tensors[key]
        return x + size * draw(x, gen)

    return add


def _scale(owner: str, name: str, scale: Any) -> float | np.ndarray:
    """A noise scale: a number >= 0, or a finite float64 array of them."""
    if np.ndim(scale) == 0:
        value = scale.item() if isinstance(scale, np.ndarray) else scale
        return check_number(owner, name, value, 0)
    arr = as_finite_array(scale, name=f"{owner}: {name}")
    if arr.min() < 0:
        where = tuple(int(i) for i in np.unravel_index(arr.argmin(), arr.shape))
        raise ValidationError(
            f"{owner}: {name} must be at least 0 everywhere, got {arr.min():g} at index "
            f"{where}. Pass the noise scale of each value (0 for no noise)."
        )
    return arr


def _on(owner: str, name: str, scale: np.ndarray, x: Any) -> Any:
    """``scale`` as a tensor on ``x``'s device and dtype, once it broadcasts to one row."""
    one = tuple(x.shape[1:])
    try:
        fits = np.broadcast_shapes(scale.shape, one) == one
    except ValueError:
        fits = False
    if not fits:
        raise ValidationError(
            f"{owner}: {name} of shape {scale.shape} does not broadcast to one input of shape "
            f"{one}. Pass a number, or an array of one input's shape (or one that broadcasts "
            "to it, e.g. one value per channel of shape (c, 1, 1))."
        )
    return import_torch().as_tensor(scale, dtype=x.dtype, device=x.device)


def repeat_forward(model: Model, x: Any, n: int, *, noise: Noise | None = None,
                   dropout: bool = False, batch_size: int = 4096,
                   seed: Seed = None) -> np.ndarray:
    """How often each class wins over ``n`` noisy (or stochastic) forward passes per input.

    The ``len(x) * n`` passes run in batches of ``batch_size`` rows on the model's device:
    the repeated inputs and their noise exist for one batch at a time, so memory is bounded
    by ``batch_size``, not by ``n``. The class of a pass is the argmax of the logits (a
    single logit: positive means class 1).

    Parameters
    ----------
    model : Model
        A wrapped torch classifier.
    x : array of shape ``(m, ...)``
        The inputs, in the model's input space.
    n : int
        Forward passes per input.
    noise : callable or None
        ``noise(batch, generator)`` returns the batch with noise added, e.g.
        :func:`gaussian` or :func:`uniform`; None for none (a stochastic model, see
        ``dropout``).
    dropout : bool, default=False
        Keep the dropout layers active while everything else stays in eval mode (batch-norm
        uses, and keeps, its running statistics): MC dropout. Their draws come from torch's
        global generator, which is then seeded from ``seed`` inside
        ``torch.random.fork_rng``: the caller's global torch state is unchanged afterwards.
    batch_size : int, default=4096
        Rows per forward pass.
    seed : int, Generator or None
        The same seed and ``batch_size`` give the same counts.

    Returns
    -------
    numpy.ndarray of shape ``(m, n_classes)``, int64
        Row ``i`` counts the winning classes of input ``i``; each row sums to ``n``.

    Examples
    --------
    A one-feature classifier that says class 1 when ``x > 0``: under noise of standard
    deviation 1, an input at 1 wins with probability ``Phi(1) = 0.841``.

    >>> import numpy as np, torch
    >>> from shakeout.models import wrap
    >>> net = torch.nn.Linear(1, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
    >>> counts = repeat_forward(wrap(net), np.ones((1, 1), np.float32), 100_000,
    ...                         noise=gaussian(1.0), batch_size=8192, seed=0)
    >>> round(float(counts[0, 1]) / 100_000, 2)
    0.84
    """
    torch = import_torch()
    counts = None
    for rows, logits, m in _passes(model, x, n, "repeat_forward", "counts classes", noise=noise,
                                   dropout=dropout, batch_size=batch_size, seed=seed):
        if counts is None:  # two columns for a single-logit binary model
            k = max(2, logits.shape[1])
            counts = torch.zeros(m * k, dtype=torch.int64, device=model.device)
        counts += torch.bincount(rows * k + _winners(logits), minlength=m * k)
    return counts.reshape(m, k).cpu().numpy()


def repeat_proba(model: Model, x: Any, n: int, *, noise: Noise | None = None,
                 dropout: bool = False, batch_size: int = 4096,
                 seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean class probabilities and mean entropy over ``n`` noisy or MC-dropout passes per input.

    The sibling of :func:`repeat_forward` (the same batched passes, bounded by
    ``batch_size`` rows) that keeps each pass's softmax instead of its winning class: what
    MC dropout (Gal & Ghahramani 2016) needs to split predictive entropy into its expected
    part (aleatoric) and mutual information (epistemic).

    Parameters
    ----------
    model : Model
        A wrapped torch classifier.
    x : array of shape ``(m, ...)``
        The inputs, in the model's input space.
    n : int
        Forward passes per input.
    noise : callable or None
        ``noise(batch, generator)``, e.g. :func:`gaussian`; None for none.
    dropout : bool, default=False
        MC dropout, as in :func:`repeat_forward`.
    batch_size : int, default=4096
        Rows per forward pass.
    seed : int, Generator or None
        The same seed and ``batch_size`` give the same numbers.

    Returns
    -------
    mean : numpy.ndarray of shape ``(m, n_classes)``
        The average of the passes' probabilities (a single logit reads through a sigmoid).
    entropy : numpy.ndarray of shape ``(m,)``
        The average of the passes' entropies, in nats.

    Examples
    --------
    Without noise or dropout every pass is the same: the mean is the model's probabilities.

    >>> import numpy as np, torch
    >>> from shakeout.models import wrap
    >>> net = torch.nn.Linear(1, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-1.0], [1.0]])); _ = net.bias.zero_()
    >>> x = np.array([[0.0], [2.0]], np.float32)
    >>> mean, entropy = repeat_proba(wrap(net), x, 10, seed=0)
    >>> np.allclose(mean, wrap(net).predict_proba(x)), round(float(entropy[0]), 4)
    (True, 0.6931)
    """
    torch = import_torch()
    total = entropy = None
    for rows, logits, m in _passes(model, x, n, "repeat_proba", "averages class probabilities",
                                   noise=noise, dropout=dropout, batch_size=batch_size,
                                   seed=seed):
        proba = _probabilities(torch, logits.double())
        if total is None:
            total = torch.zeros((m, proba.shape[1]), dtype=torch.float64, device=model.device)
            entropy = torch.zeros(m, dtype=torch.float64, device=model.device)
        total.index_add_(0, rows, proba)
        entropy.index_add_(0, rows, torch.special.entr(proba).sum(dim=1))
    return (total / n).cpu().numpy(), (entropy / n).cpu().numpy()


def _passes(model: Model, x: Any, n: int, owner: str, does: str, *, noise: Noise | None,
            dropout: bool, batch_size: int, seed: Seed) -> Iterator[tuple[Any, Any, int]]:
    """The ``len(x) * n`` forward passes in batches: ``(rows, logits, m)`` per batch, where
    ``rows`` says which input each pass repeats; checks the model (a classifier: ``owner``
    ``does`` something with classes) and the counts first."""
    torch = import_torch()
    torch_module(model, owner)
    if model.task != "classification":
        raise ValidationError(
            f"{owner} {does}, but {model.name} is a regressor; wrap a classifier."
        )
    n = check_positive_int(owner, "n", n)
    batch_size = check_positive_int(owner, "batch_size", batch_size)
    rng = as_generator(seed)
    gen = torch_generator(rng, model.device)
    inputs = model.to_tensor(x)
    m = len(inputs)
    total = m * n
    with _seeded_global(torch, model.device, rng) if dropout else nullcontext(), \
            inference(model, grad=False) as module, \
            _dropout_active(module) if dropout else nullcontext():
        for start in range(0, total, batch_size):
            rows = torch.arange(start, min(start + batch_size, total), device=model.device) // n
            batch = inputs[rows]
            if noise is not None:
                batch = noise(batch, gen)
            yield rows, model.logits(batch).reshape(len(batch), -1), m


def dropout_layers(module: Any) -> list[Any]:
    """The dropout layers of a torch module (scripted ones too), in module order.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    >>> [type(layer).__name__ for layer in dropout_layers(net)]
    ['Dropout']
    """
    return [sub for sub in module.modules()
            if "Dropout" in getattr(sub, "original_name", type(sub).__name__)]


DROPOUT_OPS = ("aten::dropout", "aten::feature_dropout", "aten::alpha_dropout")


def _traced_still(layer: Any) -> bool:
    """Whether a TorchScript dropout layer was traced: ``torch.jit.trace`` records its train
    flag as a constant, so switching the layer to train mode changes nothing.

    >>> import torch
    >>> _traced_still(torch.jit.trace(torch.nn.Dropout(0.5), torch.ones(1, 2)))
    True
    >>> _traced_still(torch.jit.script(torch.nn.Dropout(0.5))), _traced_still(torch.nn.Dropout())
    (False, False)
    """
    graph = getattr(layer, "graph", None)
    if graph is None:
        return False
    return any(node.kind() in DROPOUT_OPS
               and list(node.inputs())[2].node().kind() == "prim::Constant"
               for node in graph.nodes())


@contextmanager
def _dropout_active(module: Any) -> Iterator[None]:
    """The module's dropout layers in train mode, each one's mode restored afterwards; a
    traced layer, which would stay still, is refused."""
    if any(_traced_still(layer) for layer in dropout_layers(module)):
        raise ValidationError(
            "MC dropout: the model's dropout layers were frozen by torch.jit.trace (their "
            "train flag is a constant of the trace), so every pass would be the same; save "
            "the model with torch.jit.script, or pass the nn.Module."
        )
    layers = [(layer, layer.training) for layer in dropout_layers(module)]
    for layer, _ in layers:
        layer.train(True)
    try:
        yield
    finally:
        _restore_modes(layers)


def _probabilities(torch: Any, logits: Any) -> Any:
    """Softmax of logits ``(b, k)``; one logit reads through a sigmoid as two columns."""
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def _winners(logits: Any) -> Any:
    """The class of each row of logits ``(b, k)``; one logit means a binary model (positive:
    class 1)."""
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)


@contextmanager
def _seeded_global(torch: Any, device: Any, rng: np.random.Generator) -> Iterator[None]:
    """Torch's global generator of ``device`` seeded from ``rng``, restored afterwards."""
    seed = int(rng.integers(2**63 - 1))
    cuda = device.type == "cuda"
    index = (device.index if device.index is not None else torch.cuda.current_device()) \
        if cuda else None
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


__all__ = ["Noise", "dropout_layers", "gaussian", "inference", "repeat_forward", "repeat_proba",
           "torch_generator", "torch_module", "uniform", "with_module"]
