"""Plan and gate models: pydantic underneath, shakeout's ValidationError on the surface.

A :class:`Schema` built with a wrong field raises
:class:`~shakeout.errors.ValidationError` naming each field by its path, what was wrong,
the value it got and the fix, in one line, instead of pydantic's own multi-line error.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError as PydanticError

from shakeout.errors import ValidationError


class Schema(BaseModel):
    """A pydantic model whose validation errors are shakeout ValidationErrors.

    Examples
    --------
    >>> class Bound(Schema):
    ...     max: float
    >>> Bound(max="x")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: Bound is invalid: max: Input should be a valid number, ...
    """

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticError as exc:
            raise invalid(type(self), exc, type(self).__name__) from None

    # Only converts errors: pydantic may keep validating nested models without calling it
    # (as it does for its own RootModel), so their errors reach the outermost model whole.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, source: str | None = None,
                       flags: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        """Validate a mapping; ``source`` (e.g. ``"plan file 'plan.yaml'"``) opens the error,
        ``flags`` (field -> command-line flag) name the flag that set a field."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except PydanticError as exc:
            raise invalid(cls, exc, source or cls.__name__, flags) from None


def invalid(model: type[BaseModel], exc: PydanticError, source: str,
            flags: Mapping[str, str] | None = None) -> ValidationError:
    """One ValidationError for every problem pydantic found, each as ``path: what, fix``
    (and ``(set by --flag)`` where ``flags`` names the flag that set the field).

    >>> class Bound(Schema):
    ...     max: float
    >>> Bound.model_validate({"max": "x"}, source="the command line", flags={"max": "--max"})
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: the command line is invalid: max: Input should be a valid \
number, unable to parse string as a number, got 'x' (set by --max).
    """
    problems = "; ".join(_problem(model, e) + _flag(e, flags or {}) for e in exc.errors())
    return ValidationError(f"{source} is invalid: {problems}.")


def _flag(error: Any, flags: Mapping[str, str]) -> str:
    loc = error["loc"]
    return f" (set by {flags[loc[0]]})" if loc and loc[0] in flags else ""


def _problem(model: type[BaseModel], error: Any) -> str:
    loc = tuple(error["loc"])
    where = ".".join(str(p) for p in loc) + ": " if loc else ""
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        fix = f"; the fields are {', '.join(known)}" if known else ""
        return f"{where}Extra inputs are not permitted (remove it or fix its spelling{fix})"
    if kind == "missing":
        return f"{where}Field required; add it"
    if kind == "value_error":  # our own validators: their message says what and how
        return where + msg.removeprefix("Value error, ")
    shown = repr(error.get("input"))
    return f"{where}{msg}, got {shown[:80]}{'...' if len(shown) > 80 else ''}"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (list indices skipped), or none."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``list[X]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
