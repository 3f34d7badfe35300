"""The command line: a thin layer that parses input, calls the library and writes the Result.

Exit codes: 0 success (and every gate passed), 1 a gate failed, 2 bad input or usage.
``demo`` and ``report`` live here; every other command is a drill's, added from the drill
registry (:mod:`shakeout.drills`).
"""

from __future__ import annotations

import functools
import importlib
import sys

import typer
from rich.markup import escape

from shakeout.cli._app import app, console
from shakeout.errors import ShakeoutError


@functools.cache
def commands() -> typer.Typer:
    """``app`` with every command added: ``demo`` and ``report`` (their modules add them when
    imported) and each registered drill's.

    Added on first use, not when this package is imported: a pillar's command module
    imports :mod:`shakeout.cli._app`, which imports this package first, and resolving the
    commands then would find that module half-loaded.
    """
    from shakeout.drills import registered, resolve

    for module in ("demo", "report"):
        importlib.import_module(f"shakeout.cli.{module}")
    for drill in registered().values():
        for command in drill.commands:
            target = resolve(command.function)
            if isinstance(target, typer.Typer):
                app.add_typer(target, name=command.name)
            else:
                app.command(command.name)(target)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a ShakeoutError becomes one line on stderr and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        code = commands()(args=args, standalone_mode=False)
    except SystemExit as exc:  # typer.Exit inside a command
        return int(exc.code or 0)
    except ShakeoutError as exc:
        if debug:
            raise
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    except (typer.Exit, typer.Abort) as exc:
        return 130 if isinstance(exc, typer.Abort) else int(exc.exit_code)
    except typer.BadParameter as exc:  # a value checked while parsing: one line like the rest
        if type(exc) is not typer.BadParameter:  # a missing argument: show the usage
            exc.show()
            return 2
        console.print(f"[red]error:[/red] {escape(exc.format_message())}", highlight=False)
        return 2
    except typer.TyperException as exc:  # usage errors (Typer bundles its own click)
        exc.show()
        return 2
    except Exception as exc:  # noqa: BLE001 - the unexpected: one line unless --debug
        if debug:
            raise
        console.print(f"[red]internal error:[/red] {type(exc).__name__}: {escape(str(exc))} "
                      "(run again with --debug for the traceback)", highlight=False)
        return 3
    return code if isinstance(code, int) else 0


__all__ = ["app", "commands", "main"]
