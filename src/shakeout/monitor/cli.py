"""``shakeout monitor``: windows over time against one reference, the history, the latest
window's verdict.

Registered in :mod:`shakeout.monitor.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, Plan, Quiet, Seed, Target, TrustPickle, check_out,
                               configured, console, emit)
from shakeout.drift.cli import (ConformalOpt, CorrectionOpt, FailOn, HoldoutOpt, ModelOpt,
                                MultiOpt, TestsOpt, flags, gate, holdout_data, model_of, print_notes)
from shakeout.errors import ValidationError

MonitorOut = Annotated[Path | None, typer.Option(
    "--out", callback=check_out,
    help="Folder for report.html, results.json, summary.md and junit.xml (default when "
         f"running windows: {DEFAULT_OUT}). Showing the history writes a report only when "
         "--out is given.")]


def monitor_command(
    reference: Annotated[str | None, typer.Argument(
        help="Reference data (.csv or .parquet); omit both paths to show the history.")] = None,
    current: Annotated[str | None, typer.Argument(
        help="Current data: a table file or a folder of them.")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", help="SQLAlchemy URL of the history store (default: the plan's, else "
                        "sqlite:///shakeout-history.db).")] = None,
    stream: Annotated[str, typer.Option(
        "--stream", help="Name of the monitored data set.")] = "default",
    timestamp: Annotated[str | None, typer.Option(
        "--timestamp", help="Column that orders rows in time.")] = None,
    every: Annotated[str | None, typer.Option(
        "--every", help="Window: day, week, month, a pandas frequency (1D, 6h) or a row "
                        "count.")] = None,
    rerun: Annotated[bool, typer.Option(
        "--rerun", help="Compute windows already in the store again (default: skip them, "
                        "except the latest).")] = False,
    target: Target = None, model: ModelOpt = None, holdout: HoldoutOpt = None,
    plan: Plan = None, tests: TestsOpt = None,
    multivariate: MultiOpt = None, correction: CorrectionOpt = None,
    conformal_alpha: ConformalOpt = None,
    fail_on: FailOn = "retrain", out: MonitorOut = None, seed: Seed = None,
    trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Run each window of CURRENT against REFERENCE into the store; report the history.

    Without REFERENCE and CURRENT, show the stored history on the console: nothing is
    written unless --out is given (then the report too, and the gates' verdict).
    """
    from shakeout import monitor
    from shakeout.drills import get

    setup = configured("monitor", plan, seed, store=("--store", store or None),
                       timestamp=("--timestamp", timestamp or None),
                       every=("--every", every or None),
                       **flags(tests, multivariate, correction, conformal_alpha))
    the_gate = gate(setup.plan, fail_on)
    url = setup.section.store or monitor.DEFAULT_URL
    history = monitor.HistoryStore(url, stream=stream)
    if (reference is None) != (current is None):
        raise ValidationError("shakeout monitor takes REFERENCE and CURRENT together, or "
                              "neither (to show the stored history).")
    if reference is None:
        result = _stored(history, url)
    else:
        result = _windows(reference, current, history, setup, target=target, model=model,
                          holdout=holdout, trust_pickle=trust_pickle, quiet=quiet, rerun=rerun)
    _print_history(history)
    scoped = get("monitor").scoped(result)
    if scoped is not None:
        latest = monitor.latest_decision(scoped)
        print_notes([f for f in scoped.findings if f.window == latest.window])
        console.print(f"Latest window {latest.window}: {latest.message}", highlight=False,
                      markup=False)
    if reference is None and out is None:
        raise typer.Exit(0)  # showing writes nothing
    raise typer.Exit(emit(result, out or DEFAULT_OUT, the_gate, quiet=quiet, drill="monitor"))


def _stored(history: Any, url: str) -> Any:
    """The stored history as a Result, with where each alarm began."""
    from shakeout import monitor

    if not history.exists():
        raise ValidationError(f"no history store at {url!r}; check the path, or run "
                              "shakeout monitor REFERENCE CURRENT to create it.")
    findings = history.findings()
    if not findings:
        raise ValidationError(f"the store {url!r} holds no window for stream "
                              f"{history.stream!r}; run shakeout monitor REFERENCE CURRENT "
                              "first.")
    result = history.result()
    return type(result)(title=result.title,
                        findings=result.findings + tuple(monitor.onset(findings)),
                        manifest=result.manifest)


def _windows(reference: str, current: str, history: Any, setup: Any, *, target: str | None,
             model: str | None, holdout: str | None, trust_pickle: bool, quiet: bool,
             rerun: bool) -> Any:
    """Run the windows of CURRENT not yet in the store; say how many ran."""
    from shakeout import monitor
    from shakeout.data import load_dataset

    section = setup.section
    ref = load_dataset(reference, target=target)
    result = monitor.run(
        ref.X, Path(current), timestamp=section.timestamp, every=section.every, target=target,
        model=model_of(model, trust_pickle), y_reference=ref.y,
        holdout=holdout_data(holdout, target, model), store=history, seed=setup.seed,
        quiet=quiet, resume=not rerun, deescalate_after=section.deescalate_after,
        **section.suite_options())
    done = result.manifest.parameters
    skipped = (f", skipped {done['windows_skipped']} already in the store (--rerun to "
               "compute them again)" if done["windows_skipped"] else "")
    plural = "" if done["windows_run"] == 1 else "s"
    console.print(f"Ran {done['windows_run']} window{plural}{skipped}.", highlight=False,
                  markup=False)
    return result


def _print_history(history: Any) -> None:
    from rich.table import Table

    summary = history.summary()
    table = Table(title=f"history of {history.stream!r}")
    for col in ("window", "rows", "status", "action"):
        table.add_column(col)
    for row in summary.itertuples(index=False):
        table.add_row(str(row.window), str(row.n_rows), str(row.status), str(row.action))
    console.print(table)
