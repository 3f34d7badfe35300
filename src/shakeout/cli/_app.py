"""The Typer application and what every command shares: options, errors, writing outputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from shakeout.report.gate import Gate, GateOutcome
    from shakeout.report.result import Result

app = typer.Typer(
    name="shakeout",
    help="Find the silent failures of machine-learning models before production does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


def check_out(out: Path | None) -> Path | None:
    """Refuse an unusable ``--out`` when the command line is parsed, before any work starts.

    ``None`` (an optional ``--out`` left out) passes through.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_out(folder / "new") == folder / "new"
    True
    >>> (folder / "file.txt").write_text("x")
    1
    >>> check_out(folder / "file.txt")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    BadParameter: '.../file.txt' is a file; give a folder for the report.
    """
    from shakeout.report.render import FILES

    if out is None:
        return None
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{str(out)!r} is a file; give a folder for the report "
                                 "(it is created if missing).")
    for name in FILES.values():
        if (out / name).is_dir():
            raise typer.BadParameter(f"{str(out / name)!r} is a folder, so the report cannot "
                                     f"be written there; remove it or choose another --out.")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot write under {str(existing)!r}; choose a folder you "
                                 "can write to.")
    return out


Out = Annotated[Path, typer.Option("--out", callback=check_out,
                                   help="Folder for report.html, results.json, summary.md and "
                                   "junit.xml; checked before the work starts.")]


def check_seed(seed: int | None) -> int | None:
    """Refuse a negative ``--seed`` when the command line is parsed.

    >>> check_seed(3)
    3
    >>> check_seed(-1)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    BadParameter: a seed is a non-negative integer (0, 1, 2, ...), got -1.
    """
    if seed is not None and seed < 0:
        raise typer.BadParameter(f"a seed is a non-negative integer (0, 1, 2, ...), got {seed}; "
                                 "pass --seed 0, for instance.")
    return seed


Seed = Annotated[int | None, typer.Option(
    "--seed", callback=check_seed, help="Seed for every random draw, 0 or more (default: the "
    "plan's where a --plan is given, else 0); the same seed gives the same numbers.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="Hide progress bars.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
Target = Annotated[str | None, typer.Option("--target", help="Target column of a table.")]
Plan = Annotated[Path | None, typer.Option("--plan", help="YAML plan: drills, grids, gates.")]
TrustPickle = Annotated[bool, typer.Option(
    "--trust-pickle", help="Allow loading pickled models (this runs code stored in the file).")]
DEFAULT_OUT = Path("shakeout-report")


def emit(result: Result, out: Path, gate: Gate | None = None, *, quiet: bool = False,
         scope: Result | None = None, scope_name: str = "",
         verdict: GateOutcome | None = None) -> int:
    """Judge the gate, write every report file, print where, return the exit code.

    The gate judges ``scope`` (e.g. the latest window, named ``scope_name``) when given,
    else the whole result; the reports hold the whole result and that verdict. Without a
    gate, ``verdict`` is a verdict reached before (one saved in a results.json).
    """
    from shakeout.report.render import render

    judged = result if scope is None else scope
    outcome = gate.check(judged) if gate is not None else verdict
    paths = render(result, out, gate=outcome)
    if outcome is not None:
        for o in outcome.outcomes:
            mark = "[green]PASS[/green]" if o.passed else "[red]FAIL[/red]"
            where = f" ({escape(scope_name)})" if scope_name else ""
            console.print(f"{mark} {escape(o.condition)}{where}")
            if not o.passed:
                for reason in o.reasons:
                    console.print(f"     {reason}", markup=False, highlight=False)
    console.print(f"Report written to {paths['html']}", highlight=False)
    if not quiet:
        console.print(f"  results: {paths['json']}  summary: {paths['md']}  "
                      f"junit: {paths['junit']}", highlight=False)
    return 0 if outcome is None else outcome.exit_code
