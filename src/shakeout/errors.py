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
