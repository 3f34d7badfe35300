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

    All four texts are rendered first, then written to temporary names and renamed into
    place. If any write or rename fails, every file this call wrote is removed, so a folder
    never holds a partial set that looks like a complete report.

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
    paths = {key: out / FILES[key] for key in texts}
    staged = {key: out / f".{FILES[key]}.tmp" for key in texts}
    written: list[Path] = []
    current = ""
    try:
        for key, text in texts.items():
            current = FILES[key]
            written.append(staged[key])
            staged[key].write_text(text, encoding="utf-8")
        for key in texts:
            current = FILES[key]
            staged[key].replace(paths[key])
            written.append(paths[key])
    except OSError as exc:
        for path in written:
            if path.is_file():
                path.unlink()
        raise ValidationError(
            f"cannot write {current} in {str(out)!r} ({exc.strerror}); nothing of this report "
            "was left there. Remove what is in the way, or choose another --out."
        ) from None
    return paths
