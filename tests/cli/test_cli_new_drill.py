"""A new pillar is a new package and nothing else: registered through the ``shakeout.drills``
entry point, its plan section validates, its command runs and writes a report whose section
has its title and headline, and gates judge it, with no edit to plan.py, report/ or cli/.

The pillar is a real package written to a folder with its distribution metadata, and the
checks run in a fresh interpreter that has it on its path (the registry is read once).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLAN = '''
from pydantic import ConfigDict, Field

from shakeout._schema import Schema


class TallyPlan(Schema):
    model_config = ConfigDict(extra="forbid")

    column: str = "x"
    above: float = 0.5
    level: float = Field(0.95, gt=0, lt=1)
'''

DRILL = '''
from shakeout.drills import Command, Drill, ReportSpec

DRILLS = (Drill(name="tally", section="tally", plan="so_tally.plan:TallyPlan",
                run="so_tally.run:run", commands=(Command("tally", "so_tally.cli:tally"),),
                report=ReportSpec(title="Tally of rows", headline=("share_above",))),)
'''

RUN = '''
from shakeout.report.findings import proportion
from shakeout.report.result import Finding, Manifest, Result


def run(model, data, section, *, seed, quiet):
    values = data.X[section.column].to_numpy()
    k, n = int((values > section.above).sum()), len(values)
    share = proportion(f"tally/rows/share_above@{section.above:g}", "share_above", k, n,
                       section.level, drill="tally", group="rows")
    count = Finding(name="tally/rows/n", metric="rows", value=float(n), drill="tally",
                    group="rows", status="info")
    return Result(title="tally", findings=(share, count),
                  manifest=Manifest.collect(seed=seed, data=data.name, n_rows=n))
'''

CLI = '''
from typing import Annotated

import typer

from shakeout.cli._app import DEFAULT_OUT, Out, Plan, Quiet, configured, emit


def tally(data: Annotated[str, typer.Argument(help="A table.")], plan: Plan = None,
          above: Annotated[float | None, typer.Option("--above")] = None,
          level: Annotated[float | None, typer.Option("--level")] = None,
          out: Out = DEFAULT_OUT, quiet: Quiet = False) -> None:
    """Share of rows above a threshold."""
    from shakeout.data import load_dataset
    from shakeout.drills import get

    setup = configured("tally", plan, above=("--above", above), level=("--level", level))
    result = get("tally").runner()(None, load_dataset(data), setup.section, seed=setup.seed,
                                   quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="tally"))
'''

CHECKS = '''
import contextlib, io, json, sys
from shakeout.cli import main
from shakeout.errors import ValidationError
from shakeout.plan import parse_plan

folder, data = sys.argv[1], sys.argv[2]
out = {"section": parse_plan({"tally": {"above": 0.2}}).tally.above}
try:
    parse_plan({"tally": {"abvoe": 1}})
except ValidationError as exc:
    out["unknown_key"] = str(exc)
with contextlib.redirect_stdout(io.StringIO()) as text:
    main(["--help"])
out["help"] = text.getvalue()
runs = {"plain": [], "bad_flag": ["--level", "2"], "flag": ["--above", "0.75"],
        "gate_fails": ["--plan", folder + "/strict.yaml"],
        "gate_passes": ["--plan", folder + "/loose.yaml"]}
for name, extra in runs.items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["tally", data, "--out", f"{folder}/{name}", "--quiet", *extra])
    out[name] = [code, err.getvalue()]
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def tally(tmp_path_factory) -> dict:
    """What the checks saw, from a fresh interpreter with the ``so_tally`` pillar installed."""
    root = tmp_path_factory.mktemp("pillar")
    package = root / "so_tally"
    package.mkdir()
    for name, text in (("__init__", ""), ("plan", PLAN), ("drill", DRILL), ("run", RUN),
                       ("cli", CLI)):
        (package / f"{name}.py").write_text(textwrap.dedent(text))
    meta = root / "so_tally-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: so-tally\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[shakeout.drills]\ntally = so_tally.drill:DRILLS\n")
    data = root / "rows.csv"
    data.write_text("x\n" + "\n".join(str(i / 10) for i in range(10)) + "\n")
    gate = "gates:\n  - {{metric: share_above, drill: tally, {bound}}}\n"
    (root / "strict.yaml").write_text(gate.format(bound="max: 0.1"))
    (root / "loose.yaml").write_text("tally: {above: 0.3}\n" + gate.format(bound="max: 0.99"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", CHECKS, str(root), str(data)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return {"root": root, **json.loads(done.stdout.strip().splitlines()[-1])}


def _results(tally: dict, name: str) -> dict:
    return json.loads((Path(tally["root"]) / name / "results.json").read_text())


def test_its_plan_section_validates_and_rejects_an_unknown_key(tally):
    assert tally["section"] == 0.2
    assert "tally.abvoe: Extra inputs are not permitted" in tally["unknown_key"]
    assert "the fields are column, above, level" in tally["unknown_key"]


def test_its_command_is_listed_and_writes_a_report_with_its_section(tally):
    assert "tally" in tally["help"] and "Share of rows above a threshold" in tally["help"]
    code, err = tally["plain"]
    assert code == 0, err
    (share,) = [f for f in _results(tally, "plain")["findings"] if f["metric"] == "share_above"]
    assert share["value"] == 0.4 and share["drill"] == "tally"  # 0.6 .. 0.9 of ten rows
    html = (Path(tally["root"]) / "plain" / "report.html").read_text()
    section = html[html.index('<h2 id="s1-tally-of-rows">Tally of rows</h2>'):]
    headline = section[section.index("<h3>Headline</h3>"):section.index("</table>")]
    assert headline.count("<tr>") == 2  # the header and share_above: not the row count
    assert 'title="tally/rows/share_above@0.5"' in headline and ">0.4<" in headline
    summary = (Path(tally["root"]) / "plain" / "summary.md").read_text()
    assert "### Tally of rows" in summary and "- **Tally of rows**" in summary


def test_a_flag_overrides_its_plan_value_and_a_bad_one_is_one_line(tally):
    code, err = tally["flag"]
    assert code == 0, err
    (share,) = [f for f in _results(tally, "flag")["findings"] if f["metric"] == "share_above"]
    assert share["value"] == pytest.approx(0.2)  # 0.8 and 0.9
    code, err = tally["bad_flag"]
    assert code == 2
    assert err.strip().splitlines() == [
        "error: the tally command line is invalid: level: Input should be less than 1, got "
        "2.0 (set by --level)."]


def test_gates_judge_it(tally):
    code, err = tally["gate_fails"]
    assert code == 1
    assert "FAIL share_above [drill=tally] <= 0.1" in err
    code, err = tally["gate_passes"]
    assert code == 0, err
    assert "PASS share_above [drill=tally] <= 0.99" in err
    (share,) = [f for f in _results(tally, "gate_passes")["findings"]
                if f["metric"] == "share_above"]
    assert share["value"] == pytest.approx(0.6)  # the plan's section: above 0.3
