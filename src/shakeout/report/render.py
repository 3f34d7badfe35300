"""Write every rendering of a Result into one folder."""

from __future__ import annotations

import json
from pathlib import Path

from shakeout.errors import ValidationError
from shakeout.report.gate import GateOutcome
from shakeout.report.html import render_html
from shakeout.report.junit import render_junit
from shakeout.report.markdown import render_markdown
from shakeout.report.result import Result

FILES = {"html": "report.html", "json": "results.json", "md": "summary.md", "junit": "junit.xml"}
"""The files a report folder holds, by key."""


def result_json(result: Result, gate: GateOutcome | None = None) -> str:
    """``results.json``: the Result schema, with the gate verdict when there is one."""
    data = result.to_dict()
    if gate is not None:
        data["gate"] = gate.to_dict()
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def render(result: Result, out_dir: str | Path, *, gate: GateOutcome | None = None) -> dict[str, Path]:
    """Write report.html, results.json, summary.md and junit.xml; return their paths.

    Each file is written to a temporary name and renamed into place, so an interrupted run
    never leaves a half-written report.

    >>> import tempfile
    >>> from shakeout.report.result import Finding
    >>> r = Result(title="t", findings=(Finding(name="a", metric="m", value=1.0),))
    >>> sorted(render(r, tempfile.mkdtemp()))
    ['html', 'json', 'junit', 'md']
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create output folder {str(out)!r}: {exc}.") from None
    texts = {"html": render_html(result, gate), "json": result_json(result, gate),
             "md": render_markdown(result, gate), "junit": render_junit(result, gate)}
    files = {key: (FILES[key], text) for key, text in texts.items()}
    paths = {}
    for key, (name, text) in files.items():
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths[key] = path
    return paths
