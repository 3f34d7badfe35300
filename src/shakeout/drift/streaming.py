"""Streaming detectors, one value at a time: ADWIN, Page-Hinkley and DDM from river.

Each ``update(x)`` feeds one value and sets ``drift_detected``; ``detections_`` keeps the
(0-based) positions where drift was signalled. Feed them a model's per-row error (0/1 for
a classifier's mistakes, absolute error for a regressor) in arrival order to catch concept
drift as labels arrive. river does the work (``pip install 'shakeout[stream]'``).

**False alarms per window.** A detector's thresholds are not a false-alarm rate: with no
change at all, river's defaults signal drift in a window of 1,000 values this often
(measured, 200 windows each): DDM 48-53% at error rates 0.05-0.1 and 12% at 0.3 (its
minimum tracking starts from the first 30 values, and a start with no error makes its
spread zero); Page-Hinkley (threshold 50) 0% on 0/1 errors but 29% on standard-normal
values (91% at 3,000); ADWIN (delta 0.002) 0%, being conservative by construction (Bifet &
Gavalda 2007, Theorem 3.1 bounds its false-positive rate by delta). ``false_alarm_rate``
measures the rate of any detector on windows resampled from a stream without change, and
``DDM.calibrate`` / ``PageHinkley.calibrate`` set the threshold so that a window of a given
length alarms with probability ``target`` (the threshold is the ``1 - target`` quantile of
the detector's own statistic, maximised over simulated null windows: the Monte Carlo
calibration of a sequential test's boundary, as in Siegmund 1985, ch. 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from shakeout._validation import (as_generator, check_choice, check_number,
                                  check_open_interval, check_positive_int)
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

    def params(self) -> dict:
        """The constructor's parameters, as given."""
        return {k: v for k, v in vars(self).items()
                if not k.endswith("_") and k != "drift_detected"}

    def null_scores(self, windows: np.ndarray) -> np.ndarray:
        """The statistic each row of ``windows`` (streams without change) reaches before its
        first alarm: the window alarms exactly when this exceeds the threshold."""
        raise NotImplementedError(type(self).__name__)  # pragma: no cover - interface

    def false_alarm_rate(self, null_values: Any, *, window: int, n_simulations: int = 1000,
                         seed: Any = 0) -> float:
        """Share of windows of ``window`` values, resampled with replacement from
        ``null_values`` (a stream with no change), in which this detector signals drift.

        >>> import numpy as np
        >>> rate = DDM().false_alarm_rate(np.random.default_rng(0).random(5000) < 0.1,
        ...                               window=1000, n_simulations=200)
        >>> rate > 0.25  # river's default DDM: far above 5%
        True
        """
        windows = _null_windows(self, null_values, window, n_simulations, seed)
        try:
            scores = self.null_scores(windows)
            return float(np.mean(scores > self._threshold()))
        except NotImplementedError:
            hits = [bool(detections(type(self)(**self.params()), w)) for w in windows]
            return float(np.mean(hits))

    def _threshold(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def calibrate(cls, null_values: Any, *, window: int, target: float = 0.05,
                  n_simulations: int = 2000, seed: Any = 0, **params: Any) -> "StreamDetector":
        """A detector whose threshold makes a window of ``window`` values without change
        alarm with probability ``target``, estimated on windows resampled from
        ``null_values`` (a stream from a stable period: the model's errors on held-out
        data, say). ``params`` are the other constructor parameters.
        """
        base = cls(**params)
        target = check_open_interval(base, "target", target, 0, 1)
        scores = base.null_scores(_null_windows(base, null_values, window, n_simulations, seed))
        threshold = float(np.quantile(scores, 1 - target, method="higher"))
        if not np.isfinite(threshold):
            raise ValidationError(
                f"{cls.__name__}.calibrate: more than {target:.0%} of null windows alarm "
                f"whatever the threshold (got {np.mean(~np.isfinite(scores)):.0%}); raise "
                "warm_start so the detector sees more values before its first judgement."
            )
        return base.with_threshold(threshold)

    def with_threshold(self, threshold: float) -> "StreamDetector":
        """A new detector with these parameters and its alarm threshold set to ``threshold``
        (on the scale of :meth:`null_scores`)."""
        return type(self)(**{**self.params(), **type(self)._with_threshold(self, threshold)})

    @classmethod
    def _with_threshold(cls, base: "StreamDetector", threshold: float) -> dict:
        raise NotImplementedError  # pragma: no cover - interface


def _null_windows(detector: StreamDetector, null_values: Any, window: int,
                  n_simulations: int, seed: Any) -> np.ndarray:
    """``(n_simulations, window)`` values drawn with replacement from ``null_values``."""
    name = type(detector).__name__
    window = check_positive_int(detector, "window", window, 1)
    n_simulations = check_positive_int(detector, "n_simulations", n_simulations, 1)
    values = np.asarray(null_values, dtype=np.float64).ravel()
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise ValidationError(
            f"{name}: null_values must hold at least 2 finite values from a stream without "
            f"change, got {values.size} values; pass errors from a stable period."
        )
    rng = as_generator(seed)
    return values[rng.integers(0, values.size, size=(n_simulations, window))]


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

    @classmethod
    def calibrate(cls, *args: Any, **kwargs: Any) -> "ADWIN":
        raise ValidationError(
            "ADWIN.calibrate: ADWIN's delta already bounds its false alarms (Bifet & Gavalda "
            "2007) and measures conservative (0 of 200 null windows of 1,000 values at "
            "delta=0.002); lower delta for fewer alarms, or use false_alarm_rate to measure."
        )


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

    def _threshold(self) -> float:
        return self.threshold

    @classmethod
    def _with_threshold(cls, base: "StreamDetector", threshold: float) -> dict:
        return {"threshold": max(threshold, 1e-12)}

    def null_scores(self, windows: np.ndarray) -> np.ndarray:
        """river's Page-Hinkley statistic, maximised over each window (vectorised)."""
        X = np.atleast_2d(np.asarray(windows, dtype=np.float64))
        means = np.cumsum(X, axis=1) / np.arange(1, X.shape[1] + 1)
        up = np.zeros(len(X))
        down = np.zeros(len(X))
        low = np.full(len(X), np.inf)
        high = np.full(len(X), -1.0)  # river starts the running maximum at -1
        best = np.full(len(X), -np.inf)
        for i in range(X.shape[1]):
            dev = X[:, i] - means[:, i]
            up = self.alpha * up + dev - self.delta
            down = self.alpha * down + dev + self.delta
            low = np.minimum(low, up)
            high = np.maximum(high, down)
            if i + 1 >= self.min_instances:
                inc, dec = up - low, high - down
                stat = inc if self.mode == "up" else dec if self.mode == "down" else (
                    np.maximum(inc, dec))
                best = np.maximum(best, stat)
        return best


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

    def _threshold(self) -> float:
        return self.drift_threshold

    @classmethod
    def _with_threshold(cls, base: "StreamDetector", threshold: float) -> dict:
        threshold = max(threshold, 1e-9)
        return {"drift_threshold": threshold,
                "warning_threshold": min(base.warning_threshold, threshold * 2 / 3)}

    def null_scores(self, windows: np.ndarray) -> np.ndarray:
        """river's DDM statistic ``(p + s - p_min) / s_min``, maximised over each window.

        Infinite where the minimum's spread is zero (no error in the first ``warm_start``
        values) and an error follows: DDM then alarms at any threshold.
        """
        X = np.atleast_2d(np.asarray(windows, dtype=np.float64))
        n = np.arange(1, X.shape[1] + 1)
        p = np.cumsum(X, axis=1) / n
        ps = p + np.sqrt(p * (1 - p) / n)
        p_min = np.full(len(X), np.nan)
        s_min = np.full(len(X), np.nan)
        ps_min = np.full(len(X), np.inf)
        best = np.full(len(X), -np.inf)
        for i in range(self.warm_start, X.shape[1]):  # river judges once n > warm_start
            new = ps[:, i] <= ps_min
            p_min = np.where(new, p[:, i], p_min)
            s_min = np.where(new, ps[:, i] - p[:, i], s_min)
            ps_min = np.where(new, ps[:, i], ps_min)
            excess = ps[:, i] - p_min
            with np.errstate(divide="ignore", invalid="ignore"):
                stat = np.where(s_min > 0, excess / s_min,
                                np.where(excess > 0, np.inf, -np.inf))
            best = np.maximum(best, stat)
        return best

    @property
    def warning_detected(self) -> bool:
        """Whether the last update crossed the warning level."""
        detector = getattr(self, "detector_", None)
        return bool(detector is not None and detector.warning_detected)
