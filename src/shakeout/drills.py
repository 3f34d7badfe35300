"""The drill registry: each pillar declares, in its own package, how it plugs into the spine.

A drill's registration names its plan section and that section's model, its ``run``, its
command-line commands, its report spec and, where gates judge only part of its result, how
to take that part. ``plan.py``, ``report/`` and ``cli/`` read this registry and name no
pillar. Registrations are found in two places:

- every subpackage of ``shakeout`` with a ``drill`` module: its ``DRILLS``;
- the entry-point group ``shakeout.drills`` of installed packages: each entry point is a
  :class:`Drill` or a sequence of them (``mypillar.drill:DRILLS``).

Heavy objects (pydantic models, the drill's own code) are named by ``"module:attribute"``
references and imported when first used, so reading the registry stays cheap
(``shakeout --help`` lists the commands without importing any pillar's code).

See ``docs/pillars.md`` for a worked example.

Examples
--------
>>> stress = get("stress")
>>> stress.section, stress.report.title, stress.report.headline
('stress', 'Stress test', ('robustness_score',))
>>> report_spec("no-such-drill").title  # a drill nobody registered keeps its own name
'No-Such-Drill'
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shakeout.errors import ValidationError

if TYPE_CHECKING:
    from shakeout.report.result import Finding, Result

GROUP = "shakeout.drills"
"""The entry-point group through which an installed package registers drills."""


def resolve(ref: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names, imported on first use.

    >>> resolve("math:sqrt")(9.0)
    3.0
    """
    module, colon, attribute = ref.partition(":")
    if not (colon and module and attribute):
        raise ValidationError(f"a drill reference is 'package.module:attribute', got {ref!r}.")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Column:
    """One column of a report table: its header and how to read a finding's cell.

    ``cell`` reads a finding (usually one of its ``details``); ``number`` cells are formatted
    as numbers and aligned right.
    """

    header: str
    cell: Callable[[Finding], object]
    number: bool = False


@dataclass(frozen=True)
class Table:
    """A table of its own for the findings of one ``group`` (e.g. a monitor's onsets).

    Those findings are summaries: they appear in this table only, not among the charts,
    the findings that need attention or the worst finding. Each row ends with its status.
    """

    group: str
    title: str
    note: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Chart:
    """How the report draws the curve of one ``group``, beyond a line along the grid.

    Parameters
    ----------
    group : str
        The findings' group.
    reference : str
        With a label (``"perfect calibration"``), a dashed ``y = x`` line so labelled; both
        axes then share one range on round ticks.
    weight : str
        A ``details`` key holding each point's count (``"rows"``): a point's area grows with
        it, so a point of 3 rows does not look as solid as one of 3,000; the legend gives
        the range.
    """

    group: str
    reference: str = ""
    weight: str = ""


@dataclass(frozen=True)
class ReportSpec:
    """How the report shows a drill's section.

    Parameters
    ----------
    title : str
        The section's heading (the subject is appended: ``"Stress test — digits CNN"``).
    headline : tuple of str
        Metrics summarised at the top of the section: one finding per group where they have
        no severity, and along the grid for the ``combined`` group.
    combined : str, optional
        A group that combines the others (the worst case over an attack ensemble).
    tables : tuple of Table
        Tables of their own, each for one group of summary findings.
    notes : tuple of (metric, text)
        What a headline metric's values mean, shown under the headline table.
    charts : tuple of Chart
        How to draw the curves of some groups (a reference line, points sized by a count).
    summary : tuple of (metric, worse)
        The figures the one-line summary states when no finding needs attention: per
        headline metric, its worst finding, the lowest value where ``worse`` is ``"low"``
        (a coverage), the highest where it is ``"high"`` (an error rate). Without them, the
        lowest headline figure that has an interval.
    describe : callable, optional
        ``describe(finding) -> str | None``: the drill's own words for a finding (None: the
        generic words from its metric, group and severity).
    curves : str
        The heading over the section's curves, for a drill whose x axis is not a severity
        (a reliability diagram, certified accuracy against the radius).
    """

    title: str
    headline: tuple[str, ...] = ()
    combined: str | None = None
    tables: tuple[Table, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    charts: tuple[Chart, ...] = ()
    summary: tuple[tuple[str, str], ...] = ()
    describe: Callable[[Finding], str | None] | None = None
    curves: str = "Metrics against severity"

    def __post_init__(self) -> None:
        for metric, worse in self.summary:
            if worse not in ("low", "high"):
                raise ValidationError(f"report spec {self.title!r}: the summary's {metric!r} "
                                      f"is worse 'low' or 'high', got {worse!r}.")

    def chart(self, group: str | None) -> Chart:
        """How to draw the curve of ``group`` (a plain line when the spec says nothing).

        >>> spec = ReportSpec(title="t", charts=(Chart("reliability", reference="calibrated"),))
        >>> spec.chart("reliability").reference, spec.chart("other").reference
        ('calibrated', '')
        """
        return next((c for c in self.charts if c.group == group), Chart(group or ""))

    def is_headline(self, f: Finding) -> bool:
        """Whether ``f`` belongs in the section's headline."""
        return f.metric in self.headline and (f.severity is None or f.group == self.combined)

    @functools.cached_property
    def table_groups(self) -> frozenset[str]:
        """The groups shown in a table of their own."""
        return frozenset(t.group for t in self.tables)


@dataclass(frozen=True)
class Command:
    """A command-line command: its name and a ``"module:attribute"`` reference to a Typer
    command function, or to a ``typer.Typer`` whose commands become its subcommands
    (``shakeout golden save``); keep that module's top-level imports light."""

    name: str
    function: str


@dataclass(frozen=True)
class Drill:
    """One drill's registration.

    Parameters
    ----------
    name : str
        The drill's name: the ``drill`` field of its findings.
    report : ReportSpec, optional
        How the report shows its findings; without one, the section is titled by the name.
    section : str, optional
        The plan-file section holding its settings. Drills may share a section (``compare``
        reads ``stress``); they then name the same model.
    plan : str, optional
        ``"module:Model"``: the pydantic model (a :class:`~shakeout._schema.Schema` with
        ``extra="forbid"``) of that section; every field has a default.
    run : str, optional
        ``"module:function"``: ``run(model, data, section, *, seed, quiet) -> Result``,
        the drill on a loaded model and :class:`~shakeout.data.Dataset`.
    commands : tuple of Command
        Its command-line commands.
    scope : str, optional
        ``"module:function"``: ``scope(result) -> Result | None``, the part of a result its
        gates judge (None: nothing to scope, judge all); without it gates judge everything.
    scope_name : str
        What that part is called on the console (``"latest window"``).
    """

    name: str
    report: ReportSpec | None = None
    section: str | None = None
    plan: str | None = None
    run: str | None = None
    commands: tuple[Command, ...] = ()
    scope: str | None = None
    scope_name: str = ""

    def __post_init__(self) -> None:
        if (self.section is None) != (self.plan is None):
            raise ValidationError(f"drill {self.name!r}: give section and plan together (the "
                                  "plan-file section and the model of its settings).")

    def runner(self) -> Callable[..., Result]:
        """The drill's ``run`` function."""
        if self.run is None:
            raise ValidationError(f"drill {self.name!r} registers no run function.")
        return resolve(self.run)

    def scoped(self, result: Result) -> Result | None:
        """The part of ``result`` its gates judge, or None to judge the whole result."""
        return None if self.scope is None else resolve(self.scope)(result)


@functools.cache
def registered() -> Mapping[str, Drill]:
    """Every registered drill by name: shakeout's own (by package name), then installed ones.

    >>> {"attack", "compare", "drift", "monitor", "stress"} <= set(registered())
    True
    """
    found: dict[str, Drill] = {}
    for drill in [*_own(), *_installed()]:
        if not isinstance(drill, Drill):
            raise ValidationError(f"a drill registration must be a shakeout.drills.Drill, got "
                                  f"{type(drill).__name__}.")
        if drill.name in found:
            raise ValidationError(f"two drills are registered as {drill.name!r}; rename one.")
        found[drill.name] = drill
    _check_sections(found.values())
    return found


def _own() -> list[Drill]:
    """The ``DRILLS`` of each ``shakeout.<package>.drill`` module, packages in name order."""
    root = Path(__file__).parent
    out: list[Drill] = []
    for path in sorted(root.glob("*/drill.py")):
        out += importlib.import_module(f"shakeout.{path.parent.name}.drill").DRILLS
    return out


def _installed() -> list[Drill]:
    from importlib.metadata import entry_points

    out: list[Drill] = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        value = point.load()
        out += [value] if isinstance(value, Drill) else list(value)
    return out


def _check_sections(found: Any) -> None:
    models: dict[str, str] = {}
    for drill in found:
        if drill.section is not None and models.setdefault(drill.section, drill.plan) != drill.plan:
            raise ValidationError(f"drill {drill.name!r} reads plan section {drill.section!r} "
                                  f"as {drill.plan}, another drill as {models[drill.section]}; "
                                  "drills sharing a section share its model.")


def get(name: str) -> Drill:
    """The drill registered as ``name``.

    >>> get("stres")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: no drill is registered as 'stres'; known: attack, ...
    """
    known = registered()
    if name not in known:
        raise ValidationError(f"no drill is registered as {name!r}; known: "
                              f"{', '.join(sorted(known))}.")
    return known[name]


def sections() -> dict[str, str]:
    """Plan-file section name -> ``"module:Model"`` of its settings, in registry order.

    >>> sections()["stress"]
    'shakeout.stress.plan:StressPlan'
    """
    return {d.section: d.plan for d in registered().values() if d.section and d.plan}


@functools.cache
def report_spec(name: str | None) -> ReportSpec:
    """The report spec of the drill ``name``; a drill without one is titled by its name."""
    drill = registered().get(name or "other")
    if drill is not None and drill.report is not None:
        return drill.report
    return ReportSpec(title=(name or "other").title())


__all__ = ["GROUP", "Chart", "Column", "Command", "Drill", "ReportSpec", "Table", "get",
           "registered", "report_spec", "resolve", "sections"]
