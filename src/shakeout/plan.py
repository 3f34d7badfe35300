"""Plan files: one YAML document choosing drills, their grids and the gates that judge them.

Each drill owns the model of its own section and registers it (:mod:`shakeout.drills`);
this module composes the registered sections into :class:`Plan` and reads the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, create_model

from shakeout._schema import Schema
from shakeout.drills import resolve, sections
from shakeout.errors import ValidationError
from shakeout.report.gate import Gate, GateCondition


class _Plan(Schema):
    """What every plan holds beside the drills' sections: the seed and the gates."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0)

    @property
    def gate(self) -> Gate:
        return Gate(conditions=self.gates)


def _compose() -> type[_Plan]:
    """The plan model: the seed, one section per registered drill section, the gates."""
    fields: dict[str, Any] = {}
    for name, ref in sections().items():
        model = resolve(ref)
        fields[name] = (model, Field(default_factory=model))
    return create_model("Plan", __base__=_Plan, __module__=__name__, __doc__=_DOC, **fields,
                        gates=(list[GateCondition], []))


_DOC = """The whole plan file: ``seed``, one section per registered drill section, ``gates``.

    Examples
    --------
    >>> plan = Plan.model_validate({"seed": 1, "gates": [
    ...     {"metric": "accuracy_drop", "group": "gaussian_noise", "severity": 0.1, "max": 0.02}]})
    >>> plan.gate.conditions[0].describe()
    'accuracy_drop [group=gaussian_noise, severity=0.1] <= 0.02'
    >>> Plan(attack={"norm": "l2"}).attack.norm
    'l2'
    """

Plan = _compose()


def parse_plan(data: Any, *, source: str = "plan") -> Plan:
    """Validate a plan from a mapping; errors name the offending field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: a plan must be a YAML mapping, got {type(data).__name__}.")
    return Plan.model_validate(data, source=source)


def load_plan(path: str | Path | None) -> Plan:
    """Read a YAML plan file; no path gives the default plan."""
    if path is None:
        return Plan()
    path = Path(path)
    text = _plan_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its text spans lines; the CLI prints one
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ValidationError(
            f"plan file {path.name!r} is not valid YAML: {what}{where}. Check the indentation "
            "and brackets there."
        ) from None
    return parse_plan(data, source=f"plan file {path.name!r}")


def _plan_text(path: Path) -> str:
    """The text of a plan file, or a one-line error saying why it is not one.

    >>> _plan_text(Path("/"))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: plan file '/' is a folder; pass a YAML plan file.
    """
    fix = "pass a YAML plan file"
    if path.is_dir():
        raise ValidationError(f"plan file {str(path)!r} is a folder; {fix}.")
    if not path.exists():
        raise ValidationError(f"plan file {str(path)!r} does not exist.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"plan file {str(path)!r} is not a text file (byte {exc.start} is not UTF-8); {fix}."
        ) from None
    except OSError as exc:
        raise ValidationError(
            f"plan file {str(path)!r} cannot be read ({exc.strerror}); {fix} you can read."
        ) from None
