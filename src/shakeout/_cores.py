"""The cores this process may use, and work run beside the model on them.

numpy releases the GIL inside its loops, so a second thread running array kernels uses a
second core. Every helper here gives the same numbers on any number of cores: the work is
split into pieces that do not depend on each other, and each piece writes its own rows.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TypeVar

T = TypeVar("T")


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one).

    >>> cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def leave_a_core() -> AbstractContextManager:
    """Limit BLAS threads to one fewer than the cores (never raising a lower setting) while a
    second thread works beside the model.

    Otherwise the model's BLAS threads, which spin between calls, compete with that thread
    for the cores: on two cores a linear model's stress sweep ran 1.3x slower. BLAS results
    do not depend on the thread count here (tested bit for bit).
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    current = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    if not current:
        return nullcontext()
    return threadpool_limits(max(1, min(cores() - 1, *current)), user_api="blas")


def beside(items: Iterable[T], consume: Callable[[T], None]) -> None:
    """``consume(item)`` for every item, each on a second thread while ``items`` makes the next
    (at most two waiting, so memory stays two items); in turn on one core. The first
    exception is raised once the work in flight has stopped.

    >>> seen = []
    >>> beside(iter(range(4)), seen.append)
    >>> seen
    [0, 1, 2, 3]
    """
    if cores() < 2:
        for item in items:
            consume(item)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:  # one worker: items are consumed in order
        pending: deque[Future] = deque()
        for item in items:
            pending.append(pool.submit(consume, item))
            if len(pending) > 2:
                pending.popleft().result()
        for future in pending:
            future.result()


def in_parallel(pieces: Sequence[T], work: Callable[[T], None]) -> None:
    """``work(piece)`` for every piece, on up to :func:`cores` threads (at most four); in
    turn when there is one piece or one core.

    >>> done = [0] * 3
    >>> in_parallel(range(3), lambda i: done.__setitem__(i, i * i))
    >>> done
    [0, 1, 4]
    """
    workers = min(4, cores(), len(pieces))
    if workers < 2:
        for piece in pieces:
            work(piece)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, piece) for piece in pieces]:
            future.result()


@cache
def _background() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="shakeout-background")


def in_background(work: Callable[[], T]) -> Future:
    """``work()`` begun on a background thread, to overlap a step that leaves a core idle (the
    model's clean predictions, one grid point's findings); ``.result()`` waits for it and
    raises its error. On one core it runs at once.

    >>> in_background(lambda: 6 * 7).result()
    42
    """
    if cores() < 2:
        done: Future = Future()
        try:
            done.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - kept for .result(), as a thread would
            done.set_exception(exc)
        return done
    return _background().submit(work)
