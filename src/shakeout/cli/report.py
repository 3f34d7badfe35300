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
    """Re-render report.html, summary.md and junit.xml from a results.json.

    With --plan its gates judge the findings again; without, the verdict saved in the file
    (if any) is shown and sets the exit code.
    """
    from shakeout.plan import load_plan
    from shakeout.report.gate import GateOutcome
    from shakeout.report.result import Result, read_results

    data = read_results(results)
    result = Result.from_dict(data, source=repr(str(results)))
    if not result.findings:  # an empty report would read like an all-clear
        raise ValidationError(f"{str(results)!r} holds no findings, so there is nothing to "
                              "report; pass the results.json of a run that measured something.")
    if plan is not None:
        raise typer.Exit(emit(result, out, load_plan(plan).gate, quiet=quiet))
    saved = data.get("gate")
    verdict = None if saved is None else GateOutcome.from_dict(saved)
    raise typer.Exit(emit(result, out, verdict=verdict, quiet=quiet))
