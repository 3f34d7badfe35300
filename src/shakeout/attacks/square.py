"""Square attack: a score-based black-box attack by random search (Andriushchenko et al. 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_number
from shakeout.attacks._base import Attack, check_steps

# Halvings of the changed share p, as fractions of a 10,000-query run (the paper's schedule).
_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def margin(logp: np.ndarray, y: np.ndarray, t: np.ndarray | None) -> np.ndarray:
    """Log-probability margin: positive while the attack has not succeeded.

    Untargeted: ``log p_y - max_{j != y} log p_j``; targeted: ``max_{j != t} log p_j - log p_t``.

    >>> margin(np.log([[0.7, 0.2, 0.1]]), np.array([0]), None).round(3).tolist()
    [1.253]
    """
    rows = np.arange(len(logp))
    goal = y if t is None else t
    own = logp[rows, goal]
    others = logp.copy()
    others[rows, goal] = -np.inf
    best_other = others.max(axis=1)
    return own - best_other if t is None else best_other - own


def share(p_init: float, i: int, steps: int) -> float:
    """Share of the input changed at query ``i``: ``p_init`` halved along the schedule.

    >>> share(0.05, 0, 10_000), share(0.05, 100, 10_000)
    (0.05, 0.0125)
    """
    at = int(i / steps * 10_000)
    return p_init / 2 ** sum(at > mark for mark in _SCHEDULE)


class SquareAttack(Attack):
    """Random search over square patches; needs only the model's scores (probabilities).

    Starts from stripes at the corners of the budget ball and, at each query, redraws the
    perturbation inside one random square (images) or one random subset of features
    (tables), keeping the change when the margin of the true class shrinks. The square's
    area starts at ``p_init`` of the input and halves on a fixed schedule. L-inf squares
    take values ``+-eps`` per channel. L2 moves energy between two squares, keeping the
    norm at ``eps``; its proposal mixes the square's current content with a fresh centred
    pattern, a simplification of the paper's.

    Works on any classifier with ``predict_proba``, scikit-learn and gradient-boosted trees
    included. Inputs of shape ``(n, c, h, w)`` or ``(n, h, w)`` are images; any other shape is
    treated as a flat vector of features.

    Parameters
    ----------
    eps : float
        Budget in ``norm``, in the model's input space.
    norm : {"linf", "l2"}, default="linf"
    steps : int, default=1000
        Queries per row (a fooled row stops querying).
    p_init : float, default=0.05
        Initial share of the input changed per query (the paper's tuned value for L-inf;
        use about 0.1 for L2).
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value.
    constraints : Constraints or None
        Tabular rules (immutable, integer and categorical features, a mask); every query is a
        valid point.
    batch_size : int, default=1024
        Rows attacked together; each query is one ``predict_proba`` call on them.

    References
    ----------
    Andriushchenko, Croce, Flammarion, Hein. Square attack: a query-efficient black-box
    adversarial attack via random search. ECCV 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.attacks import SquareAttack
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(200, 4)); y = (X.sum(axis=1) > 2).astype(int)
    >>> clf = LogisticRegression().fit(X, y)
    >>> X_adv = SquareAttack(eps=0.1, steps=100).apply(clf, X, y, seed=0)
    >>> bool((clf.predict(X_adv) == y).mean() < (clf.predict(X) == y).mean())
    True
    """

    slug = "square"
    norms = ("linf", "l2")
    white_box = False
    paper = "Andriushchenko et al. 2020"

    def __init__(self, *, eps: float, norm: str = "linf", steps: int = 1000,
                 p_init: float = 0.05, bounds: Any = (0.0, 1.0), constraints: Any = None,
                 batch_size: int = 1024):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.p_init = check_number(self, "p_init", p_init, 0, 1, low_open=True)

    def _perturb_batch(self, query, x, y, t, domain, rng):
        if self.eps == 0:
            return x.copy()
        n = len(x)
        rows = np.arange(n)
        flat = x.reshape(n, -1).astype(np.float64)
        img = _image_shape(x.shape[1:])
        delta = self._start(flat, img, rng)

        def evaluate(d: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cand = domain.project(flat[idx] + d, flat[idx], self.norm, self.eps)
            loss = margin(query(cand, idx), y[idx], None if t is None else t[idx])
            return cand, loss

        best, loss = evaluate(delta, rows)
        delta = best - flat
        for i in range(self.steps - 1):
            active = np.flatnonzero(loss > 0)
            if active.size == 0:
                break
            p = share(self.p_init, i, self.steps)
            proposal = self._propose(delta[active], img, p, rng)
            cand, new_loss = evaluate(proposal, active)
            better = new_loss < loss[active]
            take = active[better]
            best[take] = cand[better]
            loss[take] = new_loss[better]
            delta[take] = cand[better] - flat[take]
        return best.reshape(x.shape).astype(x.dtype, copy=False)

    def _start(self, flat: np.ndarray, img: tuple[int, int, int] | None,
               rng: np.random.Generator) -> np.ndarray:
        """Vertical stripes of random sign (images) or random signs (features)."""
        n = len(flat)
        if img is None:
            signs = rng.choice([-1.0, 1.0], size=flat.shape)
        else:
            c, h, w = img
            signs = np.broadcast_to(rng.choice([-1.0, 1.0], size=(n, c, 1, w)),
                                    (n, c, h, w)).reshape(n, -1)
        if self.norm == "linf":
            return self.eps * signs
        return self.eps * signs / np.sqrt(signs.shape[1])

    def _propose(self, delta: np.ndarray, img: tuple[int, int, int] | None, p: float,
                 rng: np.random.Generator) -> np.ndarray:
        """Redraw one square (L-inf), or move energy from a second square into it (L2)."""
        n, d = delta.shape
        first = _region(n, d, img, p, rng)
        out = delta.copy()
        if self.norm == "linf":  # a sign per channel (images) or per feature
            if img is None:
                values = rng.choice([-1.0, 1.0], size=(n, d))
            else:
                values = np.repeat(rng.choice([-1.0, 1.0], size=(n, img[0])), d // img[0], axis=1)
            out[first] = self.eps * values[first]
            return out
        second = _region(n, d, img, p, rng) & ~first
        out[second] = 0.0
        rest = np.where(first, 0.0, out)
        budget = np.sqrt(np.maximum(self.eps ** 2 - (rest ** 2).sum(axis=1), 0.0))
        pattern = _pattern(first, img, rng)
        old = np.where(first, delta, 0.0)
        old_size = np.linalg.norm(old, axis=1, keepdims=True)
        mix = old / np.maximum(old_size, 1e-12) + pattern
        mix /= np.maximum(np.linalg.norm(mix, axis=1, keepdims=True), 1e-12)
        return rest + mix * budget[:, None]


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """``(c, h, w)`` for image-shaped inputs, None for feature vectors."""
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (1,) + shape
    return None


def _region(n: int, d: int, img: tuple[int, int, int] | None, p: float,
            rng: np.random.Generator) -> np.ndarray:
    """A boolean ``(n, d)`` mask: one random square per row (all channels), or a random
    subset of about ``p * d`` features."""
    if img is None:
        m = max(1, min(d, round(p * d)))
        keys = rng.random((n, d))
        chosen = np.argpartition(keys, m - 1, axis=1)[:, :m]
        mask = np.zeros((n, d), dtype=bool)
        mask[np.arange(n)[:, None], chosen] = True
        return mask
    c, h, w = img
    s = int(np.clip(round(np.sqrt(p * h * w)), 1, min(h, w)))
    top = rng.integers(0, h - s + 1, size=n)
    left = rng.integers(0, w - s + 1, size=n)
    rr = np.arange(h)[None, :]
    cc = np.arange(w)[None, :]
    in_rows = (rr >= top[:, None]) & (rr < top[:, None] + s)
    in_cols = (cc >= left[:, None]) & (cc < left[:, None] + s)
    square = in_rows[:, :, None] & in_cols[:, None, :]
    return np.broadcast_to(square[:, None], (n, c, h, w)).reshape(n, d)


def _pattern(region: np.ndarray, img: tuple[int, int, int] | None,
             rng: np.random.Generator) -> np.ndarray:
    """A unit-norm proposal on ``region``: a centred pyramid with a random sign per channel
    (images), or Gaussian noise (features)."""
    n, d = region.shape
    if img is None:
        z = np.where(region, rng.standard_normal((n, d)), 0.0)
    else:
        c, h, w = img
        sq = region.reshape(n, c, h, w)[:, 0]
        r_idx = np.arange(h)[None, :, None]
        c_idx = np.arange(w)[None, None, :]
        rows_on = sq.any(axis=2)
        cols_on = sq.any(axis=1)
        r_mid = (np.argmax(rows_on, axis=1) + h - 1 - np.argmax(rows_on[:, ::-1], axis=1)) / 2
        c_mid = (np.argmax(cols_on, axis=1) + w - 1 - np.argmax(cols_on[:, ::-1], axis=1)) / 2
        ring = np.maximum(np.abs(r_idx - r_mid[:, None, None]),
                          np.abs(c_idx - c_mid[:, None, None]))
        bump = np.where(sq, 1.0 / (ring + 1.0) ** 2, 0.0)
        signs = rng.choice([-1.0, 1.0], size=(n, c, 1, 1))
        z = (bump[:, None] * signs).reshape(n, d)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
