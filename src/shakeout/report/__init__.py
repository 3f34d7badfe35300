"""Results, gates and their renderings: HTML, JSON, Markdown, JUnit XML.

The public names load on first use: reading a Result does not import pydantic (gates) or
jinja2 (the HTML page).

>>> from shakeout.report import Finding, render
>>> render.__module__, Finding.__module__
('shakeout.report.render', 'shakeout.report.result')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.report.gate import Gate, GateCondition, GateOutcome
    from shakeout.fingerprint import fingerprint
    from shakeout.report.render import render
    from shakeout.report.result import SCHEMA_VERSION, Finding, Manifest, Result

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.report.{module}" for name, module in (
    ("Gate", "gate"), ("GateCondition", "gate"), ("GateOutcome", "gate"), ("render", "render"),
    ("SCHEMA_VERSION", "result"), ("Finding", "result"), ("Manifest", "result"),
    ("Result", "result"))} | {"fingerprint": "shakeout.fingerprint"}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = ["SCHEMA_VERSION", "Finding", "Gate", "GateCondition", "GateOutcome", "Manifest",
           "Result", "fingerprint", "render"]
