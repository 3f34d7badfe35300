"""Global sensitivity of a model's output to its inputs: Sobol indices and Morris screening.

Both sample the input space described by :class:`Marginals` (independent features), call the
model once on all samples (in batches) and hand the outputs to SALib's estimators. For a
classifier every class probability is an output; indices over several outputs are combined
weighted by each output's variance (Gamboa, Janon, Klein & Lagnoux 2014), so a class that
barely varies barely counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_open_interval, check_positive_int
from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.models._base import Model
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding
from shakeout.stress.marginals import Marginals

NEGATIVE_TOLERANCE = 0.01
WIDE_INTERVAL = 0.1


def _outputs(model: Model, X: Any) -> np.ndarray:
    """Model outputs as columns: P(class 1) for binary, every class for multiclass, the value."""
    out = model.outputs(X)
    if model.task == "regression":
        return out.reshape(len(out), 1)
    return out[:, 1:2] if out.shape[1] == 2 else out


def _space(X: Any, bounds: Any) -> Marginals:
    if bounds is not None:
        return Marginals.from_bounds(bounds)
    if X is None:
        raise ValidationError("sobol/morris need reference data X or explicit bounds.")
    return Marginals.from_data(X)


def _problem(space: Marginals) -> dict:
    return {"num_vars": space.d, "names": space.names, "bounds": [[0.0, 1.0]] * space.d}


def _combine(indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Variance-weighted average over outputs; indices has shape (outputs, d)."""
    total = weights.sum()
    if total <= 0:
        return np.zeros(indices.shape[1])
    return (weights[:, None] * indices).sum(axis=0) / total


def sobol(model: Any, X: Any = None, *, bounds: Any = None, n: int = 1024, level: float = 0.95,
          seed: Seed = 0) -> list[Finding]:
    """First-order (S1) and total (ST) Sobol indices of every input feature.

    Parameters
    ----------
    n : int, default=1024
        Base sample size (a power of two); the model is called ``n * (d + 2)`` times.
        SALib's authors suggest thousands per parameter for stable indices; the findings
        warn when an interval is wide or an index is negative beyond its interval.
    bounds : list of (low, high) or None
        Sample uniformly in this box instead of the data's marginals.

    Examples
    --------
    >>> def ishigami(X):
    ...     return np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])
    >>> model = wrap(ishigami, task="regression")
    >>> found = sobol(model, bounds=[(-np.pi, np.pi)] * 3, n=4096, seed=0)
    >>> [round(f.value, 2) + 0 for f in found if f.metric == "sobol_s1"]
    [0.31, 0.44, 0.0]
    """
    check_positive_int("sobol", "n", n, 8)
    check_open_interval("sobol", "level", level, 0, 1)
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    model = wrap(model)
    rng = as_generator(seed)
    space = _space(X, bounds)
    problem = _problem(space)
    n_base = 1 << int(np.ceil(np.log2(n)))
    U = sample.sample(problem, n_base, calc_second_order=False, scramble=True,
                      seed=int(rng.integers(2**31)))
    Y = _outputs(model, space.transform(U))
    s1, s1c, st, stc, var = [], [], [], [], []
    for k in range(Y.shape[1]):
        y = Y[:, k]
        var.append(float(np.var(y)))
        if var[-1] == 0:
            s1.append(np.zeros(space.d)), s1c.append(np.zeros(space.d))
            st.append(np.zeros(space.d)), stc.append(np.zeros(space.d))
            continue
        res = analyze.analyze(problem, y, calc_second_order=False, conf_level=level,
                              seed=int(rng.integers(2**31)))
        s1.append(res["S1"]), s1c.append(res["S1_conf"])
        st.append(res["ST"]), stc.append(res["ST_conf"])
    w = np.asarray(var)
    found = []
    for metric, idx, conf in (("sobol_s1", s1, s1c), ("sobol_st", st, stc)):
        values, half = _combine(np.asarray(idx), w), _combine(np.asarray(conf), w)
        for name, v, h in zip(space.names, values, half):
            found.append(_index_finding(metric, name, float(v), float(h), level,
                                        evaluations=len(U)))
    return found


def _index_finding(metric: str, feature: str, value: float, half: float, level: float,
                   evaluations: int) -> Finding:
    status, message = "info", ""
    if value < -half - NEGATIVE_TOLERANCE:
        status, message = "warn", ("negative beyond its interval: too few samples for this "
                                   "model; increase n")
    elif half > WIDE_INTERVAL:
        status, message = "warn", f"interval half-width {half:.2f}: increase n for a stable index"
    kind = "first-order" if metric == "sobol_s1" else "total"
    return Finding(name=finding_name("stress", "sobol", metric, str(feature)), metric=metric,
                   value=value,
                   ci=(value - half, value + half), ci_level=level, status=status, drill="stress",
                   group="sobol", feature=feature, unit="share of output variance",
                   message=message or f"{kind} Sobol index",
                   details={"model_evaluations": evaluations,
                            "assumption": "independent features with the data's marginals"})


def morris(model: Any, X: Any = None, *, bounds: Any = None, trajectories: int = 50,
           levels: int = 4, level: float = 0.95, seed: Seed = 0) -> list[Finding]:
    """Morris elementary-effects screening: mu* (importance) and sigma (interaction/non-linearity).

    Costs ``trajectories * (d + 1)`` model calls, so it suits many features where Sobol
    would be too expensive. Inputs are in the unit cube of each feature's quantiles (or of
    ``bounds``), so mu* is the mean absolute output change for a move of ``levels /
    (2 (levels - 1))`` of a feature's quantile range.

    Examples
    --------
    >>> model = wrap(lambda X: 3 * X[:, 0] + X[:, 1], task="regression")
    >>> found = morris(model, bounds=[(0, 1), (0, 1), (0, 1)], seed=0)
    >>> [round(f.value, 2) for f in found if f.metric == "morris_mu_star"]
    [3.0, 1.0, 0.0]
    """
    check_positive_int("morris", "trajectories", trajectories, 2)
    check_positive_int("morris", "levels", levels, 2)
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    model = wrap(model)
    rng = as_generator(seed)
    space = _space(X, bounds)
    problem = _problem(space)
    U = sample.sample(problem, trajectories, num_levels=levels, seed=int(rng.integers(2**31)))
    Y = _outputs(model, space.transform(U))
    mu, conf, sigma = [], [], []
    for k in range(Y.shape[1]):
        res = analyze.analyze(problem, U, Y[:, k], conf_level=level, num_levels=levels,
                              seed=int(rng.integers(2**31)))
        mu.append(res["mu_star"]), conf.append(res["mu_star_conf"]), sigma.append(res["sigma"])
    mu_star, half, sig = (np.mean(np.asarray(a, dtype=np.float64), axis=0)
                          for a in (mu, conf, sigma))
    return [Finding(name=finding_name("stress", "morris", str(name)), metric="morris_mu_star",
                    value=float(m),
                    ci=(float(max(m - h, 0.0)), float(m + h)), ci_level=level, status="info",
                    drill="stress", group="morris", feature=name,
                    unit="mean |elementary effect| (output units)",
                    message="Morris screening: mean absolute elementary effect",
                    details={"sigma": float(s), "model_evaluations": len(U),
                             "trajectories": trajectories})
            for name, m, h, s in zip(space.names, mu_star, half, sig)]
