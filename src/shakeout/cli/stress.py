"""``shakeout stress`` and ``shakeout compare``: the stress drill from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Target, TrustPickle, app,
                               console, emit)

ModelArg = Annotated[str, typer.Argument(
    help="Model: package.module:attribute, a .onnx file, a TorchScript .pt, or a pickle "
         "(with --trust-pickle).")]
DataArg = Annotated[str, typer.Argument(help="Data: .csv, .parquet or .npz (arrays X and y).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed (default: the plan's, else 0).")]
Repeats = Annotated[int | None, typer.Option(
    "--repeats", min=1, help="Draws of each perturbation per severity (default: the plan's, "
                             "else 5); intervals include the draw-to-draw spread.")]
AllowNan = Annotated[bool, typer.Option("--allow-nan",
                                        help="Pass NaN inputs to a model that handles them.")]


@app.command("stress")
def stress_command(model: ModelArg, data: DataArg, plan: Plan = None, target: Target = None,
                   out: Out = DEFAULT_OUT, seed: SeedOpt = None, repeats: Repeats = None,
                   allow_nan: AllowNan = False, trust_pickle: TrustPickle = False,
                   quiet: Quiet = False) -> None:
    """Stress-test MODEL on DATA: degradation curves with intervals, sensitivity, gates."""
    from shakeout import stress
    from shakeout.data import load_dataset
    from shakeout.models import load_model
    from shakeout.plan import load_plan

    the_plan = load_plan(plan)
    wrapped = load_model(model, trust_pickle=trust_pickle)
    ds = load_dataset(data, target=target)
    kwargs = the_plan.stress.run_kwargs()
    kwargs["allow_nan"] = kwargs["allow_nan"] or allow_nan
    if repeats is not None:
        kwargs["repeats"] = repeats
    if not quiet:
        console.print(f"Stress-testing {wrapped.name} on {ds.name} ({len(ds.X)} rows)",
                      highlight=False)
    result = stress.run(wrapped, ds.X, ds.y, seed=the_plan.seed if seed is None else seed,
                        quiet=quiet, data_name=ds.name, **kwargs)
    raise typer.Exit(emit(result, out, the_plan.gate if the_plan.gates else None, quiet=quiet))


@app.command("compare")
def compare_command(
    old: Annotated[str, typer.Argument(help="The current model (same forms as MODEL).")],
    new: Annotated[str, typer.Argument(help="The candidate model.")],
    data: DataArg, plan: Plan = None, target: Target = None, out: Out = DEFAULT_OUT,
    seed: SeedOpt = None, trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Compare two model versions on DATA: agreement, flip rate, paired metric differences."""
    from shakeout.data import load_dataset
    from shakeout.models import load_model
    from shakeout.plan import load_plan
    from shakeout.stress import compare

    the_plan = load_plan(plan)
    ds = load_dataset(data, target=target)
    result = compare(load_model(old, trust_pickle=trust_pickle),
                     load_model(new, trust_pickle=trust_pickle), ds.X, ds.y,
                     metrics=the_plan.stress.metrics, n_bootstrap=the_plan.stress.n_bootstrap,
                     level=the_plan.stress.level, alpha=the_plan.stress.alpha,
                     seed=the_plan.seed if seed is None else seed, data_name=ds.name)
    raise typer.Exit(emit(result, out, the_plan.gate if the_plan.gates else None, quiet=quiet))
