"""HopSkipJump: a decision-based black-box attack that needs only predicted labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import check_number, check_positive_int
from shakeout.attacks._base import Attack, check_steps

_QUERY_VALUES = 1 << 22  # values per model call while estimating a gradient (memory bound)


class HopSkipJump(Attack):
    """Walk along the decision boundary towards the clean point, using labels only.

    From an adversarial starting point (uniform noise, blended towards ``x``), each
    iteration finds the boundary by binary search, estimates the boundary's normal from the
    labels of ``n`` random probes around it (Monte-Carlo, ``n = init_evals * sqrt(t)``,
    at most ``max_evals``), steps along it with a geometrically shrinking step until the
    point is adversarial again, and searches the boundary again. It returns the smallest
    perturbation found: a minimal-perturbation attack.

    Works on any classifier, including those that expose only ``predict``. A row with no
    adversarial starting point among ``init_tries`` noise draws is returned unchanged.

    Parameters
    ----------
    eps : float or None, default=None
        Budget in ``norm``. None: return the smallest perturbation found whatever its size;
        a number: rows needing more than ``eps`` are returned unchanged, and a row stops as
        soon as it is within ``eps``.
    norm : {"l2", "linf"}, default="l2"
    steps : int, default=40
        Iterations (each: a gradient estimate, a step search, a binary search).
    init_evals, max_evals : int, default=100, 1000
        Probes of the first gradient estimate, and the cap as their number grows.
    gamma : float, default=1.0
        Binary-search tolerance: the search along a segment stops within ``gamma / d**1.5``
        (L2) or ``gamma / d**2`` (L-inf) of its length; the probe radius is
        ``sqrt(d) * theta`` (L2) or ``d * theta`` (L-inf) times the current distance.
    init_tries : int, default=100
        Uniform-noise draws tried per row to find an adversarial start.
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value; noise starts are drawn in it (with None, in the
        range of the rows attacked).
    constraints : Constraints or None
        Tabular rules; every probe is a valid point.
    batch_size : int, default=256

    References
    ----------
    Chen, Jordan, Wainwright. HopSkipJumpAttack: a query-efficient decision-based attack.
    IEEE S&P 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shakeout.attacks import HopSkipJump, perturbation_norm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(100, 2)); y = (X[:, 0] > 0.5).astype(int)
    >>> clf = LogisticRegression(C=100).fit(X, y)
    >>> X_adv = HopSkipJump(steps=10).apply(clf, X[:5], y[:5], seed=0)
    >>> bool((clf.predict(X_adv) != y[:5]).all())
    True
    """

    slug = "hopskipjump"
    norms = ("l2", "linf")
    minimal = True
    white_box = False
    paper = "Chen et al. 2020"

    def __init__(self, *, eps: float | None = None, norm: str = "l2", steps: int = 40,
                 init_evals: int = 100, max_evals: int = 1000, gamma: float = 1.0,
                 init_tries: int = 100, bounds: Any = (0.0, 1.0), constraints: Any = None,
                 batch_size: int = 256):
        self._threat(eps=eps, norm=norm, bounds=bounds, constraints=constraints,
                     batch_size=batch_size)
        self.steps = check_steps(self, steps)
        self.init_evals = check_positive_int(self, "init_evals", init_evals)
        self.max_evals = check_positive_int(self, "max_evals", max_evals)
        self.gamma = check_number(self, "gamma", gamma, 0, low_open=True)
        self.init_tries = check_positive_int(self, "init_tries", init_tries)

    def _perturb_batch(self, query, x, y, t, domain, rng):
        n = len(x)
        x0 = x.reshape(n, -1).astype(np.float64)
        d = x0.shape[1]
        lo = domain.lower if domain.lower is not None else x0.min(axis=0)
        hi = domain.upper if domain.upper is not None else x0.max(axis=0)
        theta = self.gamma / (d ** 1.5 if self.norm == "l2" else d ** 2)
        goal = None if t is None else t

        def valid(cand: np.ndarray, idx: np.ndarray) -> np.ndarray:
            return domain.project(cand, x0[idx], self.norm, None)

        def adversarial(cand: np.ndarray, idx: np.ndarray) -> np.ndarray:
            pred = query(cand, idx).argmax(axis=1)
            return pred != y[idx] if goal is None else pred == goal[idx]

        adv, found = self._start(x0, lo, hi, valid, adversarial, rng)
        already = adversarial(x0, np.arange(n))
        idx = np.flatnonzero(found & ~already)
        if idx.size == 0:
            return x.copy()
        adv[idx] = self._boundary(x0[idx], adv[idx], idx, theta, valid, adversarial)
        dist = self._size(adv - x0)
        for step in range(1, self.steps + 1):
            todo = idx if self.eps is None else idx[dist[idx] > self.eps]
            if todo.size == 0:
                break
            delta = np.sqrt(d) * theta * dist[todo] if self.norm == "l2" \
                else d * theta * dist[todo]
            n_evals = int(min(self.init_evals * np.sqrt(step), self.max_evals))
            grad = self._normal(adv[todo], todo, delta, n_evals, domain, valid, adversarial,
                                rng)
            update = grad if self.norm == "l2" else np.sign(grad)
            moved = self._jump(adv[todo], update, dist[todo] / np.sqrt(step), todo, valid,
                               adversarial)
            moved = self._boundary(x0[todo], moved, todo, theta, valid, adversarial)
            new_dist = self._size(moved - x0[todo])
            better = new_dist < dist[todo]
            adv[todo[better]] = moved[better]
            dist[todo[better]] = new_dist[better]
        out = np.where((found & ~already)[:, None], adv, x0)
        return out.reshape(x.shape).astype(x.dtype, copy=False)

    def _size(self, delta: np.ndarray) -> np.ndarray:
        return np.linalg.norm(delta, ord=2 if self.norm == "l2" else np.inf, axis=1)

    def _start(self, x0, lo, hi, valid, adversarial, rng):
        """Uniform noise in the range until adversarial, then blended towards ``x``."""
        n = len(x0)
        adv = x0.copy()
        found = np.zeros(n, dtype=bool)
        for _ in range(self.init_tries):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            noise = valid(rng.uniform(lo, hi, size=(todo.size, x0.shape[1])), todo)
            hit = adversarial(noise, todo)
            adv[todo[hit]] = noise[hit]
            found[todo[hit]] = True
        idx = np.flatnonzero(found)
        if idx.size:
            low, high = np.zeros(idx.size), np.ones(idx.size)
            for _ in range(10):
                mid = (low + high) / 2
                blend = valid(x0[idx] + mid[:, None] * (adv[idx] - x0[idx]), idx)
                hit = adversarial(blend, idx)
                high = np.where(hit, mid, high)
                low = np.where(hit, low, mid)
            adv[idx] = valid(x0[idx] + high[:, None] * (adv[idx] - x0[idx]), idx)
        return adv, found

    def _boundary(self, x0, adv, idx, theta, valid, adversarial):
        """Binary search between the clean rows and adversarial ``adv`` to the boundary."""
        if self.norm == "l2":
            high, tol = np.ones(len(idx)), np.full(len(idx), theta)

            def blend(a):
                return valid(x0 + a[:, None] * (adv - x0), idx)
        else:
            high = np.abs(adv - x0).max(axis=1)
            tol = np.maximum(high * theta, 1e-12)

            def blend(a):
                return valid(np.clip(adv, x0 - a[:, None], x0 + a[:, None]), idx)
        low = np.zeros(len(idx))
        while np.any(high - low > tol):
            mid = (low + high) / 2
            hit = adversarial(blend(mid), idx)
            high = np.where(hit, mid, high)
            low = np.where(hit, low, mid)
        return blend(high)

    def _normal(self, boundary, idx, delta, n_evals, domain, valid, adversarial, rng):
        """Monte-Carlo estimate of the boundary's normal from the labels of random probes."""
        m, d = boundary.shape
        grad = np.empty((m, d))
        chunk = max(1, _QUERY_VALUES // (n_evals * d))
        for start in range(0, m, chunk):
            part = slice(start, start + chunk)
            k = len(boundary[part])
            if self.norm == "l2":
                u = rng.standard_normal((k, n_evals, d))
            else:
                u = rng.uniform(-1.0, 1.0, size=(k, n_evals, d))
            u[:, :, ~domain.mask] = 0.0
            u /= np.maximum(np.linalg.norm(u, axis=2, keepdims=True), 1e-12)
            probes = boundary[part, None, :] + delta[part, None, None] * u
            rows = np.repeat(idx[part], n_evals)
            flat = valid(probes.reshape(k * n_evals, d), rows)
            sign = np.where(adversarial(flat, rows), 1.0, -1.0).reshape(k, n_evals)
            u = (flat.reshape(k, n_evals, d) - boundary[part, None, :]) / delta[part, None, None]
            mean = sign.mean(axis=1, keepdims=True)
            centred = np.where(np.abs(mean) == 1.0, sign, sign - mean)
            grad[part] = (centred[:, :, None] * u).mean(axis=1)
        return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)

    def _jump(self, boundary, update, step, idx, valid, adversarial):
        """Step along ``update``, halving the step until the point is adversarial again."""
        out = boundary.copy()
        todo = np.arange(len(idx))
        for _ in range(30):
            cand = valid(boundary[todo] + step[todo, None] * update[todo], idx[todo])
            hit = adversarial(cand, idx[todo])
            out[todo[hit]] = cand[hit]
            todo = todo[~hit]
            if todo.size == 0:
                break
            step = step / 2
        return out
