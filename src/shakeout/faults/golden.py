"""Golden-input replay: a small set of inputs stored with everything the model did with them,
replayed later through today's model, preprocessing and libraries.

A replay that matches says the model computes today what it computed then: whatever moved
in production came from the data. One that does not names where the computation first
departs: ``input`` (the preprocessing: layer 0), a torch layer (a changed weight, a kernel
or library that computes differently), or only the outputs. Fixed-input reproducibility is
the test that separates a fault of the system from a change of the world.

A golden set is a folder:

- ``golden.json``: the manifest: format, the model's fingerprint and structure, the
  preprocessing version, library versions, tolerances, and per torch layer (leaf module, in
  execution order) the SHA-256 of its activations' bytes, their shape and summary;
- ``golden.npz``: the raw inputs, the preprocessed inputs, the outputs, and per layer its
  summary: the L2 norm of each row's activations and the first ``HEAD`` values, so a
  replay says how far a layer moved, not only that its bytes differ.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import check_number
from shakeout.errors import ValidationError
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Manifest, Result

DRILL = "golden"
FORMAT = 1
MANIFEST, ARRAYS = "golden.json", "golden.npz"
HEAD = 256
"""Activation values per layer kept verbatim (the first ones, row-major over the rows)."""
RTOL, ATOL = 1e-5, 1e-7
"""Default tolerances, stored with the set: a replay on other hardware or thread counts
differs by float rounding, far below these."""


# -- tables (raw and preprocessed inputs) to and from plain arrays --------------------------

def _pack(prefix: str, values: Any) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays for ``golden.npz`` and how to rebuild ``values`` (an array or a DataFrame)."""
    if isinstance(values, pd.DataFrame):
        arrays, dtypes = {}, []
        for i, col in enumerate(values.columns):
            column = values[col]
            if not pd.api.types.is_numeric_dtype(column) and column.isna().any():
                raise ValidationError(
                    f"golden: text column {col!r} has missing values, which a golden set "
                    "cannot store faithfully; fill them (or drop those rows) first.")
            kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else ""
            arrays[f"{prefix}__{i}"] = (column.to_numpy() if kind in "biuf" and kind
                                        else column.to_numpy(dtype=str))
            dtypes.append(str(column.dtype))
        return arrays, {"kind": "frame", "columns": [str(c) for c in values.columns],
                        "dtypes": dtypes}
    arr = np.asarray(values)
    if arr.dtype == object:
        raise ValidationError(f"golden: the {prefix} values must be numbers or text, not "
                              "Python objects; pass an array or a DataFrame.")
    return {prefix: arr}, {"kind": "array"}


def _unpack(prefix: str, arrays: Any, meta: dict) -> Any:
    if meta["kind"] == "array":
        return arrays[prefix]
    columns = {}
    for i, (col, dtype) in enumerate(zip(meta["columns"], meta["dtypes"])):
        values = arrays[f"{prefix}__{i}"]
        try:
            columns[col] = pd.Series(values).astype(dtype)
        except (TypeError, ValueError):
            columns[col] = pd.Series(values)
    return pd.DataFrame(columns)


# -- torch layers ----------------------------------------------------------------------------

@dataclass
class _Layer:
    """One leaf module's activations over the golden set: hash, per-row norms, first values."""

    digest: Any = field(default_factory=hashlib.sha256)
    norms: list[np.ndarray] = field(default_factory=list)
    head: list[np.ndarray] = field(default_factory=list)
    kept: int = 0
    shape: list[int] = field(default_factory=list)

    def add(self, out: Any) -> None:
        import torch

        parts = out if isinstance(out, (tuple, list)) else (out,)
        tensors = [t for t in parts if isinstance(t, torch.Tensor)]
        if not tensors:
            return
        rows = [t.detach().cpu() for t in tensors]
        for t in rows:
            t = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
            self.digest.update(t.contiguous().numpy().tobytes())
        flat = np.concatenate([t.double().reshape(len(t) if t.dim() else 1, -1).numpy()
                               for t in rows], axis=1)
        self.shape = list(rows[0].shape[1:])
        self.norms.append(np.linalg.norm(flat, axis=1))
        if self.kept < HEAD:
            take = flat.reshape(-1)[:HEAD - self.kept]
            self.head.append(take)
            self.kept += len(take)

    def summary(self) -> tuple[str, np.ndarray, np.ndarray]:
        return (self.digest.hexdigest(), np.concatenate(self.norms),
                np.concatenate(self.head) if self.head else np.zeros(0))


def _trace(model: Any, x: Any) -> dict[str, _Layer]:
    """Every leaf module's activations on ``x``, in the order they first run; a module run
    twice in one forward pass (a shared ReLU) is ``name#2`` the second time."""
    from shakeout.models.runtime import inference

    module = model.capabilities.module
    leaves = [(n or type(m).__name__, m) for n, m in module.named_modules()
              if next(m.children(), None) is None]
    layers: dict[str, _Layer] = {}
    calls: dict[str, int] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(_module: Any, _inputs: Any, out: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name}#{calls[name]}"
            layers.setdefault(key, _Layer()).add(out)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    try:
        with inference(model, grad=False) as net:
            for start in range(0, len(x), model.batch_size):
                calls.clear()
                net(model.to_tensor(x[start:start + model.batch_size]))
    finally:
        for h in handles:
            h.remove()
    return layers


def _hooks(model: Any) -> bool:
    """Whether the model's layers can be read (a torch module that takes forward hooks)."""
    caps = model.capabilities
    return caps.module is not None and caps.representations


# -- the model's identity ----------------------------------------------------------------------

def _structure(model: Any) -> dict:
    """What makes a model this model rather than another: kind, task, classes and, for torch,
    every parameter's and buffer's name, shape and dtype (not their values)."""
    classes = None if model.classes_ is None else [str(c) for c in model.classes_]
    out = {"model": model.name, "task": model.task, "classes": classes}
    module = model.capabilities.module
    if module is not None:
        out["tensors"] = [[k, list(v.shape), str(v.dtype)] for k, v in module.state_dict().items()]
    return out


def save_golden(model: Any, X: Any, out: str | Path, *,
                preprocess: Callable[[Any], Any] | None = None, version: str | None = None,
                rtol: float = RTOL, atol: float = ATOL) -> Path:
    """Store a golden set: ``X``, ``preprocess(X)``, the outputs and each torch layer's trace.

    Parameters
    ----------
    model : any model ``shakeout.wrap`` accepts
    X : array or DataFrame
        Raw inputs: a few hundred rows at most (every row is stored).
    out : path
        The folder to write (created; ``golden.json`` and ``golden.npz`` are replaced).
    preprocess : callable or None
        ``raw -> model input``; None: ``X`` is the model input. Its output is the ``input``
        layer of a replay (layer 0).
    version : str or None
        The preprocessing's version (a git hash, a package version), recorded and compared.
    rtol, atol : float
        Tolerances a replay uses unless told otherwise: values within ``atol + rtol * |saved|``
        match.

    Returns
    -------
    Path
        The folder.

    Examples
    --------
    >>> import tempfile, numpy as np, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    >>> folder = save_golden(net, X, tempfile.mkdtemp(), preprocess=lambda x: x * 2)
    >>> replay(folder, net, preprocess=lambda x: x * 2).status
    'pass'
    >>> result = replay(folder, net, preprocess=lambda x: x * 3)
    >>> result.status, result.select(metric="first_divergence")[0].details["layer"]
    ('fail', 'input')
    """
    from shakeout.models import wrap

    wrapped = wrap(model)
    rtol = check_number("save_golden", "rtol", rtol, 0.0)
    atol = check_number("save_golden", "atol", atol, 0.0)
    if len(X) == 0:
        raise ValidationError("save_golden: X is empty; pass the rows of the golden set.")
    pre = X if preprocess is None else preprocess(X)
    outputs = wrapped.outputs(pre)
    raw_arrays, raw_meta = _pack("raw", X)
    pre_arrays, pre_meta = _pack("input", pre)
    arrays = {**raw_arrays, **pre_arrays, "outputs": outputs}
    layers = []
    if _hooks(wrapped):
        for i, (name, layer) in enumerate(_trace(wrapped, np.asarray(pre)).items()):
            digest, norms, head = layer.summary()
            arrays[f"layer{i}__norms"], arrays[f"layer{i}__head"] = norms, head
            layers.append({"name": name, "sha256": digest, "shape": layer.shape})
    manifest = {
        "format": FORMAT, "model": wrapped.name, "model_fingerprint": wrapped.fingerprint(),
        "structure": _structure(wrapped), "preprocessing_version": version,
        "preprocess": None if preprocess is None else getattr(preprocess, "__qualname__",
                                                              repr(preprocess)),
        "rows": len(X), "raw": raw_meta, "input": pre_meta, "tolerances": {"rtol": rtol,
                                                                           "atol": atol},
        "layers": layers, "environment": _environment()}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / ARRAYS, **arrays)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return folder


def _environment() -> dict:
    return {"versions": dict(Manifest.collect().versions), "platform": platform.platform()}


def load_golden(golden: str | Path) -> tuple[dict, Any]:
    """The manifest and the arrays of a golden set folder; a folder that is not one is an
    error saying what is missing.

    >>> load_golden("no/such/folder")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: golden: 'no/such/folder' holds no golden set (golden.json \
and golden.npz); write one with shakeout golden save MODEL DATA --out FOLDER.
    """
    folder = Path(golden)
    if not ((folder / MANIFEST).is_file() and (folder / ARRAYS).is_file()):
        raise ValidationError(f"golden: {str(folder)!r} holds no golden set ({MANIFEST} and "
                              f"{ARRAYS}); write one with shakeout golden save MODEL DATA "
                              "--out FOLDER.")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        arrays = dict(np.load(folder / ARRAYS, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"golden: {str(folder)!r} cannot be read ({exc}); save the "
                              "golden set again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValidationError(f"golden: {str(folder / MANIFEST)!r} is not a golden set of "
                              f"format {FORMAT}; save it again with this version.")
    return manifest, arrays


# -- replay ----------------------------------------------------------------------------------

def _relative(old: np.ndarray, new: np.ndarray) -> float:
    """How far ``new`` moved from ``old``: the L2 norm of the change over that of ``old``
    (the change itself when ``old`` is zero); inf when the shapes differ."""
    if old.shape != new.shape:
        return math.inf
    old, new = np.nan_to_num(old, nan=0.0), np.nan_to_num(new, nan=0.0)
    scale = float(np.linalg.norm(old))
    change = float(np.linalg.norm(new - old))
    return change / scale if scale > 0 else change


def _matches(old: np.ndarray, new: np.ndarray, rtol: float, atol: float) -> bool:
    return old.shape == new.shape and bool(np.allclose(new, old, rtol=rtol, atol=atol,
                                                       equal_nan=True))


def _max_abs(old: np.ndarray, new: np.ndarray) -> float:
    if old.shape != new.shape:
        return math.inf
    gap = np.abs(np.asarray(new, dtype=np.float64) - np.asarray(old, dtype=np.float64))
    return float(np.nanmax(gap)) if gap.size else 0.0


def _layer_finding(position: int, name: str, moved: float, diverged: bool, details: dict,
                   message: str) -> Finding:
    return Finding(name=finding_name(DRILL, "layer", name), metric="divergence", value=moved,
                   status="fail" if diverged else "pass", drill=DRILL, group="layer",
                   feature=name, severity=position, unit="layer position (0: the input)",
                   message=message, details={"position": position, **details})


def _table_values(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    return arr.astype(np.float64) if arr.dtype.kind in "biuf" else arr


def _compare_input(manifest: dict, arrays: Any, pre: Any, rtol: float, atol: float) -> Finding:
    old = _table_values(_unpack("input", arrays, manifest["input"]))
    new = _table_values(pre)
    numeric = old.dtype.kind == "f" and new.dtype.kind == "f"
    same = _matches(old, new, rtol, atol) if numeric else (
        old.shape == new.shape and bool(np.all(old == new)))
    moved = _relative(old, new) if numeric else (0.0 if same else math.inf)
    details = {"max_abs_difference": _max_abs(old, new) if numeric else None,
               "shape_saved": list(old.shape), "shape_now": list(new.shape)}
    what = ("matches the saved one" if same else
            f"differs from the saved one (relative change {moved:.3g})")
    return _layer_finding(0, "input", moved, not same, details,
                          f"The preprocessed input (layer 0) {what}.")


def _compare_layers(manifest: dict, arrays: Any, model: Any, pre: Any, rtol: float,
                    atol: float) -> list[Finding]:
    now = _trace(model, np.asarray(pre))
    findings = []
    for i, saved in enumerate(manifest["layers"]):
        name = saved["name"]
        layer = now.get(name)
        if layer is None:
            findings.append(_layer_finding(i + 1, name, math.inf, True, {"hash_equal": False},
                                           f"Layer {name!r} did not run in the replay."))
            continue
        digest, norms, head = layer.summary()
        old_norms, old_head = arrays[f"layer{i}__norms"], arrays[f"layer{i}__head"]
        equal = digest == saved["sha256"]
        close = _matches(old_norms, norms, rtol, atol) and _matches(old_head, head, rtol, atol)
        moved = 0.0 if equal else max(_relative(old_head, head), _relative(old_norms, norms))
        details = {"hash_equal": equal, "max_abs_difference": _max_abs(old_head, head),
                   "norm_change": _relative(old_norms, norms)}
        if equal:
            text = "bit for bit as saved"
        elif close:
            text = f"not bit for bit as saved, but within tolerance (relative change {moved:.3g})"
        else:
            text = f"moved beyond tolerance (relative change {moved:.3g})"
        findings.append(_layer_finding(i + 1, name, moved, not (equal or close), details,
                                       f"Layer {name!r}: {text}."))
    return findings


def _compare_outputs(manifest: dict, arrays: Any, model: Any, outputs: np.ndarray,
                     position: int, rtol: float, atol: float) -> list[Finding]:
    old = arrays["outputs"]
    same = _matches(old, outputs, rtol, atol)
    moved = _relative(old, outputs)
    details = {"max_abs_difference": _max_abs(old, outputs)}
    text = ("match the saved ones" if same else "differ from the saved ones (largest "
            f"difference {details['max_abs_difference']:.3g})")
    findings = [_layer_finding(position, "output", moved, not same, details,
                               f"The outputs {text}.")]
    if model.task == "classification" and old.shape == outputs.shape:
        changed = int(np.sum(old.argmax(axis=1) != outputs.argmax(axis=1)))
        findings.append(Finding(
            name=finding_name(DRILL, "predictions_changed"), metric="predictions_changed",
            value=changed / len(old), status="fail" if changed else "pass", drill=DRILL,
            message=f"{changed} of {len(old)} golden inputs get another top-1 class than when "
                    "the set was saved.", details={"changed": changed, "rows": len(old)}))
    return findings


def _first_divergence(layers: list[Finding], torch_layers: bool, model_name: str) -> Finding:
    first = next((f for f in layers if f.status == "fail"), None)
    scope = ("" if torch_layers else f" Layers were not compared: {model_name} is not a torch "
             "module that takes forward hooks, so only the input and the outputs were.")
    if first is None:
        message = f"No difference beyond tolerance in {len(layers)} places compared.{scope}"
    elif first.feature == "input":
        message = ("The first divergence is the input (layer 0): the preprocessing computes "
                   f"something else than when the set was saved.{scope}")
    else:
        message = (f"The first divergence is {first.feature!r} (position "
                   f"{first.details['position']}): everything before it matches.{scope}")
    return Finding(
        name=finding_name(DRILL, "first_divergence"), metric="first_divergence",
        value=math.nan if first is None else first.details["position"],
        status="pass" if first is None else "fail", drill=DRILL, message=message,
        details={"layer": None if first is None else first.feature,
                 "compared": [f.feature for f in layers], "layers_compared": torch_layers})


def _identity(manifest: dict, wrapped: Any) -> Finding:
    """The same model (structure) is required; changed weights are a finding, not an error."""
    saved, now = manifest["structure"], _structure(wrapped)
    if saved != now:
        differs = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
        raise ValidationError(
            f"golden: this golden set was saved from another model ({saved.get('model')}, "
            f"fingerprint {manifest.get('model_fingerprint')}); the model given "
            f"({now['model']}, fingerprint {wrapped.fingerprint()}) differs in its "
            f"{', '.join(differs)}. Replay it with the model it was saved from, or save a new "
            "golden set for this model.")
    changed = wrapped.fingerprint() != manifest["model_fingerprint"]
    return Finding(
        name=finding_name(DRILL, "weights"), metric="weights_changed", value=float(changed),
        status="fail" if changed else "pass", drill=DRILL,
        message=(f"The model's weights differ from those the set was saved with (fingerprint "
                 f"{manifest['model_fingerprint']} then, {wrapped.fingerprint()} now): the "
                 "first diverging layer shows where." if changed else
                 "The model's weights are those the set was saved with."),
        details={"saved": manifest["model_fingerprint"], "now": wrapped.fingerprint()})


def _environment_finding(manifest: dict, version: str | None) -> Finding:
    then = manifest.get("environment", {})
    now = _environment()
    changes = {k: [then.get("versions", {}).get(k), v] for k, v in now["versions"].items()
               if then.get("versions", {}).get(k) != v}
    if then.get("platform") != now["platform"]:
        changes["platform"] = [then.get("platform"), now["platform"]]
    saved_version = manifest.get("preprocessing_version")
    if version is not None and version != saved_version:
        changes["preprocessing_version"] = [saved_version, version]
    listed = "; ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
    return Finding(
        name=finding_name(DRILL, "environment"), metric="environment_changes",
        value=len(changes), status="info", drill=DRILL,
        message=(f"Changed since the set was saved: {listed}." if changes else
                 "Same library versions, platform and preprocessing version as when saved."),
        details={"changes": changes, "preprocessing_version": saved_version})


def replay(golden: str | Path, model: Any, *, preprocess: Callable[[Any], Any] | None = None,
           version: str | None = None, rtol: float | None = None,
           atol: float | None = None) -> Result:
    """Replay a golden set through ``model`` and ``preprocess`` as they are today.

    Parameters
    ----------
    golden : path
        A folder written by :func:`save_golden`.
    model : any model ``shakeout.wrap`` accepts
        The model the set was saved from: the same structure (for torch, every parameter's
        name, shape and dtype; otherwise its kind, task and classes), else a
        ValidationError. Changed weights are a failing ``weights_changed`` finding: a fault
        in memory is what a replay must catch.
    preprocess : callable or None
        Today's ``raw -> model input``, given the saved raw inputs.
    version : str or None
        Today's preprocessing version, compared with the saved one (reported).
    rtol, atol : float or None
        Tolerances; None: those saved with the set.

    Returns
    -------
    Result
        Drill ``"golden"``: per place compared, in order (``input``, each torch layer,
        ``output``), a ``divergence`` finding (group ``layer``, severity its position,
        value the relative change, failing beyond tolerance); ``predictions_changed`` for a
        classifier; ``first_divergence`` (the position and name of the first failing place);
        ``weights_changed``; and the environment's changes (info). A layer whose bytes
        differ within tolerance passes and says so. For a model that is not a torch module
        only the input and the outputs are compared, and the result says so.
    """
    from shakeout.models import wrap

    manifest, arrays = load_golden(golden)
    wrapped = wrap(model)
    tolerances = manifest.get("tolerances", {})
    rtol = check_number("replay", "rtol", tolerances.get("rtol", RTOL) if rtol is None else rtol,
                        0.0)
    atol = check_number("replay", "atol", tolerances.get("atol", ATOL) if atol is None else atol,
                        0.0)
    identity = _identity(manifest, wrapped)
    raw = _unpack("raw", arrays, manifest["raw"])
    pre = raw if preprocess is None else preprocess(raw)
    layers = [_compare_input(manifest, arrays, pre, rtol, atol)]
    torch_layers = _hooks(wrapped) and bool(manifest["layers"])
    if torch_layers:
        layers += _compare_layers(manifest, arrays, wrapped, pre, rtol, atol)
    outputs = wrapped.outputs(pre)
    tail = _compare_outputs(manifest, arrays, wrapped, outputs, len(layers), rtol, atol)
    layers.append(tail[0])
    findings = (*layers, *tail[1:], _first_divergence(layers, torch_layers, wrapped.name),
                identity, _environment_finding(manifest, version))
    result_manifest = Manifest.collect(
        model=wrapped.name, model_fingerprint=wrapped.fingerprint(), data=str(golden),
        n_rows=int(manifest["rows"]), parameters={"rtol": rtol, "atol": atol,
                                                  "preprocessing_version": version})
    return Result(title=f"Golden replay: {wrapped.name}", findings=findings,
                  manifest=result_manifest)
