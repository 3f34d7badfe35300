"""Effect-size labels printed beside significance."""

from __future__ import annotations

from collections.abc import Sequence

LABELS = ("negligible", "small", "medium", "large")


def effect_label(value: float, thresholds: Sequence[float]) -> str:
    """Label ``|value|`` against three increasing thresholds.

    >>> effect_label(0.004, (0.01, 0.03, 0.1)), effect_label(0.05, (0.01, 0.03, 0.1))
    ('negligible', 'medium')
    """
    v = abs(value)
    for label, limit in zip(LABELS, thresholds):
        if v < limit:
            return label
    return LABELS[-1]
