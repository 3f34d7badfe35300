"""Monitoring: windows over time against one reference, a history store, drift onset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shakeout._lazy import lazy_names

if TYPE_CHECKING:
    from shakeout.monitor.hysteresis import DEESCALATE_AFTER, hold, latest_decision, latest_window
    from shakeout.monitor.onset import onset
    from shakeout.monitor.run import iter_windows, run
    from shakeout.monitor.store import DEFAULT_URL, HistoryStore
    from shakeout.monitor.windows import Window, parse_every, split_windows

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {name: f"shakeout.monitor.{module}" for module, names in (
    ("hysteresis", ("DEESCALATE_AFTER", "hold", "latest_decision", "latest_window")),
    ("onset", ("onset",)),
    ("run", ("iter_windows", "run")),
    ("store", ("DEFAULT_URL", "HistoryStore")),
    ("windows", ("Window", "parse_every", "split_windows")))
    for name in names}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["DEESCALATE_AFTER", "DEFAULT_URL", "HistoryStore", "Window", "hold", "iter_windows",
           "latest_decision", "latest_window", "onset", "parse_every", "run", "split_windows"]
