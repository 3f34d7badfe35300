"""Streaming detectors, one value at a time: ADWIN, Page-Hinkley and DDM from river.

Each ``update(x)`` feeds one value and sets ``drift_detected``; ``detections_`` keeps the
(0-based) positions where drift was signalled. Feed them a model's per-row error (0/1 for
a classifier's mistakes, absolute error for a regressor) in arrival order to catch concept
drift as labels arrive. river does the work (``pip install 'shakeout[stream]'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from shakeout._validation import check_choice, check_number, check_positive_int
from shakeout.errors import MissingDependencyError, ValidationError


def _river_drift() -> Any:
    try:
        from river import drift
    except ImportError:
        raise MissingDependencyError(
            "streaming drift detectors need river: pip install 'shakeout[stream]'."
        ) from None
    return drift


class StreamDetector:
    """Base class: ``update(x)`` one value at a time; ``drift_detected`` after each step."""

    drift_detected: bool = False

    def _build(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def _check(self, x: float) -> float:
        try:
            return float(x)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{type(self).__name__}.update: x must be one number, got {x!r}; feed the "
                "stream one value at a time."
            ) from None

    def update(self, x: float) -> "StreamDetector":
        """Feed one value; sets ``drift_detected`` (and ``n_seen_``, ``detections_``)."""
        x = self._check(x)
        if not np.isfinite(x):
            raise ValidationError(f"{type(self).__name__}.update: x must be finite, got {x!r}.")
        if getattr(self, "detector_", None) is None:
            self.detector_ = self._build()
            self.n_seen_ = 0
            self.detections_: list[int] = []
        self.detector_.update(x)
        self.drift_detected = bool(self.detector_.drift_detected)
        if self.drift_detected:
            self.detections_.append(self.n_seen_)
        self.n_seen_ += 1
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.endswith("_") and k != "drift_detected")
        return f"{type(self).__name__}({params})"


def detections(detector: StreamDetector, values: Iterable[float]) -> list[int]:
    """Feed every value in order; the positions where ``detector`` signalled drift.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.normal(0, 1, 1000), rng.normal(3, 1, 1000)]
    >>> found = detections(PageHinkley(), stream)
    >>> 1000 <= found[0] < 1100
    True
    """
    for x in values:
        detector.update(x)
    return list(getattr(detector, "detections_", []))


class ADWIN(StreamDetector):
    """Adaptive windowing (Bifet & Gavalda 2007): drift when two sub-windows' means differ.

    Parameters
    ----------
    delta : float, default=0.002
        Confidence of a cut; smaller means fewer false alarms and later detection.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import ADWIN
    >>> rng = np.random.default_rng(0)
    >>> d = ADWIN()
    >>> hits = [i for i, x in enumerate(np.r_[rng.normal(0, 1, 2000), rng.normal(2, 1, 500)])
    ...         if d.update(x).drift_detected]
    >>> 2000 <= hits[0] < 2100
    True
    """

    def __init__(self, *, delta: float = 0.002):
        self.delta = check_number(self, "delta", delta, 0, 1, low_open=True, high_open=True)

    def _build(self) -> Any:
        return _river_drift().ADWIN(delta=self.delta)


class PageHinkley(StreamDetector):
    """Page-Hinkley test: drift when the cumulative deviation from the mean passes a threshold.

    Watches both directions by default (river's default of ``"both"``; a one-sided detector
    misses decreases).

    Parameters
    ----------
    threshold : float, default=50.0
        Cumulative deviation, in the units of ``x``, that signals drift.
    delta : float, default=0.005
        Tolerated change per step, in the units of ``x``.
    alpha : float, default=0.9999
        Forgetting factor of the running mean.
    min_instances : int, default=30
        Values seen before the first alarm is allowed.
    mode : {"both", "up", "down"}, default="both"

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import PageHinkley
    >>> rng = np.random.default_rng(0)
    >>> d = PageHinkley()
    >>> hits = [i for i, x in enumerate(np.r_[rng.normal(3, 1, 1000), rng.normal(0, 1, 500)])
    ...         if d.update(x).drift_detected]
    >>> 1000 <= hits[0] < 1100  # a decrease is caught too
    True
    """

    def __init__(self, *, threshold: float = 50.0, delta: float = 0.005, alpha: float = 0.9999,
                 min_instances: int = 30, mode: str = "both"):
        self.threshold = check_number(self, "threshold", threshold, 0, low_open=True)
        self.delta = check_number(self, "delta", delta, 0)
        self.alpha = check_number(self, "alpha", alpha, 0, 1, low_open=True)
        self.min_instances = check_positive_int(self, "min_instances", min_instances, 1)
        self.mode = check_choice(self, "mode", mode, ("both", "up", "down"))

    def _build(self) -> Any:
        return _river_drift().PageHinkley(min_instances=self.min_instances, delta=self.delta,
                                          threshold=self.threshold, alpha=self.alpha,
                                          mode=self.mode)


class DDM(StreamDetector):
    """Drift Detection Method (Gama et al. 2004) for a stream of 0/1 errors.

    Signals a warning, then drift, when the error rate plus its standard deviation rises
    ``warning_threshold`` / ``drift_threshold`` standard deviations above its minimum.

    Parameters
    ----------
    warm_start : int, default=30
        Errors seen before any signal.
    warning_threshold, drift_threshold : float, default=2.0, 3.0

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import DDM
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4].astype(int)
    >>> d = DDM()
    >>> first = next(i for i, e in enumerate(errors) if d.update(e).drift_detected)
    >>> 1000 <= first < 1200
    True
    """

    def __init__(self, *, warm_start: int = 30, warning_threshold: float = 2.0,
                 drift_threshold: float = 3.0):
        self.warm_start = check_positive_int(self, "warm_start", warm_start, 1)
        self.warning_threshold = check_number(self, "warning_threshold", warning_threshold, 0,
                                              low_open=True)
        self.drift_threshold = check_number(self, "drift_threshold", drift_threshold,
                                            warning_threshold, low_open=True)

    def _check(self, x: float) -> float:
        if x not in (0, 1, True, False):
            raise ValidationError(f"DDM.update: x must be 0 (right) or 1 (error), got {x!r}.")
        return float(x)

    def _build(self) -> Any:
        return _river_drift().binary.DDM(warm_start=self.warm_start,
                                         warning_threshold=self.warning_threshold,
                                         drift_threshold=self.drift_threshold)

    @property
    def warning_detected(self) -> bool:
        """Whether the last update crossed the warning level."""
        detector = getattr(self, "detector_", None)
        return bool(detector is not None and detector.warning_detected)
