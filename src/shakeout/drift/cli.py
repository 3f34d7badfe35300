"""``shakeout drift`` (one comparison) and ``shakeout monitor`` (windows over time, history)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Seed, Target, TrustPickle, app,
                               check_out, console, emit)
from shakeout.errors import ValidationError

ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Model to test output and performance drift: package.module:attribute, "
                    ".onnx, TorchScript .pt, or a pickle (with --trust-pickle).")]
TestsOpt = Annotated[str | None, typer.Option(
    "--tests", help="Tests for numeric columns, comma-separated: psi,ks,kl,js,wasserstein,"
                    "anderson,chi2 (default: the plan's, else psi,ks,kl).")]
MultiOpt = Annotated[str | None, typer.Option(
    "--multivariate", help="Multivariate tests: mmd,classifier,projection, or 'none'.")]
CorrectionOpt = Annotated[str | None, typer.Option(
    "--correction", help="Across features: holm, bonferroni, bh or none.")]
HoldoutOpt = Annotated[str | None, typer.Option(
    "--holdout", help="Labelled rows the model did not train on (.csv, .parquet, .npz; the "
                      "--target column): the performance baseline. Default: the reference.")]
FailOn = Annotated[str, typer.Option(
    "--fail-on", help="Exit 1 when the decision is at least: retrain, investigate, or never.")]
FAIL_LEVELS = {"retrain": 1.0, "investigate": 0.0}


MonitorOut = Annotated[Path | None, typer.Option(
    "--out", callback=check_out,
    help="Folder for report.html, results.json, summary.md and junit.xml (default when "
         f"running windows: {DEFAULT_OUT}). Showing the history writes a report only when "
         "--out is given.")]


def _options(plan: Any, tests: str | None, multivariate: str | None,
             correction: str | None) -> dict[str, Any]:
    options = plan.drift.suite_options()
    if tests:
        options["tests"] = [t.strip() for t in tests.split(",") if t.strip()]
    if multivariate:
        options["multivariate"] = ([] if multivariate.strip() == "none" else
                                   [t.strip() for t in multivariate.split(",") if t.strip()])
    if correction:
        options["correction"] = correction
    return options


def _gate(plan: Any, fail_on: str) -> Any:
    from shakeout.report.gate import Gate, GateCondition

    if fail_on not in (*FAIL_LEVELS, "never"):
        raise ValidationError(f"--fail-on must be retrain, investigate or never, got {fail_on!r}.")
    conditions = list(plan.gates)
    if fail_on != "never":
        conditions.append(GateCondition(metric="decision", drill="drift", group="decision",
                                        max=FAIL_LEVELS[fail_on], on="value"))
    return Gate(conditions=conditions) if conditions else None


def _holdout(path: str | None, target: str | None, model: str | None) -> Any:
    if path is None:
        return None
    if model is None or target is None:
        raise ValidationError("--holdout is the model's performance baseline: give --model and "
                              "--target with it.")
    from shakeout.data import load_dataset

    data = load_dataset(path, target=target)
    return data.X, data.y


def _model(spec: str | None, trust_pickle: bool) -> Any:
    if spec is None:
        return None
    from shakeout.models import load_model

    return load_model(spec, trust_pickle=trust_pickle)


@app.command("drift")
def drift_command(
    reference: Annotated[str, typer.Argument(help="Reference data: .csv, .parquet or .npz.")],
    current: Annotated[str, typer.Argument(help="Current data, same columns.")],
    target: Target = None, model: ModelOpt = None, holdout: HoldoutOpt = None,
    plan: Plan = None, tests: TestsOpt = None,
    multivariate: MultiOpt = None, correction: CorrectionOpt = None,
    fail_on: FailOn = "retrain", out: Out = DEFAULT_OUT, seed: Seed = None,
    trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Has CURRENT drifted from REFERENCE? Tests per feature, decision, report, exit code."""
    from shakeout import drift
    from shakeout.data import load_dataset
    from shakeout.plan import load_plan

    the_plan = load_plan(plan)
    gate = _gate(the_plan, fail_on)
    ref = load_dataset(reference, target=target)
    cur = load_dataset(current, target=target)
    if not quiet:
        console.print(f"Comparing {cur.name} ({len(cur.X)} rows) with {ref.name} "
                      f"({len(ref.X)} rows)", highlight=False)
    result = drift.run(ref.X, cur.X, model=_model(model, trust_pickle), y_reference=ref.y,
                       y_current=cur.y, holdout=_holdout(holdout, target, model),
                       seed=the_plan.seed if seed is None else seed,
                       **_options(the_plan, tests, multivariate, correction))
    decision = result.findings[-1]
    _print_notes(result.findings)
    console.print(decision.message, highlight=False, markup=False)
    raise typer.Exit(emit(result, out, gate, quiet=quiet))


@app.command("monitor")
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
    fail_on: FailOn = "retrain", out: MonitorOut = None, seed: Seed = None,
    trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Run each window of CURRENT against REFERENCE into the store; report the history.

    Without REFERENCE and CURRENT, show the stored history on the console: nothing is
    written unless --out is given (then the report too, and the gates' verdict).
    """
    from shakeout import monitor
    from shakeout.data import load_dataset
    from shakeout.plan import load_plan

    the_plan = load_plan(plan)
    gate = _gate(the_plan, fail_on)
    url = store or the_plan.drift.store or monitor.DEFAULT_URL
    history = monitor.HistoryStore(url, stream=stream)
    if (reference is None) != (current is None):
        raise ValidationError("shakeout monitor takes REFERENCE and CURRENT together, or "
                              "neither (to show the stored history).")
    if reference is None:
        if not history.exists():
            raise ValidationError(f"no history store at {url!r}; check the path, or run "
                                  "shakeout monitor REFERENCE CURRENT to create it.")
        findings = history.findings()
        if not findings:
            raise ValidationError(f"the store {url!r} holds no window for stream {stream!r}; "
                                  "run shakeout monitor REFERENCE CURRENT first.")
        result = history.result()
        result = type(result)(title=result.title,
                              findings=result.findings + tuple(monitor.onset(findings)),
                              manifest=result.manifest)
    else:
        ref = load_dataset(reference, target=target)
        result = monitor.run(
            ref.X, Path(current), timestamp=timestamp or the_plan.drift.timestamp,
            every=every or the_plan.drift.every, target=target,
            model=_model(model, trust_pickle), y_reference=ref.y,
            holdout=_holdout(holdout, target, model), store=history,
            seed=the_plan.seed if seed is None else seed, quiet=quiet, resume=not rerun,
            deescalate_after=the_plan.drift.deescalate_after,
            **_options(the_plan, tests, multivariate, correction))
        done = result.manifest.parameters
        skipped = (f", skipped {done['windows_skipped']} already in the store (--rerun to "
                   "compute them again)" if done["windows_skipped"] else "")
        plural = "" if done["windows_run"] == 1 else "s"
        console.print(f"Ran {done['windows_run']} window{plural}{skipped}.", highlight=False,
                      markup=False)
    _print_history(history)
    scoped = monitor.latest_window(result)  # gates judge the latest window only
    if scoped is not None:
        latest = next(f for f in scoped.findings if f.metric == "decision" and f.window)
        _print_notes([f for f in scoped.findings if f.window == latest.window])
        console.print(f"Latest window {latest.window}: {latest.message}", highlight=False,
                      markup=False)
    if reference is None and out is None:
        raise typer.Exit(0)  # showing writes nothing
    raise typer.Exit(emit(result, out or DEFAULT_OUT, gate, quiet=quiet, scope=scoped,
                          scope_name="latest window" if scoped is not None else ""))


def _print_notes(findings: Any, limit: int = 8) -> None:
    """One line for each thing left untested: columns, rows, tests that could not run."""
    notes = [f for f in findings if f.group == "schema" or "error" in f.details
             or f.details.get("rows_left_out")]
    for f in notes[:limit]:
        console.print(f"note: {f.message}", highlight=False, markup=False)
    if len(notes) > limit:
        console.print(f"note: ...and {len(notes) - limit} more in the report.", highlight=False,
                      markup=False)


def _print_history(history: Any) -> None:
    from rich.table import Table

    summary = history.summary()
    table = Table(title=f"history of {history.stream!r}")
    for col in ("window", "rows", "status", "action"):
        table.add_column(col)
    for row in summary.itertuples(index=False):
        table.add_row(str(row.window), str(row.n_rows), str(row.status), str(row.action))
    console.print(table)
