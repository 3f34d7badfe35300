"""Results, gates and their renderings: HTML, JSON, Markdown, JUnit XML."""

from shakeout.report.gate import Gate, GateCondition, GateOutcome
from shakeout.report.render import render
from shakeout.report.result import SCHEMA_VERSION, Finding, Manifest, Result, fingerprint

__all__ = ["SCHEMA_VERSION", "Finding", "Gate", "GateCondition", "GateOutcome", "Manifest",
           "Result", "fingerprint", "render"]
