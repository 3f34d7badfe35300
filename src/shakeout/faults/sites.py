"""Fault sites: the arrays of a model a fault can hit (weights) or the layer outputs (activations).

A site is one stored array (a torch parameter, a scikit-learn coefficient or tree array, an
ONNX initializer) or one torch module's output. :func:`find_sites` lists them, filtered by
layer name or type; :class:`~shakeout.faults.inject.Injector` resolves them back to the
live arrays.

Scikit-learn trees: ``tree_.threshold`` and ``tree_.value`` are writable views into the
tree's node memory (checked: scikit-learn 1.9), so a write reaches the predictions. Both
arrays cover every node as stored: a leaf's threshold and an inner node's value are in memory
but never read by ``predict``, so faults there are masked, as they would be in hardware.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.models._base import Model
from shakeout.perturb.bits import BIT_WIDTH

WHERE = ("weight", "activation")


@dataclass(frozen=True)
class Site:
    """One array a fault can hit.

    Attributes
    ----------
    name : str
        Torch parameter ``"conv1.weight"``; torch activation: the module's name ``"conv1"``;
        scikit-learn ``"coef_"``, ``"estimators_[3].tree_.threshold"``; ONNX: the
        initializer's name.
    where : {"weight", "activation"}
    layer_type : str
        ``"Conv2d"``, ``"Linear"``, ``"LogisticRegression"``, ``"DecisionTreeClassifier"``,
        ``"onnx:Gemm"`` ...
    dtype : str
        A key of :data:`~shakeout.perturb.bits.BIT_WIDTH`.
    shape : tuple of int
        For an activation, one input's shape (no batch dimension).
    size : int
        Elements (per input for an activation).
    bits : int
        Bits per element.
    layer : str
        The layer the site belongs to: the torch module (``"conv1"`` for ``"conv1.weight"``),
        the estimator inside an ensemble or pipeline (``"estimators_[3]"``), the ONNX node
        that reads the initializer; ``""`` for a plain estimator's own arrays.
    """

    name: str
    where: str
    layer_type: str
    dtype: str
    shape: tuple[int, ...]
    size: int
    bits: int
    layer: str = ""


def site_of(name: str, where: str, layer_type: str, array: Any, layer: str,
            shape: tuple[int, ...] | None = None) -> Site:
    """A :class:`Site` for ``array`` (a tensor or an array); ``shape`` overrides its shape."""
    dtype = str(array.dtype).removeprefix("torch.")
    shape = tuple(int(n) for n in (array.shape if shape is None else shape))
    return Site(name, where, layer_type, dtype, shape, int(np.prod(shape, dtype=np.int64)),
                BIT_WIDTH[dtype], layer)


def find_sites(model: Any, *, where: str = "weight", layers: Sequence[str] | None = None,
               layer_types: Sequence[str] | None = None, X: Any = None) -> list[Site]:
    """The fault sites of ``model``: its weights, or (torch) its layers' outputs.

    Parameters
    ----------
    model : any model :func:`shakeout.wrap` takes, or a wrapped Model
        Torch modules, scikit-learn linear models, neural networks, trees and their ensembles
        (inside a pipeline too), ONNX files.
    where : {"weight", "activation"}, default="weight"
        Stored arrays, or module outputs (torch only, through forward hooks).
    layers : sequence of str or None
        Names to keep: a site's name or its layer's (``"conv1"`` keeps ``conv1.weight`` and
        ``conv1.bias``; ``"features"`` keeps every parameter below it). A name the model does
        not have is an error listing the valid ones.
    layer_types : sequence of str or None
        Class names to keep (``"Conv2d"``, ``"DecisionTreeRegressor"``, ``"onnx:Gemm"``).
    X : array or None
        Activations only: a few input rows, run once to learn each layer's output shape.
        Without ``layers`` or ``layer_types``, the activation sites are the outputs of the
        modules that hold parameters (convolutions, linear layers, normalisations).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> [(s.name, s.layer_type, s.shape) for s in find_sites(net, layers=["0"])]
    [('0.weight', 'Linear', (3, 4)), ('0.bias', 'Linear', (3,))]
    >>> [(s.name, s.shape, s.bits) for s in find_sites(net, where="activation", X=np.ones((2, 4)))]
    [('0', (3,), 32), ('2', (2,), 32)]
    """
    if where not in WHERE:
        raise ValidationError(f"find_sites: where must be 'weight' or 'activation', got {where!r}.")
    wrapped = wrap(model)
    if where == "activation":
        found = activation_sites(wrapped, X, every=bool(layers or layer_types))
    else:
        found = [site for site, _ in weight_targets(wrapped)]
    return _select(found, wrapped, layers, layer_types)


def _select(found: list[Site], model: Model, layers: Sequence[str] | None,
            layer_types: Sequence[str] | None) -> list[Site]:
    if layers is not None:
        layers = [layers] if isinstance(layers, str) else list(layers)
        valid = sorted({s.name for s in found} | {s.layer for s in found if s.layer})
        unknown = [name for name in layers if not any(_in_layer(s, name) for s in found)]
        if unknown:
            raise ValidationError(
                f"{model.name} has no layer {unknown[0]!r}; its valid names: "
                f"{', '.join(valid[:20])}{' ...' if len(valid) > 20 else ''}."
            )
        found = [s for s in found if any(_in_layer(s, name) for name in layers)]
    if layer_types is not None:
        layer_types = [layer_types] if isinstance(layer_types, str) else list(layer_types)
        kinds = sorted({s.layer_type for s in found})
        found = [s for s in found if s.layer_type in layer_types]
        if not found:
            raise ValidationError(
                f"{model.name} has no sites of type {', '.join(layer_types)}; its types: "
                f"{', '.join(kinds) or 'none'}."
            )
    return found


def _in_layer(site: Site, name: str) -> bool:
    return name in (site.name, site.layer) or site.name.startswith(name + ".")


def weight_targets(model: Model) -> list[tuple[Site, Any]]:
    """Every weight site with the live array or tensor it names (ONNX: the initializer as
    read from the file, which the injector never writes)."""
    module = model.capabilities.module
    if module is not None:
        return list(_torch_weights(module))
    estimator = getattr(model, "estimator", None)
    if estimator is not None:
        found = list(_sklearn_weights(estimator, ""))
        if not found:
            raise ValidationError(
                f"{model.name} holds no arrays shakeout can inject into: it takes linear "
                "models' coef_/intercept_, neural networks' coefs_/intercepts_, trees' "
                "threshold/value and the estimators of forests, boosting and pipelines."
            )
        return found
    if hasattr(model, "session") and hasattr(model, "path"):
        return list(_onnx_weights(onnx_graph(model)))
    raise ValidationError(
        f"weight faults need a torch, scikit-learn or ONNX model; got {model.name}, whose "
        "weights shakeout cannot reach. Wrap the model object itself, not a function calling it."
    )


def _torch_weights(module: Any) -> Iterator[tuple[Site, Any]]:
    modules = dict(module.named_modules())  # TorchScript modules have no get_submodule
    for name, param in module.named_parameters():
        if str(param.dtype).removeprefix("torch.") not in BIT_WIDTH:
            continue
        layer = name.rpartition(".")[0]
        yield site_of(name, "weight", _kind(modules[layer]), param, layer), param


def _kind(module: Any) -> str:
    return getattr(module, "original_name", type(module).__name__)


def _sklearn_weights(estimator: Any, prefix: str) -> Iterator[tuple[Site, Any]]:
    kind, layer = type(estimator).__name__, prefix.rstrip(".")
    for name in ("coef_", "intercept_"):
        yield from _array_site(f"{prefix}{name}", kind, getattr(estimator, name, None), layer)
    for name in ("coefs_", "intercepts_"):
        for i, array in enumerate(getattr(estimator, name, None) or ()):
            yield from _array_site(f"{prefix}{name}[{i}]", kind, array, layer)
    tree = getattr(estimator, "tree_", None)
    if tree is not None and hasattr(tree, "threshold"):
        for name in ("threshold", "value"):
            yield from _array_site(f"{prefix}tree_.{name}", kind, _tree_array(tree, name), layer)
    inner = getattr(estimator, "estimators_", None)
    if isinstance(inner, np.ndarray):
        for idx, sub in np.ndenumerate(inner):
            yield from _sklearn_weights(sub, f"{prefix}estimators_[{', '.join(map(str, idx))}].")
    elif isinstance(inner, list):
        for i, sub in enumerate(inner):
            yield from _sklearn_weights(sub, f"{prefix}estimators_[{i}].")
    for step, sub in getattr(estimator, "steps", None) or ():
        if hasattr(sub, "fit"):
            yield from _sklearn_weights(sub, f"{prefix}{step}.")


def _array_site(name: str, kind: str, array: Any, layer: str) -> Iterator[tuple[Site, Any]]:
    if isinstance(array, np.ndarray) and array.dtype.name in BIT_WIDTH and array.size:
        yield site_of(name, "weight", kind, array, layer), array


def _tree_array(tree: Any, name: str) -> np.ndarray:
    """``tree.threshold`` or ``tree.value``, checked to be a writable view of the nodes."""
    first, again = getattr(tree, name), getattr(tree, name)
    if not (first.flags.writeable and np.shares_memory(first, again)):
        import sklearn

        raise ValidationError(
            f"scikit-learn {sklearn.__version__} returns tree_.{name} as a read-only copy, so a "
            "fault written there would not reach the predictions; use scikit-learn 1.3 to 1.9."
        )
    return first


def onnx_graph(model: Model) -> Any:
    """The ONNX graph of a wrapped ONNX model, read from its file."""
    try:
        import onnx
    except ImportError:
        from shakeout.errors import MissingDependencyError

        raise MissingDependencyError(
            "faults in an ONNX model need the onnx package to read its initializers. Install "
            "it with pip install onnx."
        ) from None
    return onnx.load(str(model.path))


def _onnx_weights(graph_model: Any) -> Iterator[tuple[Site, Any]]:
    from onnx import numpy_helper

    readers: dict[str, Any] = {}
    for node in graph_model.graph.node:
        for name in node.input:
            readers.setdefault(name, node)
    for init in graph_model.graph.initializer:
        array = numpy_helper.to_array(init)
        node = readers.get(init.name)
        kind = f"onnx:{node.op_type}" if node is not None else "onnx:unused"
        layer = (node.name or node.op_type) if node is not None else ""
        yield from _array_site(init.name, kind, array, layer)


def activation_sites(model: Model, X: Any, *, every: bool) -> list[Site]:
    """The output of each module (``every``) or of each module holding parameters, with one
    input's shape learned by running ``X`` once."""
    module = model.capabilities.module
    if module is None or not model.capabilities.representations:
        raise ValidationError(
            f"activation faults need a torch nn.Module (forward hooks); got {model.name}. Use "
            "where='weight' for this model."
        )
    if X is None or len(X) == 0:
        raise ValidationError(
            "activation sites need X: a few input rows, run once to learn each layer's "
            "output shape (find_sites(model, where='activation', X=X[:2]))."
        )
    candidates = {name: sub for name, sub in module.named_modules() if name
                  and (every or next(sub.parameters(recurse=False), None) is not None)}
    seen = _outputs(model, candidates, X[:2])
    return [site_of(name, "activation", _kind(candidates[name]), out, name, tuple(out.shape[1:]))
            for name, out in seen.items()]


def _outputs(model: Model, modules: dict[str, Any], X: Any) -> dict[str, Any]:
    """What each module returns on ``X``, in the order they ran; outputs that are not one
    tensor of a dtype bit faults take are left out."""
    from shakeout.models.runtime import inference

    seen: dict[str, Any] = {}
    hooks = [sub.register_forward_hook(_recorder(seen, name)) for name, sub in modules.items()]
    try:
        with inference(model, grad=False) as net:
            net(model.to_tensor(X))
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _recorder(seen: dict[str, Any], name: str) -> Any:
    def record(_module: Any, _inputs: Any, output: Any) -> None:
        dtype = str(getattr(output, "dtype", "")).removeprefix("torch.")
        if hasattr(output, "shape") and dtype in BIT_WIDTH and output.ndim >= 1:
            seen.setdefault(name, output)
    return record


__all__ = ["Site", "WHERE", "activation_sites", "find_sites", "onnx_graph", "site_of",
           "weight_targets"]
