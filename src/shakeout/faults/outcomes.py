"""The outcome of one fault injection over the evaluation inputs: masked, silent data
corruption (SDC), critical SDC or detected unrecoverable error (DUE).

Per input, against the fault-free run of the same inputs:

- ``due``: the output holds NaN or inf (or the forward pass raised): the error shows;
- ``critical_sdc``: the input was classified correctly before and wrongly after;
- ``sdc``: the top-1 class changed;
- ``masked``: the top-1 class stayed.

An injection's outcome is the worst over its inputs, in that order (Li et al. 2017,
"Understanding error propagation in deep learning neural network accelerators", SC; the
categories of Mukherjee, Emer & Reinhardt 2005). An SDC rate counts ``sdc`` and
``critical_sdc`` together: a critical SDC is an SDC that turned a right answer wrong.

Examples
--------
>>> import numpy as np
>>> clean = np.array([[2.0, 1.0], [0.0, 3.0]])
>>> labels = np.array([0, 0])
>>> judge(clean.argmax(1), labels, np.array([[0.0, 1.0], [0.0, 3.0]]))
Outcome(code=2, changed=0.5, differs=True)
>>> OUTCOMES[2], judge(clean.argmax(1), labels, clean), judge(clean.argmax(1), labels, None)
('critical_sdc', Outcome(code=0, changed=0.0, differs=False), Outcome(code=3, changed=1.0, \
differs=True))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTCOMES = ("masked", "sdc", "critical_sdc", "due")
"""Outcome codes, from harmless to worst: an injection's code indexes this tuple."""

MASKED, SDC, CRITICAL, DUE = range(4)


@dataclass(frozen=True)
class Outcome:
    """One injection: its ``code`` (a position in :data:`OUTCOMES`), the share of inputs
    whose top-1 class ``changed`` (a DUE counts every input), and whether the output
    ``differs`` at all from the fault-free one (bit for bit: what redundant execution with
    comparison detects)."""

    code: int
    changed: float
    differs: bool


def judge(clean_top: np.ndarray, labels: np.ndarray, faulty: np.ndarray | None,
          clean: np.ndarray | None = None) -> Outcome:
    """The outcome of one injection.

    Parameters
    ----------
    clean_top : array of int, shape (n,)
        The fault-free top-1 class of each input.
    labels : array of int, shape (n,)
        The true class of each input (column indices of the output).
    faulty : array, shape (n, n_classes), or None
        The output under the fault; None when the forward pass raised (a DUE).
    clean : array, shape (n, n_classes), optional
        The fault-free output, to say whether the faulty one ``differs`` at all; without it
        ``differs`` is whether a top-1 class changed.
    """
    if faulty is None:
        return Outcome(DUE, 1.0, True)
    faulty = np.asarray(faulty)
    if not np.isfinite(faulty).all():
        return Outcome(DUE, 1.0, True)
    top = faulty.argmax(axis=1)
    moved = top != clean_top
    changed = float(moved.mean()) if moved.size else 0.0
    differs = bool(moved.any()) if clean is None else not np.array_equal(faulty, clean)
    if not moved.any():
        return Outcome(MASKED, changed, differs)
    critical = bool(np.any(moved & (clean_top == labels)))
    return Outcome(CRITICAL if critical else SDC, changed, differs)


def counts(codes: np.ndarray) -> dict[str, int]:
    """How many injections fell in each rate the campaign reports: ``sdc`` (SDC and
    critical SDC), ``critical_sdc``, ``due`` and ``masked``.

    >>> counts(np.array([0, 1, 2, 3, 2]))
    {'sdc': 3, 'critical_sdc': 2, 'due': 1, 'masked': 1}
    """
    codes = np.asarray(codes)
    return {"sdc": int(np.sum((codes == SDC) | (codes == CRITICAL))),
            "critical_sdc": int(np.sum(codes == CRITICAL)), "due": int(np.sum(codes == DUE)),
            "masked": int(np.sum(codes == MASKED))}


def is_sdc(codes: np.ndarray) -> np.ndarray:
    """Whether each injection was a silent data corruption (critical or not).

    >>> is_sdc(np.array([0, 1, 2, 3])).tolist()
    [False, True, True, False]
    """
    codes = np.asarray(codes)
    return (codes == SDC) | (codes == CRITICAL)


__all__ = ["OUTCOMES", "Outcome", "counts", "is_sdc", "judge"]
