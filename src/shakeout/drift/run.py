"""``shakeout.drift.run``: one comparison of current data with the reference, as a drill."""

from __future__ import annotations

from typing import Any

from shakeout.drift.suite import DriftSuite
from shakeout.report.result import Result


def run(reference: Any, current: Any, *, model: Any = None, y_reference: Any = None,
        y_current: Any = None, holdout: tuple[Any, Any] | None = None, seed: Any = 0,
        window: str | None = None, **options: Any) -> Result:
    """Has ``current`` drifted from ``reference``, how much, does it matter, what to do.

    Runs :class:`~shakeout.drift.DriftSuite` (``options`` are its parameters: ``tests``,
    ``multivariate``, ``alpha``, ``correction``, ``policy``, ``importance``...). With a model
    it also tests the model's outputs; with labels, label drift and performance (against the
    score on ``holdout``, ``(X, y)`` rows the model did not train on, when given). The last
    finding is the decision (``metric="decision"``). Reference and current may also be
    :class:`~shakeout.drift.Profile` objects (tables profiled in batches or partitions),
    compared with the tests that profiles support.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout import drift
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(3000, 3))
    >>> cur = rng.normal(size=(3000, 3)) + [0.0, 0.0, 0.6]
    >>> result = drift.run(ref, cur, seed=0)
    >>> [f.feature for f in result.findings if f.group == "psi" and f.status == "fail"]
    ['x2']
    >>> result.findings[-1].details["action"]
    'retrain now'
    """
    from shakeout.drift.profile import Profile, compare_profiles

    if isinstance(reference, Profile) or isinstance(current, Profile):
        return compare_profiles(reference, current, window=window, **options)
    suite = DriftSuite(seed=seed, **options)
    return suite.fit(reference, y=y_reference, model=model, holdout=holdout).run(
        current, y=y_current, window=window)
