"""Campaigns: units of work (variant x budget x trial x shard), each with its own random
stream spawned from the seed by the unit's index, run with progress and timings.

A drill lists its units and says what one unit does; the campaign draws the streams, shows
progress and times each unit. The executor is the one place where units could run elsewhere
(a Ray backend plugs in here); today units run in-process, in order, so the same seed gives
the same numbers bit for bit.

Examples
--------
>>> import numpy as np
>>> units = grid(["noise", "blur"], budgets=[0.1, 0.3], trials=2)
>>> len(units), units[5]
(8, Unit(variant='blur', budget=0.1, trial=1, shard=None, index=5))
>>> done = Campaign(units, seed=0).run(lambda u, rng: u.budget * rng.uniform())
>>> again = Campaign(units, seed=0).run(lambda u, rng: u.budget * rng.uniform())
>>> [d.value for d in done] == [d.value for d in again]
True
>>> done[0].unit.variant, sorted(Campaign(units, seed=0).timings(done))
('noise', ['blur', 'noise'])
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from shakeout._progress import progress
from shakeout._validation import Seed, as_generator, check_positive_int

T = TypeVar("T")


@dataclass(frozen=True)
class Unit:
    """One unit of work: a ``variant`` (a perturbation, an attack, a fault model) at one
    ``budget`` (a severity, an eps), repeated ``trial`` (a draw of its randomness), on one
    ``shard`` of the data (None: all of it). ``index`` is its place in the campaign, which
    fixes its random stream."""

    variant: Any
    budget: Any = None
    trial: int = 0
    shard: Any = None
    index: int = 0


def grid(variants: Iterable[Any], *, budgets: Iterable[Any] | Callable[[Any], Iterable[Any]]
         = (None,), trials: int = 1, shards: Iterable[Any] = (None,)) -> list[Unit]:
    """Every combination, variant-major (then budget, trial, shard), indexed in that order.

    ``budgets`` may be a function of the variant, for variants that take their own grid
    (a minimal-perturbation attack runs once: ``[None]``).

    >>> own = lambda v: [1, 2] if v == "a" else [None]
    >>> [(u.variant, u.budget) for u in grid("ab", budgets=own)]
    [('a', 1), ('a', 2), ('b', None)]
    """
    check_positive_int("campaign.grid", "trials", trials)
    shards = list(shards)
    units = [Unit(v, b, t, s)
             for v in variants
             for b in (budgets(v) if callable(budgets) else budgets)
             for t in range(trials)
             for s in shards]
    return [replace(u, index=i) for i, u in enumerate(units)]


@dataclass(frozen=True)
class Done(Generic[T]):
    """What one unit returned, and the seconds it took."""

    unit: Unit
    value: T
    seconds: float


class Executor(Protocol):
    """Runs ``fn`` on each item and yields the results in the items' order."""

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]: ...


class InProcess:
    """Units one after another in this process (the default executor)."""

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]:
        return map(fn, items)


@dataclass
class Campaign:
    """Run ``units`` with streams spawned from ``seed``: unit ``i`` gets child ``i`` of
    ``as_generator(seed).spawn(len(units))``, whichever executor runs it and in whatever
    order.

    ``label(unit)`` names a unit's progress bar (default: its variant); consecutive units
    with the same label share one bar.
    """

    units: Sequence[Unit]
    seed: Seed = 0
    label: Callable[[Unit], str] = lambda u: str(u.variant)
    quiet: bool = True
    executor: Executor = InProcess()

    def run(self, work: Callable[[Unit, np.random.Generator], T]) -> list[Done[T]]:
        """``work(unit, rng)`` for every unit, in the units' order."""
        streams = as_generator(self.seed).spawn(len(self.units)) if self.units else []

        def timed(job: tuple[Unit, np.random.Generator]) -> Done[T]:
            started = time.perf_counter()
            value = work(*job)
            return Done(job[0], value, time.perf_counter() - started)

        return list(self._shown(self.executor.map(timed, zip(self.units, streams))))

    def _shown(self, done: Iterator[Done[T]]) -> Iterator[Done[T]]:
        """The results, with one progress bar per run of units sharing a label."""
        labels = [self.label(u) for u in self.units]
        for label, group in itertools.groupby(labels):
            count = len(list(group))
            yield from progress(itertools.islice(done, count), total=count, description=label,
                                quiet=self.quiet)

    def timings(self, done: Sequence[Done[Any]]) -> dict[str, float]:
        """Seconds spent per label, summed over its units."""
        out: dict[str, float] = {}
        for d in done:
            key = self.label(d.unit)
            out[key] = out.get(key, 0.0) + d.seconds
        return out


__all__ = ["Campaign", "Done", "Executor", "InProcess", "Unit", "grid"]
