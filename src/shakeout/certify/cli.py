"""``shakeout certify``: randomized smoothing from the command line.

Registered in :mod:`shakeout.certify.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, DataArg, Out, Plan, Quiet, Seed, Target, TrustPickle,
                               configured, console, emit, inputs, numbers)

ModelArg = Annotated[str, typer.Argument(
    help="A torch model: package.module:attribute or a TorchScript .pt file.")]
SigmaOpt = Annotated[float | None, typer.Option(
    "--sigma", help="Noise scale > 0: the Gaussian's standard deviation (l2) or the uniform "
                    "noise's half-width (l1), in input units (default 0.25).")]
NormOpt = Annotated[str | None, typer.Option(
    "--norm", help="l2 (Gaussian noise, the default) or l1 (uniform noise).")]
RelativeOpt = Annotated[bool | None, typer.Option(
    "--relative/--absolute", help="sigma relative to each feature's standard deviation "
                                  "(radii then in standardized units), or in input units.")]
N0Opt = Annotated[int | None, typer.Option("--n0", help="Noisy passes that pick the class "
                                                        "(default 100).")]
NOpt = Annotated[int | None, typer.Option("--n", help="Noisy passes that bound its probability "
                                                      "(default 100000).")]
AlphaOpt = Annotated[float | None, typer.Option(
    "--alpha", help="Each certificate's failure probability (default 0.001).")]
RadiiOpt = Annotated[str | None, typer.Option(
    "--radii", help="Radii of the certified-accuracy curve, comma-separated, e.g. "
                    "0,0.25,0.5 (default: multiples of sigma).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Rows per noisy forward "
                                                                  "pass (default 4096).")]
NoSanity = Annotated[bool, typer.Option("--no-sanity", help="Skip the soundness check.")]


def certify_command(model: ModelArg, data: DataArg, sigma: SigmaOpt = None, norm: NormOpt = None,
                    relative: RelativeOpt = None, n0: N0Opt = None, n: NOpt = None,
                    alpha: AlphaOpt = None, radii: RadiiOpt = None, plan: Plan = None,
                    target: Target = None, out: Out = DEFAULT_OUT, seed: Seed = None,
                    batch_size: BatchOpt = None, no_sanity: NoSanity = False,
                    trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Certify MODEL on DATA by randomized smoothing: certified accuracy against radius."""
    from shakeout.drills import get

    setup = configured(
        "certify", plan, seed, sigma=("--sigma", sigma), norm=("--norm", norm),
        relative=("--relative", relative), n0=("--n0", n0), n=("--n", n),
        alpha=("--alpha", alpha),
        radii=("--radii", None if radii is None else numbers("--radii", radii)),
        batch_size=("--batch-size", batch_size),
        sanity=("--no-sanity", False if no_sanity else None))
    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    if not quiet:
        console.print(f"Certifying {wrapped.name} on {ds.name} ({len(ds.X)} rows, "
                      f"n={setup.section.n} noisy passes each)", highlight=False)
    result = get("certify").runner()(wrapped, ds, setup.section, seed=setup.seed, quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="certify"))

