"""Monitoring: windows over time against one reference, a history store, drift onset."""

from shakeout.monitor.hysteresis import DEESCALATE_AFTER, hold, latest_decision, latest_window
from shakeout.monitor.onset import onset
from shakeout.monitor.run import iter_windows, run
from shakeout.monitor.store import DEFAULT_URL, HistoryStore
from shakeout.monitor.windows import Window, parse_every, split_windows

__all__ = ["DEESCALATE_AFTER", "DEFAULT_URL", "HistoryStore", "Window", "hold",
           "iter_windows", "latest_decision", "latest_window", "onset", "parse_every", "run",
           "split_windows"]
