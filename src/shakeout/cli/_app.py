"""The Typer application and what every command shares: options, errors, writing outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
ModelArg = Annotated[str, typer.Argument(
    help="Model: package.module:attribute, a .onnx file, a TorchScript .pt, or a pickle "
         "(with --trust-pickle).")]
DataArg = Annotated[str, typer.Argument(help="Data: .csv, .parquet or .npz (arrays X and y).")]
Quiet = Annotated[bool, typer.Option("--quiet", help="Hide progress bars.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
Target = Annotated[str | None, typer.Option("--target", help="Target column of a table.")]
Plan = Annotated[Path | None, typer.Option("--plan", help="YAML plan: drills, grids, gates.")]
TrustPickle = Annotated[bool, typer.Option(
    "--trust-pickle", help="Allow loading pickled models (this runs code stored in the file).")]
DEFAULT_OUT = Path("shakeout-report")


@dataclass(frozen=True)
class Setup:
    """What a command runs with: the plan, its drill's section with the flags applied, the
    seed (``--seed``, else the plan's) and the plan's gate (None without conditions)."""

    plan: Any
    section: Any
    seed: int

    @property
    def gate(self) -> Gate | None:
        return self.plan.gate if self.plan.gates else None


def configured(drill: str, plan: Path | None, seed: int | None = None,
               **flags: tuple[str, Any]) -> Setup:
    """The plan file (or the default plan) with the command-line flags applied to ``drill``'s
    section, which is validated again: the one way a flag overrides a plan value.

    Each keyword is a field of the section: ``(flag, value)``, where a None value is a flag
    left out and a callable gets the plan's value and returns the new one. A bad value is a
    ValidationError naming the field and the flag.

    >>> setup = configured("stress", None, repeats=("--repeats", 3), alpha=("--alpha", None))
    >>> setup.section.repeats, setup.section.alpha, setup.seed
    (3, 0.05, 0)
    >>> configured("stress", None, level=("--level", 2.0))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: the stress command line is invalid: level: Input should \
be less than 1, got 2.0 (set by --level).
    """
    from shakeout.drills import get
    from shakeout.plan import load_plan

    the_plan = load_plan(plan)
    section = getattr(the_plan, get(drill).section)
    changes = {field: value(getattr(section, field)) if callable(value) else value
               for field, (_, value) in flags.items() if value is not None}
    if changes:
        section = type(section).model_validate(
            {**section.model_dump(), **changes}, source=f"the {drill} command line",
            flags={field: flag for field, (flag, _) in flags.items()})
    return Setup(the_plan, section, the_plan.seed if seed is None else seed)


def names(text: str | None) -> list[str] | None:
    """Comma-separated names, blanks dropped (None stays None: a flag left out).

    >>> names("pgd, fgsm,,deepfool"), names(None)
    (['pgd', 'fgsm', 'deepfool'], None)
    """
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def numbers(option: str, text: str) -> list[float]:
    """The comma-separated numbers of a flag such as ``--eps 0.03,0.1``.

    >>> numbers("--eps", "0.03, 0.1")
    [0.03, 0.1]
    >>> numbers("--eps", "0.03,x")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: --eps must be comma-separated numbers such as 0.03,0.1, \
got '0.03,x'.
    """
    from shakeout.errors import ValidationError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValidationError(
            f"{option} must be comma-separated numbers such as 0.03,0.1, got {text!r}."
        ) from None


def inputs(model: str, data: str, *, target: str | None, trust_pickle: bool) -> tuple[Any, Any]:
    """The model and the data set named on the command line, loaded."""
    from shakeout.data import load_dataset
    from shakeout.models import load_model

    return load_model(model, trust_pickle=trust_pickle), load_dataset(data, target=target)


def emit(result: Result, out: Path, gate: Gate | None = None, *, quiet: bool = False,
         drill: str | None = None, verdict: GateOutcome | None = None) -> int:
    """Judge the gate, write every report file, print where, return the exit code.

    The gate judges the part of the result that ``drill``'s registration scopes (e.g. a
    monitor's latest window), else the whole result; the reports hold the whole result and
    that verdict. Without a gate, ``verdict`` is a verdict reached before (one saved in a
    results.json).
    """
    from shakeout.drills import get
    from shakeout.report.render import render

    registration = get(drill) if drill is not None else None
    scoped = registration.scoped(result) if registration is not None else None
    scope_name = registration.scope_name if scoped is not None else ""
    outcome = gate.check(result if scoped is None else scoped) if gate is not None else verdict
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
