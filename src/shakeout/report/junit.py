"""JUnit XML: gate conditions and findings as test cases, for any CI system's test view."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from shakeout.report import readable
from shakeout.report.readable import fmt
from shakeout.report.result import Result

if TYPE_CHECKING:  # annotations only: the gate's module loads pydantic
    from shakeout.report.gate import GateOutcome


def render_junit(result: Result, gate: GateOutcome | None = None) -> str:
    """One test suite for the gate (a case per condition) and one per drill.

    The failures mirror the exit code: only the gate's failed conditions fail (the gate is
    what CI obeys; no gate, no failure). Every suite carries the verdict in words as the
    property ``verdict`` ("No gate: ..." or "Gate passed (2 conditions); 3 findings fail
    outside the gate."), so a green CI view never hides a finding marked fail. Every finding
    is a case named by its machine name, whose status, description and message are in
    ``system-out``; ``info`` findings are not test cases.

    >>> from shakeout.report.result import Finding
    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0, status="fail",
    ...                                          drill="stress"),))
    >>> 'failures="0"' in render_junit(r), "[fail] m: m = 1" in render_junit(r)
    (True, True)
    >>> 'name="verdict" value="No gate' in render_junit(r)
    True
    """
    root = ET.Element("testsuites", name=f"shakeout: {result.title}")
    line = readable.verdict_line(result, gate)

    def suite_of(name: str, tests: int, failures: int) -> ET.Element:
        suite = ET.SubElement(root, "testsuite", name=name, tests=str(tests),
                              failures=str(failures))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="verdict", value=line)
        return suite

    if gate is not None:
        suite = suite_of("shakeout.gate", len(gate.outcomes),
                         sum(not o.passed for o in gate.outcomes))
        for o in gate.outcomes:
            case = ET.SubElement(suite, "testcase", classname="shakeout.gate", name=o.condition)
            if not o.passed:
                ET.SubElement(case, "failure", message=o.reasons[0] if o.reasons else "failed"
                              ).text = "\n".join(o.reasons)
            else:
                ET.SubElement(case, "system-out").text = "\n".join(o.reasons)
    drills: dict[str, list] = {}
    for f in result.findings:
        if f.status != "info":
            drills.setdefault(f.drill or "other", []).append(f)
    for drill, found in drills.items():
        suite = suite_of(f"shakeout.{drill}", len(found), 0)
        for f in found:
            case = ET.SubElement(suite, "testcase", classname=f"shakeout.{drill}", name=f.name)
            text = (f"[{f.status}] {readable.describe(f)}: {f.metric} = {fmt(f.value)}"
                    + (f" [{fmt(f.ci[0])}, {fmt(f.ci[1])}]" if f.ci else "")
                    + (f", p = {fmt(f.p_value)}" if f.p_value is not None else "")
                    + (f": {f.message}" if f.message else ""))
            ET.SubElement(case, "system-out").text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
