"""``shakeout stress`` and ``shakeout compare``: the stress drill from the command line.

Registered in :mod:`shakeout.stress.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from shakeout.cli._app import (DEFAULT_OUT, DataArg, ModelArg, Out, Plan, Quiet, Seed, Target,
                               TrustPickle, configured, console, emit, inputs)

if TYPE_CHECKING:
    from shakeout.report.result import Finding, Result

Repeats = Annotated[int | None, typer.Option(
    "--repeats", min=1, help="Draws of each perturbation per severity (default: the plan's, "
                             "else 5); intervals include the draw-to-draw spread.")]
NBootstrap = Annotated[int | None, typer.Option(
    "--n-bootstrap", min=10, help="Bootstrap resamples per interval (default: the plan's, else "
                                  "1000); more resamples lower the p-value floor 1/(B+1).")]
AllowNan = Annotated[bool, typer.Option("--allow-nan",
                                        help="Pass NaN inputs to a model that handles them.")]


def stress_command(model: ModelArg, data: DataArg, plan: Plan = None, target: Target = None,
                   out: Out = DEFAULT_OUT, seed: Seed = None, repeats: Repeats = None,
                   n_bootstrap: NBootstrap = None, allow_nan: AllowNan = False,
                   trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Stress-test MODEL on DATA: degradation curves with intervals, sensitivity, gates."""
    from shakeout.drills import get

    setup = configured("stress", plan, seed, repeats=("--repeats", repeats),
                       n_bootstrap=("--n-bootstrap", n_bootstrap),
                       allow_nan=("--allow-nan", True if allow_nan else None))
    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    if not quiet:
        console.print(f"Stress-testing {wrapped.name} on {ds.name} ({len(ds.X)} rows)",
                      highlight=False)
    result = get("stress").runner()(wrapped, ds, setup.section, seed=setup.seed, quiet=quiet)
    print_stress(result, quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="stress"))


def compare_command(
    old: Annotated[str, typer.Argument(help="The current model (same forms as MODEL).")],
    new: Annotated[str, typer.Argument(help="The candidate model.")],
    data: DataArg, plan: Plan = None, target: Target = None, out: Out = DEFAULT_OUT,
    seed: Seed = None, trust_pickle: TrustPickle = False, quiet: Quiet = False,
) -> None:
    """Compare two model versions on DATA: agreement, flip rate, paired metric differences."""
    from shakeout.data import load_dataset
    from shakeout.models import load_model
    from shakeout.stress.compare import compare

    setup = configured("compare", plan, seed)
    ds = load_dataset(data, target=target)
    section = setup.section
    result = compare(load_model(old, trust_pickle=trust_pickle),
                     load_model(new, trust_pickle=trust_pickle), ds.X, ds.y,
                     metrics=section.metrics, n_bootstrap=section.n_bootstrap,
                     level=section.level, alpha=section.alpha, seed=setup.seed,
                     data_name=ds.name)
    print_compare(result, quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="compare"))


def with_interval(f: Finding) -> str:
    """``value [low, high]`` to three decimals, or the value alone when there is no interval.

    >>> from shakeout.report.result import Finding
    >>> with_interval(Finding(name="a", metric="accuracy", value=0.9, ci=(0.85, 0.94)))
    '0.900 [0.850, 0.940]'
    """
    if f.ci is None:
        return f"{f.value:.3f}"
    return f"{f.value:.3f} [{f.ci[0]:.3f}, {f.ci[1]:.3f}]"


def headline(result: Result) -> dict[str, tuple[list[Finding], Finding | None]]:
    """Per perturbation: the headline metric at each level, and the robustness score.

    The headline metric is the run's primary metric (the first of ``metrics``: accuracy for
    a classifier by default).
    """
    metric = result.manifest.parameters["metrics"][0]
    out: dict[str, tuple[list[Finding], Finding | None]] = {}
    for f in result.findings:
        if f.metric == metric and f.severity is not None and f.drill == "stress":
            out.setdefault(f.group, ([], None))[0].append(f)
    for f in result.select(metric="robustness_score"):
        if f.group in out:
            out[f.group] = (out[f.group][0], f)
    return out


def print_stress(result: Result, *, quiet: bool) -> None:
    """The headline metric per perturbation and level with its interval, and each robustness
    score; ``quiet``: one line per perturbation, at its worst level."""
    metric = result.manifest.parameters["metrics"][0]
    rows = headline(result)
    if quiet:
        for label, (levels, score) in rows.items():
            worst = min(levels, key=lambda f: f.value if f.details.get("higher_is_better", True)
                        else -f.value)
            line = (f"{label}: {metric} {with_interval(worst)} at worst "
                    f"(severity {worst.severity:g})")
            if score is not None:
                line += f"; robustness {with_interval(score)}"
            console.print(line, markup=False, highlight=False)
        return
    level = result.manifest.parameters.get("level", 0.95)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("perturbation", "severity", f"{metric} [{level:.0%} CI]",
                 f"robustness [{level:.0%} CI]"):
        table.add_column(name, no_wrap=True)
    for label, (levels, score) in rows.items():
        for i, f in enumerate(sorted(levels, key=lambda f: f.severity)):
            table.add_row(Text(label if i == 0 else ""), f"{f.severity:g}", with_interval(f),
                          with_interval(score) if i == 0 and score is not None else "")
    console.print(table)


def print_compare(result: Result, *, quiet: bool) -> None:
    """Each comparison figure with its interval and p-value; ``quiet``: agreement only."""
    if quiet:
        for f in result.select(metric="agreement"):
            console.print(f"agreement {with_interval(f)}", markup=False, highlight=False)
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("comparison", "value [CI]", "p-value", "status"):
        table.add_column(name, no_wrap=True)
    for f in result.findings:
        table.add_row(Text(f.metric), with_interval(f),
                      "" if f.p_value is None else f"{f.p_value:.3g}", f.status)
    console.print(table)
