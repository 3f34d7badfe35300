"""``shakeout poison``: train on poisoned data and measure what the poison did.

Registered in :mod:`shakeout.poison.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Seed, Target, configured, console,
                               emit, names, numbers)
from shakeout.errors import ValidationError

TrainArg = Annotated[str, typer.Argument(
    help="Training function package.module:function: takes (X, y), returns a fitted model.")]
TrainData = Annotated[str, typer.Argument(help="Training data: .csv, .parquet or .npz.")]
TestData = Annotated[str, typer.Argument(help="Clean test data, the same format.")]
AttackOpt = Annotated[str | None, typer.Option(
    "--attack", help="Attacks, comma-separated: label_flip, patch_backdoor, tabular_backdoor, "
                     "clean_label_backdoor, subpopulation (default: the plan's, else "
                     "label_flip); their settings come from the plan's poison.params.")]
RatesOpt = Annotated[str | None, typer.Option(
    "--rates", help="Poisoning rates, the share of training rows poisoned, comma-separated, "
                    "each in [0, 1) (default 0,0.01,0.03,0.1).")]
TrialsOpt = Annotated[int | None, typer.Option(
    "--trials", help="Poisoned draws per attack and rate (default 1).")]
LevelOpt = Annotated[float | None, typer.Option(
    "--level", help="Level of every interval (default 0.95).")]


def training_function(spec: str) -> Any:
    """The function ``package.module:function`` names (the current folder is importable).

    >>> training_function("math:hypot")(3, 4)
    5.0
    >>> training_function("math:pi")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: training function 'math:pi' names an object of type \
float, not a function; name a function that takes (X, y) and returns a fitted model.
    """
    from shakeout.models.load import import_reference

    fn = import_reference(spec, f"training function {spec!r}")
    if not callable(fn):
        raise ValidationError(f"training function {spec!r} names an object of type "
                              f"{type(fn).__name__}, not a function; name a function that "
                              "takes (X, y) and returns a fitted model.")
    return fn


def poison_command(train_fn: TrainArg, train: TrainData, test: TestData,
                   attack: AttackOpt = None, rates: RatesOpt = None, trials: TrialsOpt = None,
                   level: LevelOpt = None, plan: Plan = None, target: Target = None,
                   out: Out = DEFAULT_OUT, seed: Seed = None, quiet: Quiet = False) -> None:
    """Poison TRAIN, train TRAIN_FN on it, and judge the models on TEST: clean accuracy, attack
    success rate and per-slice accuracy against the poisoning rate."""
    from shakeout.data import load_dataset
    from shakeout.poison.simulate import run

    setup = configured(
        "poison", plan, seed,
        attacks=("--attack", names(attack)),
        rates=("--rates", None if rates is None else numbers("--rates", rates)),
        trials=("--trials", trials), level=("--level", level))
    fn = training_function(train_fn)
    fit, held = load_dataset(train, target=target), load_dataset(test, target=target)
    for ds, role in ((fit, "TRAIN"), (held, "TEST")):
        if ds.y is None:
            raise ValidationError(f"{role} {ds.name}: poisoning needs labels; save them as y in "
                                  "the .npz or name the target column with --target.")
    if not quiet:
        console.print(f"Poisoning {fit.name} ({len(fit.X)} rows) for {train_fn}, judged on "
                      f"{held.name} ({len(held.X)} rows)", highlight=False)
    result = run(fn, fit.X, fit.y, held.X, held.y, seed=setup.seed, quiet=quiet,
                 data_name=fit.name, **setup.section.run_kwargs())
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="poison"))
