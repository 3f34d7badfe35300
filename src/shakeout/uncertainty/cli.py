"""``shakeout uncertainty``: calibration, selective prediction and conformal sets from the
command line.

Registered in :mod:`shakeout.uncertainty.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, ModelArg, Out, Plan, Quiet, Seed, Target, TrustPickle,
                               configured, emit, inputs)

DataArg = Annotated[str, typer.Argument(
    help="Labelled test data: .csv, .parquet or .npz (arrays X and y).")]
CalibrationOpt = Annotated[str | None, typer.Option(
    "--calibration", help="Labelled calibration data, same format (default: half of DATA, "
                          "seeded).")]
AlphaOpt = Annotated[float | None, typer.Option(
    "--alpha", help="Conformal miscoverage: sets hold the truth with probability >= 1 - alpha "
                    "(default 0.1).")]
RiskOpt = Annotated[float | None, typer.Option(
    "--risk", help="Target error rate among answered inputs for the rejection threshold "
                   "(default 0.05).")]
DeltaOpt = Annotated[float | None, typer.Option(
    "--delta", help="Probability that the risk guarantee fails (default 0.05).")]
McDropoutOpt = Annotated[int | None, typer.Option(
    "--mc-dropout", help="MC-dropout passes per input for a torch model with dropout "
                         "(default 0: none).")]


def uncertainty_command(model: ModelArg, data: DataArg, calibration: CalibrationOpt = None,
                        alpha: AlphaOpt = None, risk: RiskOpt = None, delta: DeltaOpt = None,
                        mc_dropout: McDropoutOpt = None, plan: Plan = None,
                        target: Target = None, out: Out = DEFAULT_OUT, seed: Seed = None,
                        trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Can MODEL's answers on DATA be trusted? Calibration, rejection threshold, conformal sets."""
    from shakeout.drills import get

    setup = configured("uncertainty", plan, seed, calibration=("--calibration", calibration),
                       target=("--target", target if calibration is not None else None),
                       alpha=("--alpha", alpha), risk=("--risk", risk),
                       delta=("--delta", delta), mc_dropout=("--mc-dropout", mc_dropout))
    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    result = get("uncertainty").runner()(wrapped, ds, setup.section, seed=setup.seed,
                                         quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="uncertainty"))
