"""``shakeout demo``: the main job on bundled data, in one command."""

from __future__ import annotations

import typer

from shakeout.cli._app import DEFAULT_OUT, Out, Quiet, Seed, app, console, emit


@app.command("demo")
def demo_command(out: Out = DEFAULT_OUT, seed: Seed = 0, quiet: Quiet = False) -> None:
    """Train small models on bundled data; stress-test, attack, certify and monitor them;
    measure the CNN's uncertainty; report."""
    from shakeout.demo.run import DEMO_GATE, run_demo

    if not quiet:
        console.print("Training a gradient-boosted model (breast cancer), two CNNs (digits; one "
                      "trained with noise, for certification) and a logistic regression (a "
                      "weekly stream that drifts), then running the drills...", highlight=False)
    result = run_demo(seed=0 if seed is None else seed, quiet=quiet)
    from shakeout.monitor import latest_decision

    latest = latest_decision(result)
    if latest is not None and not quiet:
        console.print(f"{latest.subject}, week of {latest.window}: {latest.message}",
                      highlight=False, markup=False)
    raise typer.Exit(emit(result, out, DEMO_GATE, quiet=quiet))
