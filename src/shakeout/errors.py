"""The exceptions shakeout raises: every one says what was wrong, what it got and how to fix it.

The command line catches :class:`ShakeoutError` once, prints its message on one line and
exits with status 2; nothing else in the library prints.
"""

from __future__ import annotations


class ShakeoutError(Exception):
    """Base class of every error raised on purpose by shakeout."""


class ValidationError(ShakeoutError, ValueError):
    """Input or a parameter is invalid: the message names it, the value and the fix."""


class NotFittedError(ShakeoutError, RuntimeError):
    """A verb that needs learned state was called before ``fit``."""


class MissingDependencyError(ShakeoutError, ImportError):
    """An optional package is needed; the message holds the install command."""


class GradientUnavailableError(ShakeoutError, TypeError):
    """A white-box method was asked of a model without gradients; names black-box alternatives."""


class ShakeoutWarning(UserWarning):
    """A result is valid but deserves a second look (low power, negligible effect, masking)."""


def first_line(exc: BaseException, *, limit: int = 300) -> str:
    """``Type: first line of its message``, to quote a foreign error inside one line of ours.

    A syntax error keeps its file and line; a trailing full stop is dropped so the quote can
    end a clause.

    >>> first_line(ValueError("could not convert string to float: 'abc'.\\nTraceback ..."))
    "ValueError: could not convert string to float: 'abc'"
    >>> first_line(SyntaxError("'(' was never closed", ("models/m.py", 3, 5, "x = (")))
    "SyntaxError: '(' was never closed (m.py, line 3)"
    """
    if isinstance(exc, SyntaxError):
        where = (exc.filename or "?").replace("\\", "/").rsplit("/", 1)[-1]
        return f"{type(exc).__name__}: {exc.msg} ({where}, line {exc.lineno})"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0][:limit].rstrip(". ") if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
