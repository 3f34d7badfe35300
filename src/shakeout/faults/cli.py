"""``shakeout faults``: a fault-injection campaign from the command line.

Registered in :mod:`shakeout.faults.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, DataArg, ModelArg, Out, Plan, Quiet, Seed, Target,
                               TrustPickle, configured, console, emit, inputs, names,
                               numbers)

WhereOpt = Annotated[str | None, typer.Option(
    "--where", help="weight (parameters, the default) or activation (layer outputs, torch).")]
KindsOpt = Annotated[str | None, typer.Option(
    "--kinds", help="Fault kinds, comma-separated: flip, stuck_at_0, stuck_at_1, random_value.")]
BitsOpt = Annotated[str | None, typer.Option(
    "--bits", help="Bit positions, comma-separated, 0 the least significant (default: all).")]
LayersOpt = Annotated[str | None, typer.Option(
    "--layers", help="Fault sites by name, comma-separated (e.g. conv1.weight or conv1).")]
TypesOpt = Annotated[str | None, typer.Option(
    "--layer-types", help="Fault sites by layer class, comma-separated (e.g. Conv2d,Linear).")]
MarginOpt = Annotated[float | None, typer.Option(
    "--margin", help="Half-width the sample size is computed for (default 0.01).")]
ConfidenceOpt = Annotated[float | None, typer.Option(
    "--confidence", help="Confidence of the sample size and intervals (default 0.99).")]
ExhaustiveOpt = Annotated[int | None, typer.Option(
    "--exhaustive-max", help="Run every fault when there are at most this many (default 20000).")]
TransientOpt = Annotated[bool | None, typer.Option(
    "--transient/--permanent", help="A fault strikes one inference, or every inference.")]
MitigationOpt = Annotated[str | None, typer.Option(
    "--mitigations", help="Comma-separated: range_restriction, redundant_execution, protection.")]
ProbabilityOpt = Annotated[float | None, typer.Option(
    "--fault-probability", help="Probability that one inference suffers a fault: enables the "
                                "fleet finding.")]
FleetOpt = Annotated[int | None, typer.Option(
    "--fleet", help="Inferences or devices of the fleet finding (default 1000000).")]



def _bits(text: str | None) -> list[int] | None:
    if text is None:
        return None
    values = numbers("--bits", text)
    if any(not float(v).is_integer() for v in values):
        from shakeout.errors import ValidationError

        raise ValidationError(f"--bits must be whole bit positions such as 30,31, got {text!r}.")
    return [int(v) for v in values]


def faults_command(model: ModelArg, data: DataArg, where: WhereOpt = None, kinds: KindsOpt = None,
                   bits: BitsOpt = None, layers: LayersOpt = None, layer_types: TypesOpt = None,
                   margin: MarginOpt = None, confidence: ConfidenceOpt = None,
                   exhaustive_max: ExhaustiveOpt = None, transient: TransientOpt = None,
                   mitigations: MitigationOpt = None, fault_probability: ProbabilityOpt = None,
                   fleet: FleetOpt = None, plan: Plan = None, target: Target = None,
                   out: Out = DEFAULT_OUT, seed: Seed = None, trust_pickle: TrustPickle = False,
                   quiet: Quiet = False) -> None:
    """Inject single faults into MODEL and measure SDC, critical SDC and DUE rates on DATA."""
    from shakeout.drills import get

    setup = configured(
        "faults", plan, seed, where=("--where", where), kinds=("--kinds", names(kinds)),
        bits=("--bits", _bits(bits)), layers=("--layers", names(layers)),
        layer_types=("--layer-types", names(layer_types)), margin=("--margin", margin),
        confidence=("--confidence", confidence),
        exhaustive_max=("--exhaustive-max", exhaustive_max),
        transient=("--transient", transient),
        mitigations=("--mitigations", names(mitigations)),
        fault_probability=("--fault-probability", fault_probability),
        fleet=("--fleet", fleet))
    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    if not quiet:
        console.print(f"Injecting faults into {wrapped.name} on {ds.name} ({len(ds.X)} rows)",
                      highlight=False)
    result = get("faults").runner()(wrapped, ds, setup.section, seed=setup.seed, quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="faults"))
