"""The one progress helper: a rich progress bar on stderr that ``quiet=True`` hides."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, description: str = "",
             quiet: bool = True) -> Iterator[T]:
    """Yield ``items``, showing a bar on stderr unless ``quiet``.

    The library defaults to quiet; the CLI turns bars on (and ``--quiet`` off again).

    >>> list(progress(range(3)))
    [0, 1, 2]
    """
    if quiet:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (f"[bold]{description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
