"""``shakeout drift``: one comparison, from the command line; the options and helpers that
``shakeout monitor`` shares.

Registered in :mod:`shakeout.drift.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Seed, Target, TrustPickle,
                               configured, console, emit, names)
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
ConformalOpt = Annotated[float | None, typer.Option(
    "--conformal-alpha", help="With --model and --holdout: calibrate conformal sets at this "
                              "miscoverage on the holdout and test their coverage on the "
                              "labelled current rows.")]
HoldoutOpt = Annotated[str | None, typer.Option(
    "--holdout", help="Labelled rows the model did not train on (.csv, .parquet, .npz; the "
                      "--target column): the performance baseline. Default: the reference.")]
FailOn = Annotated[str, typer.Option(
    "--fail-on", help="Exit 1 when the decision is at least: retrain, investigate, or never.")]
FAIL_LEVELS = {"retrain": 1.0, "investigate": 0.0}


def flags(tests: str | None, multivariate: str | None, correction: str | None,
          conformal_alpha: float | None = None) -> dict[str, tuple[str, Any]]:
    """The drift section's fields that ``--tests``, ``--multivariate``, ``--correction`` and
    ``--conformal-alpha`` set, for :func:`~shakeout.cli._app.configured`.

    >>> flags("psi, ks", "none", None)["multivariate"]
    ('--multivariate', [])
    """
    chosen = None
    if multivariate:
        chosen = [] if multivariate.strip() == "none" else names(multivariate)
    return {"tests": ("--tests", names(tests) if tests else None),
            "multivariate": ("--multivariate", chosen),
            "correction": ("--correction", correction or None),
            "conformal_alpha": ("--conformal-alpha", conformal_alpha)}



def gate(plan: Any, fail_on: str) -> Any:
    """The plan's gate, with a condition on the decision unless ``--fail-on never``."""
    from shakeout.report.gate import Gate, GateCondition

    if fail_on not in (*FAIL_LEVELS, "never"):
        raise ValidationError(f"--fail-on must be retrain, investigate or never, got {fail_on!r}.")
    conditions = list(plan.gates)
    if fail_on != "never":
        conditions.append(GateCondition(metric="decision", drill="drift", group="decision",
                                        max=FAIL_LEVELS[fail_on], on="value"))
    return Gate(conditions=conditions) if conditions else None


def holdout_data(path: str | None, target: str | None, model: str | None) -> Any:
    if path is None:
        return None
    if model is None or target is None:
        raise ValidationError("--holdout is the model's performance baseline: give --model and "
                              "--target with it.")
    from shakeout.data import load_dataset

    data = load_dataset(path, target=target)
    return data.X, data.y


def model_of(spec: str | None, trust_pickle: bool) -> Any:
    if spec is None:
        return None
    from shakeout.models import load_model

    return load_model(spec, trust_pickle=trust_pickle)


def drift_command(
    reference: Annotated[str, typer.Argument(help="Reference data: .csv, .parquet or .npz.")],
    current: Annotated[str, typer.Argument(help="Current data, same columns.")],
    target: Target = None, model: ModelOpt = None, holdout: HoldoutOpt = None,
    plan: Plan = None, tests: TestsOpt = None,
    multivariate: MultiOpt = None, correction: CorrectionOpt = None,
    conformal_alpha: ConformalOpt = None,
    fail_on: FailOn = "retrain", out: Out = DEFAULT_OUT, seed: Seed = None,
    trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Has CURRENT drifted from REFERENCE? Tests per feature, decision, report, exit code."""
    from shakeout import drift
    from shakeout.data import load_dataset

    setup = configured("drift", plan, seed,
                       **flags(tests, multivariate, correction, conformal_alpha))
    the_gate = gate(setup.plan, fail_on)
    ref = load_dataset(reference, target=target)
    cur = load_dataset(current, target=target)
    if not quiet:
        console.print(f"Comparing {cur.name} ({len(cur.X)} rows) with {ref.name} "
                      f"({len(ref.X)} rows)", highlight=False)
    result = drift.run(ref.X, cur.X, model=model_of(model, trust_pickle), y_reference=ref.y,
                       y_current=cur.y, holdout=holdout_data(holdout, target, model),
                       seed=setup.seed, **setup.section.suite_options())
    decision = result.findings[-1]
    print_notes(result.findings)
    console.print(decision.message, highlight=False, markup=False)
    raise typer.Exit(emit(result, out, the_gate, quiet=quiet, drill="drift"))


def print_notes(findings: Any, limit: int = 8) -> None:
    """One line for each thing left untested: columns, rows, tests that could not run."""
    notes = [f for f in findings if f.group == "schema" or "error" in f.details
             or f.details.get("rows_left_out")]
    for f in notes[:limit]:
        console.print(f"note: {f.message}", highlight=False, markup=False)
    if len(notes) > limit:
        console.print(f"note: ...and {len(notes) - limit} more in the report.", highlight=False,
                      markup=False)
