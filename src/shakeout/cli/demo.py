"""``shakeout demo``: the main job on bundled data, in one command."""

from __future__ import annotations

import typer

from shakeout.cli._app import DEFAULT_OUT, Out, Quiet, Seed, app, console, emit


@app.command("demo")
def demo_command(out: Out = DEFAULT_OUT, seed: Seed = 0, quiet: Quiet = False) -> None:
    """Train small models on bundled data, stress-test and attack them, write the report."""
    from shakeout.demo.run import DEMO_GATE, run_demo

    if not quiet:
        console.print("Training a gradient-boosted model (breast cancer) and a CNN (digits), "
                      "then running the drills...", highlight=False)
    result = run_demo(seed=seed, quiet=quiet)
    raise typer.Exit(emit(result, out, DEMO_GATE, quiet=quiet))
