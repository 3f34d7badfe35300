"""The one progress helper: a rich progress bar on stderr that ``quiet=True`` hides."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, description: str = "",
             quiet: bool = True) -> Iterator[T]:
    """Yield ``items``, showing a bar on stderr unless ``quiet`` or stderr is not a terminal.

    The library defaults to quiet; the CLI turns bars on (and ``--quiet`` off again). A log
    file or a CI job gets no bar (not even the blank line a finished bar leaves).

    >>> list(progress(range(3)))
    [0, 1, 2]
    """
    if quiet:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield from items
        return
    columns = (f"[bold]{description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
