"""``attacks.run``: the evasion drill: worst-case accuracy against budget, with exact intervals."""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from shakeout._progress import progress
from shakeout._validation import (Seed, as_generator, check_choice, check_grid, check_number,
                                  check_open_interval, check_positive_int)
from shakeout.attacks._base import Attack, check_params, drill_attack
from shakeout.attacks._inputs import Inputs
from shakeout.attacks.ensemble import default_attacks, default_eps
from shakeout.attacks.sanity import Outcome, sanity_findings
from shakeout.attacks.threat import NORMS, Constraints, Domain, perturbation_norm
from shakeout.data.validate import check_features
from shakeout.errors import ShakeoutWarning, ValidationError
from shakeout.models import Model, wrap
from shakeout.fingerprint import fingerprint
from shakeout.report.result import Finding, Manifest, Result
from shakeout.stats import clopper_pearson, median_interval
from shakeout.stats.quantile import median_coverage, median_interval_min_rows

DRILL = "attack"


def run(model: Any, X: Any, y: Any, *, attacks: Sequence[Attack | str] | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        eps: Sequence[float] | float | None = None, norm: str = "linf",
        bounds: Any = (0.0, 1.0), constraints: Constraints | None = None, seed: Seed = 0,
        batch_size: int | None = None, level: float = 0.95, tolerance: float = 0.02,
        sanity: bool = True, quiet: bool = True, data_name: str = "data") -> Result:
    """Attack a classifier under one threat model and report worst-case accuracy with intervals.

    Every attack runs on the points the model classifies correctly. Budgeted attacks run at
    each ``eps``; minimal-perturbation attacks run once and give every budget (a point
    counts as fooled at ``eps`` when its smallest change found is at most ``eps``). A point
    is robust at ``eps`` only if every attack failed on it (the ``ensemble``).

    Findings, all with ``drill="attack"``:

    - ``accuracy`` (group ``clean``);
    - per attack and per ``eps`` (``group`` the attack, ``severity`` the budget):
      ``robust_accuracy`` (share of all points still correct) and ``attack_success_rate``
      (share of clean-correct points fooled), with exact Clopper-Pearson intervals;
    - per ``eps``, the same two for the ``ensemble``, with ``class_robust_accuracy`` per
      class (``feature="class <label>"``) and ``adversarial_confidence`` (median top
      probability of the fooling predictions, with a distribution-free interval);
    - per minimal-perturbation attack, ``min_perturbation``: the median smallest change
      (``inf`` where none was found), its interval and quantiles;
    - with ``sanity``, the checks of :mod:`shakeout.attacks.sanity` (``metric="sanity"``),
      which also raise a ``ShakeoutWarning`` when they fail.

    Parameters
    ----------
    model : any classifier :func:`shakeout.wrap` accepts
    X, y : inputs (array of any shape or DataFrame) and labels
    attacks : list of Attack or attack names, or None
        None: :func:`~shakeout.attacks.default_attacks` for the norm and model. Names are
        those of ``shakeout.attacks.CATALOG`` (``"pgd"``, ``"apgd-ce"``, ``"square"``...).
        Each attack is given the drill's ``bounds``, ``constraints`` (and ``batch_size``);
        its norm must be ``norm``.
    params : mapping of attack name to settings, or None
        Settings of attacks built by name, the default ensemble's included, e.g.
        ``{"square": {"steps": 200}, "hopskipjump": {"steps": 10}}`` (Square's ``steps`` is
        its budget of queries per point). Each name must be one the run uses; a parameter
        the attack does not take is refused with the list of those it takes; the threat
        model (``eps``, ``norm``, ``bounds``, ``constraints``) is the drill's.
    eps : float or increasing list of floats, or None
        Budgets in ``norm``, in the model's input space (L0: numbers of values). None:
        :func:`~shakeout.attacks.default_eps` of the valid range.
    norm : {"linf", "l2", "l1", "l0"}, default="linf"
    bounds : (low, high) or None, default=(0.0, 1.0)
        Valid range of every input value: scalars, or arrays of one input's shape
        (per-feature bounds, e.g. ``data_bounds(X_train)``); None for no range.
    constraints : Constraints or None
        Tabular rules: immutable, integer and categorical features, a mask.
    seed : int, Generator or None
        Same seed, same adversarial examples and numbers.
    batch_size : int or None
        Rows per attack batch; None keeps each attack's own.
    level : float, default=0.95
        Confidence level of every interval.
    tolerance : float, default=0.02
        Share of clean-correct points a sanity check may fail on before it warns.
    sanity : bool, default=True
        Run the sanity checks (one extra attack at an unbounded budget).
    quiet : bool, default=True
        Hide the progress bar.
    data_name : str, default="data"
        Name of the data in the report.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.attacks import run
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(200, 2)).astype(np.float32); y = (X[:, 0] > 0.5).astype(int)
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]))
    ...     _ = net.bias.copy_(torch.tensor([5.0, -5.0]))
    >>> result = run(net, X, y, attacks=["pgd", "fgsm"], eps=[0.05, 0.1], seed=0)
    >>> f = result.select(group="ensemble", metric="robust_accuracy")[1]
    >>> f.severity, round(f.value, 3), tuple(round(v, 3) for v in f.ci)
    (0.1, 0.785, (0.722, 0.84))
    >>> round(float(np.mean(np.abs(X[:, 0] - 0.5) > 0.1)), 3)  # the exact answer
    0.785
    """
    started = time.perf_counter()
    norm = check_choice("attacks.run", "norm", norm, NORMS)
    check_open_interval("attacks.run", "level", level, 0, 1)
    check_number("attacks.run", "tolerance", tolerance, 0, 1, high_open=True)
    if batch_size is not None:
        check_positive_int("attacks.run", "batch_size", batch_size)
    model = wrap(model)
    if model.task != "classification":
        raise ValidationError(
            f"attacks.run: evasion attacks need a classifier; {model.name} is a regressor."
        )
    X = check_features(model, X)
    inputs = Inputs(X)
    x = inputs.array
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValidationError(
            f"attacks.run: y must be one label per row of X ({len(x)}), got shape {labels.shape}."
        )
    codes = model.encode_labels(labels)
    domain = Domain(x.shape[1:], bounds=bounds, constraints=constraints, names=inputs.names,
                    integer_columns=inputs.integer_columns, owner="attacks.run")
    domain.check(x)
    span = domain.span if domain.lower is not None else float(np.ptp(x)) or 1.0
    grid = default_eps(norm, span) if eps is None else check_grid("attacks.run", "eps", eps)
    threat = {"bounds": bounds, "constraints": constraints}
    if batch_size is not None:
        threat["batch_size"] = batch_size
    ensemble = _resolve(attacks, params, model, norm, grid[0], threat)
    rng = as_generator(seed)

    t = time.perf_counter()
    clean_proba = model.predict_proba(inputs.to_model(x))
    correct = clean_proba.argmax(axis=1) == codes
    timings = {"clean_predict_s": time.perf_counter() - t}
    keep = np.flatnonzero(correct)
    X_c = _rows(X, keep)
    y_c, codes_c = labels[keep], codes[keep]
    n, n_ok = len(x), len(keep)
    unit = "values changed (l0)" if norm == "l0" else f"{norm} in input space"

    findings = [_proportion("attack/clean/accuracy", "accuracy", n_ok, n, level, group="clean",
                            message=f"{n_ok} of {n} points correct before any attack.")]
    big = _unbounded_eps(norm, span, domain.size)
    outcomes, unbounded, sizes = _campaign(ensemble, grid, big if sanity else None, model, X_c,
                                           y_c, codes_c, norm, rng, quiet, timings)
    for name, (found, seconds) in sizes.items():
        findings.append(_min_perturbation(name, found, seconds, level, unit))
    for o in outcomes.values():
        findings += _attack_findings(o, n, n_ok, level, unit)
    for e in grid:
        runs = [outcomes[(a.name, e)] for a in ensemble if (a.name, e) in outcomes]
        findings += _ensemble_findings(runs, e, n, labels, correct, level, unit)
    if sanity:
        checks = sanity_findings(outcomes, grid, unbounded, tolerance=tolerance, level=level)
        for f in checks:
            if f.status == "warn":
                warnings.warn(f"attack sanity check {f.feature!r} failed: {f.message}",
                              ShakeoutWarning, stacklevel=2)
        findings += checks
    timings["total_s"] = time.perf_counter() - started
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=model.name,
        model_fingerprint=model.fingerprint(), data=data_name,
        data_fingerprint=fingerprint(X if hasattr(X, "columns") else x), n_rows=n,
        timings=timings,
        parameters={"drill": DRILL, "norm": norm, "eps": list(grid), "unit": unit,
                    "bounds": _describe_bounds(bounds), "constraints": repr(constraints),
                    "attacks": {a.name: repr(a) for a in ensemble}, "level": level,
                    "tolerance": tolerance, "sanity": sanity})
    return Result(title=f"Adversarial attacks on {model.name} ({data_name})",
                  findings=tuple(findings), manifest=manifest)


def _resolve(attacks: Sequence[Attack | str] | None, params: Mapping[str, Any] | None,
             model: Model, norm: str, eps: float, threat: dict[str, Any]) -> list[Attack]:
    """Attack objects for the drill, each carrying the drill's threat model and, when built
    by name, its settings from ``params``."""
    if attacks is None:
        return default_attacks(model, norm, eps, params=params, **threat)
    if isinstance(attacks, (str, Attack)):
        attacks = [attacks]
    own = check_params("attacks.run", params, [a for a in attacks if isinstance(a, str)])
    out = []
    for a in attacks:
        if isinstance(a, str):
            out.append(drill_attack(a, eps, norm, threat, own.get(a, {})))
            continue
        if not isinstance(a, Attack):
            raise ValidationError(
                f"attacks.run: attacks must be Attack objects or names, got {type(a).__name__}."
            )
        if a.norm != norm:
            raise ValidationError(
                f"attacks.run: {a.name} measures {a.norm}, but the drill's norm is {norm!r}; "
                f"pass norm={a.norm!r} or an attack in {norm}."
            )
        out.append(a.replace(**threat, eps=None if a.minimal else eps))
    if not out:
        raise ValidationError("attacks.run: attacks is empty; pass None for the default ensemble.")
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValidationError(f"attacks.run: attack names must be unique, got {names}.")
    return out


def _campaign(ensemble: list[Attack], grid: Sequence[float], big: float | None, model: Model,
              X: Any, y: np.ndarray, codes: np.ndarray, norm: str, rng: np.random.Generator,
              quiet: bool, timings: dict[str, float],
              ) -> tuple[dict[tuple[str, float], Outcome], Outcome | None,
                         dict[str, tuple[np.ndarray, float]]]:
    """Every attack at every budget on the clean-correct rows ``X`` (minimal attacks once),
    and with ``big`` one budgeted attack at that unbounded budget for the sanity check.

    Returns the outcomes by ``(attack, eps)``, the unbounded outcome, and for each minimal
    attack the smallest change found per row (``inf`` where none) and its seconds.
    """
    outcomes: dict[tuple[str, float], Outcome] = {}
    sizes: dict[str, tuple[np.ndarray, float]] = {}
    unbounded = None
    if len(codes) == 0:
        return outcomes, unbounded, sizes
    tasks = [(a, e) for a in ensemble for e in ([None] if a.minimal else grid)]
    if big is not None:
        probe = next((a for a in ensemble if not a.minimal), ensemble[0])
        tasks.append((probe if probe.minimal else probe.replace(eps=big), "unbounded"))
    clean = Inputs(X).array
    for (attack, e), child in zip(_shown(tasks, quiet), rng.spawn(len(tasks)), strict=True):
        started = time.perf_counter()
        if e == "unbounded":
            unbounded, _ = _attack(attack, model, X, y, codes, child, big)
        elif attack.minimal:
            done, adv = _attack(attack, model, X, y, codes, child, np.inf)
            found = np.where(done.fooled, perturbation_norm(adv, clean, norm=norm), np.inf)
            sizes[attack.name] = (found, done.seconds)
            for value in grid:
                hit = found <= value * (1 + 1e-9)
                outcomes[(attack.name, value)] = Outcome(
                    attack.name, attack.slug, attack.white_box, value, hit,
                    np.where(hit, done.confidence, np.nan), done.seconds)
        else:
            if hasattr(attack, "fit") and not hasattr(attack, "surrogate_"):
                attack.fit(model, X, seed=child)  # one surrogate for every budget
            outcomes[(attack.name, e)], _ = _attack(attack.replace(eps=e), model, X, y, codes,
                                                    child, e)
        key = f"{attack.name}_s"
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - started
    return outcomes, unbounded, sizes


def _shown(tasks: list[tuple[Attack, Any]], quiet: bool) -> Iterator[tuple[Attack, Any]]:
    """``tasks`` in order, with a progress bar per attack: its name and budgets done."""
    for (attack, sanity), group in itertools.groupby(
            tasks, key=lambda task: (task[0], task[1] == "unbounded")):
        runs = list(group)
        label = f"{attack.name} (sanity: whole range)" if sanity else attack.name
        yield from progress(runs, total=len(runs), description=label, quiet=quiet)


def _rows(X: Any, keep: np.ndarray) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[keep].reset_index(drop=True)
    return np.asarray(X)[keep]


def _unbounded_eps(norm: str, span: float, size: int) -> float:
    """A budget that reaches every point of the valid range."""
    return {"linf": span, "l2": span * np.sqrt(size), "l1": span * size, "l0": float(size)}[norm]


def _attack(attack: Attack, model: Model, X: Any, y: np.ndarray, codes: np.ndarray,
            seed: np.random.Generator, eps: float) -> tuple[Outcome, np.ndarray]:
    """Run one attack: what it fooled, how confidently, and the adversarial values."""
    t = time.perf_counter()
    X_adv = attack.apply(model, X, y, seed=seed)
    seconds = time.perf_counter() - t
    proba = model.predict_proba(X_adv)
    hit = proba.argmax(axis=1) != codes
    adv = Inputs(X_adv).array
    details = {}
    surrogate = getattr(attack, "surrogate_", None)
    if surrogate is not None:
        tricked = surrogate.predict_proba(adv).argmax(axis=1) != codes
        details = {"surrogate_success_rate": float(tricked.mean()),
                   "transfer_rate": float((hit & tricked).sum() / max(int(tricked.sum()), 1)),
                   "surrogate_fidelity": attack.fidelity_}
    return Outcome(attack.name, attack.slug, attack.white_box, eps, hit,
                   np.where(hit, proba.max(axis=1), np.nan), seconds, details), adv


def _proportion(name: str, metric: str, k: int, n: int, level: float, **fields: Any) -> Finding:
    """A share ``k / n`` with its exact Clopper-Pearson interval."""
    return Finding(name=name, metric=metric, value=k / n if n else float("nan"),
                   ci=clopper_pearson(k, n, level), ci_level=level, drill=DRILL, **fields)


def _attack_findings(o: Outcome, n: int, n_ok: int, level: float, unit: str) -> list[Finding]:
    """Robust accuracy and success rate of one attack at one budget."""
    fooled = int(o.fooled.sum())
    common = {"group": o.attack, "severity": o.eps, "unit": unit}
    details = {"n": n, "clean_correct": n_ok, "fooled": fooled, "seconds": round(o.seconds, 4),
               "adversarial_confidence_median": _median(o.confidence), **o.details}
    return [
        _proportion(f"attack/{o.attack}/robust_accuracy@{o.eps:g}", "robust_accuracy",
                    n_ok - fooled, n, level, details=details,
                    message=f"{n_ok - fooled} of {n} points still correct under {o.attack} "
                            f"at eps={o.eps:g}.", **common),
        _proportion(f"attack/{o.attack}/attack_success_rate@{o.eps:g}", "attack_success_rate",
                    fooled, n_ok, level, details=details,
                    message=f"{fooled} of {n_ok} clean-correct points fooled.", **common),
    ]


def _ensemble_findings(runs: list[Outcome], eps: float, n: int, labels: np.ndarray,
                       correct: np.ndarray, level: float, unit: str) -> list[Finding]:
    """The worst case over attacks at one budget: overall, per class, and its confidence."""
    if not runs:
        return []
    hits = np.array([o.fooled for o in runs])
    any_hit = hits.any(axis=0)
    n_ok = hits.shape[1]
    fooled = int(any_hit.sum())
    only = {o.attack: int((o.fooled & (hits.sum(axis=0) == 1)).sum()) for o in runs}
    first = np.argmax(hits, axis=0)
    conf = np.array([o.confidence for o in runs])[first, np.arange(n_ok)]
    conf = np.where(any_hit, conf, np.nan)
    common = {"group": "ensemble", "severity": eps, "unit": unit}
    robust_rows = np.zeros(n, dtype=bool)
    robust_rows[np.flatnonzero(correct)[~any_hit]] = True
    per_class, class_findings = {}, []
    for label in np.unique(labels):
        rows = labels == label
        k, m = int(robust_rows[rows].sum()), int(rows.sum())
        per_class[str(label)] = {"n": m, "robust": k, "robust_accuracy": k / m}
        class_findings.append(_proportion(
            f"attack/ensemble/class_robust_accuracy@{eps:g}/{label}", "class_robust_accuracy",
            k, m, level, feature=f"class {label}",
            message=f"class {label}: {k} of {m} points robust at eps={eps:g}.", **common))
    details = {"attacks": [o.attack for o in runs], "found_only_by": only, "n": n,
               "clean_correct": n_ok, "fooled": fooled, "per_class": per_class}
    out = [
        _proportion(f"attack/ensemble/robust_accuracy@{eps:g}", "robust_accuracy",
                    n_ok - fooled, n, level, details=details,
                    message=f"{n_ok - fooled} of {n} points robust to every attack at "
                            f"eps={eps:g}.", **common),
        _proportion(f"attack/ensemble/attack_success_rate@{eps:g}", "attack_success_rate",
                    fooled, n_ok, level, details=details,
                    message=f"{fooled} of {n_ok} clean-correct points fooled by at least one "
                            "attack.", **common),
    ]
    if fooled:
        values = conf[any_hit]
        out.append(Finding(
            name=f"attack/ensemble/adversarial_confidence@{eps:g}",
            metric="adversarial_confidence", value=float(np.median(values)),
            ci=median_interval(values, level), ci_level=level, drill=DRILL,
            details={"fooled": fooled, "quantiles": _quantiles(values)},
            message=f"median top probability of the {fooled} fooling predictions: the model "
                    f"is this sure of its wrong answers.{_no_interval(fooled, level)}",
            **common))
    return out + class_findings


def _min_perturbation(name: str, sizes: np.ndarray, seconds: float, level: float,
                      unit: str) -> Finding:
    """The distribution of the smallest change found per clean-correct point."""
    found = np.isfinite(sizes)
    return Finding(
        name=f"attack/{name}/min_perturbation", metric="min_perturbation",
        value=float(np.median(sizes)) if len(sizes) else float("nan"),
        ci=median_interval(sizes, level), ci_level=level, drill=DRILL,
        group=name, unit=unit,
        details={"n": len(sizes), "found": int(found.sum()), "quantiles": _quantiles(sizes),
                 "mean_of_found": float(sizes[found].mean()) if found.any() else None,
                 "seconds": round(seconds, 4)},
        message=f"median smallest {unit} change that fools the model over "
                f"{len(sizes)} clean-correct points ({int((~found).sum())} not fooled at "
                f"any size: inf).{_no_interval(len(sizes), level)}")


def _no_interval(n: int, level: float) -> str:
    """What to say when a median has too few values for an interval at ``level``."""
    need = median_interval_min_rows(level)
    if n == 0 or n >= need:
        return ""
    return (f" No {level:.0%} interval: a median needs at least {need} values for one (the "
            f"range of {n} covers it with probability {median_coverage(n, 1):.0%}).")


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else None


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": float(np.quantile(values, q / 100)) for q in (10, 25, 50, 75, 90)}


def _describe_bounds(bounds: Any) -> Any:
    if bounds is None:
        return None
    low, high = bounds
    if np.ndim(low) == 0 and np.ndim(high) == 0:
        return [float(low), float(high)]
    return "per-feature"
