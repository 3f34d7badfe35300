"""``shakeout report``: re-render a saved results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shakeout.cli._app import DEFAULT_OUT, Out, Plan, Quiet, app, emit
from shakeout.errors import ValidationError


@app.command("report")
def report_command(
    results: Annotated[Path, typer.Argument(help="A results.json written by shakeout.")],
    out: Out = DEFAULT_OUT,
    plan: Plan = None,
    quiet: Quiet = False,
) -> None:
    """Re-render report.html, summary.md and junit.xml from a results.json (and re-judge gates)."""
    from shakeout.plan import load_plan
    from shakeout.report.result import Result

    result = Result.load(results)
    if not result.findings:  # an empty report would read like an all-clear
        raise ValidationError(f"{str(results)!r} holds no findings, so there is nothing to "
                              "report; pass the results.json of a run that measured something.")
    gate = load_plan(plan).gate if plan is not None else None
    raise typer.Exit(emit(result, out, gate, quiet=quiet))
