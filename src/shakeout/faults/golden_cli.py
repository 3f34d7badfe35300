"""``shakeout golden save|replay`` and ``shakeout parity`` from the command line.

Registered in :mod:`shakeout.faults.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, DataArg, ModelArg, Out, Quiet, Target, TrustPickle,
                               console, emit)
from shakeout.errors import ValidationError

app = typer.Typer(name="golden", no_args_is_help=True, add_completion=False,
                  help="Save a golden set (inputs, outputs, each torch layer's trace) and replay "
                       "it through today's model and preprocessing.")

PreprocessOpt = Annotated[str | None, typer.Option(
    "--preprocess", help="The preprocessing, package.module:function (raw rows -> model "
                         "input); left out, DATA is the model input.")]
VersionOpt = Annotated[str | None, typer.Option(
    "--version", help="The preprocessing's version (a git hash, a package version), recorded "
                      "and compared.")]
RtolOpt = Annotated[float | None, typer.Option(
    "--rtol", help="Relative tolerance (default: 1e-5 when saving; the saved one on replay).")]
AtolOpt = Annotated[float | None, typer.Option(
    "--atol", help="Absolute tolerance (default: 1e-7 when saving; the saved one on replay).")]


def function(spec: str, flag: str) -> Callable[[Any], Any]:
    """The callable a ``package.module:function`` reference names (the current folder is on
    the path, as for MODEL).

    >>> function("math:sqrt", "--preprocess")(4.0)
    2.0
    >>> function("math:pi", "--preprocess")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: --preprocess 'math:pi': pi is not a function.
    """
    from shakeout.models.load import import_reference

    found = import_reference(spec, f"{flag} {spec!r}")
    if not callable(found):
        raise ValidationError(f"{flag} {spec!r}: {spec.partition(':')[2]} is not a function.")
    return found


def optional_function(spec: str | None, flag: str) -> Callable[[Any], Any] | None:
    return None if spec is None else function(spec, flag)


@app.command("save")
def save_command(model: ModelArg, data: DataArg,
                 out: Annotated[Path, typer.Option(
                     "--out", help="Folder for golden.json and golden.npz.")] = Path("golden"),
                 preprocess: PreprocessOpt = None, version: VersionOpt = None,
                 rows: Annotated[int, typer.Option(
                     "--rows", min=1, help="The first ROWS rows of DATA make the set.")] = 256,
                 rtol: RtolOpt = None, atol: AtolOpt = None, target: Target = None,
                 trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Save a golden set of MODEL on the first rows of DATA."""
    from shakeout.cli._app import inputs
    from shakeout.faults.golden import ATOL, RTOL, save_golden

    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    X = ds.X.iloc[:rows] if hasattr(ds.X, "iloc") else ds.X[:rows]
    folder = save_golden(wrapped, X, out, preprocess=optional_function(preprocess, "--preprocess"),
                         version=version, rtol=RTOL if rtol is None else rtol,
                         atol=ATOL if atol is None else atol)
    console.print(f"Golden set of {wrapped.name} on {len(X)} rows written to {folder}",
                  highlight=False)


@app.command("replay")
def replay_command(golden: Annotated[Path, typer.Argument(help="A golden set folder.")],
                   model: ModelArg, preprocess: PreprocessOpt = None, version: VersionOpt = None,
                   rtol: RtolOpt = None, atol: AtolOpt = None, out: Out = DEFAULT_OUT,
                   trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Replay the golden set GOLDEN through MODEL; exit 1 when anything moved beyond tolerance."""
    from shakeout.faults.golden import replay
    from shakeout.models import load_model

    result = replay(golden, load_model(model, trust_pickle=trust_pickle),
                    preprocess=optional_function(preprocess, "--preprocess"), version=version,
                    rtol=rtol, atol=atol)
    first = result.select(metric="first_divergence")[0]
    console.print(first.message, highlight=False, markup=False)
    code = emit(result, out, None, quiet=quiet, drill="golden")
    raise typer.Exit(1 if result.status == "fail" else code)


def parity_command(data: DataArg,
                   offline: Annotated[str, typer.Option(
                       "--offline", help="The offline preprocessing, package.module:function.")],
                   online: Annotated[str, typer.Option(
                       "--online", help="The online preprocessing, package.module:function.")],
                   rtol: Annotated[float, typer.Option(
                       "--rtol", help="Relative tolerance.")] = 1e-9,
                   atol: Annotated[float, typer.Option(
                       "--atol", help="Absolute tolerance.")] = 0.0,
                   target: Target = None, out: Out = DEFAULT_OUT, quiet: Quiet = False) -> None:
    """Compare the offline and online preprocessing on the raw rows of DATA, feature by
    feature; exit 1 when any feature differs."""
    from shakeout.data import load_dataset
    from shakeout.faults.parity import parity

    ds = load_dataset(data, target=target)
    result = parity(ds.X, function(offline, "--offline"), function(online, "--online"),
                    rtol=rtol, atol=atol)
    console.print(result.select(metric="features_differing")[0].message, highlight=False,
                  markup=False)
    code = emit(result, out, None, quiet=quiet, drill="parity")
    raise typer.Exit(1 if result.status == "fail" else code)
