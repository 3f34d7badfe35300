"""``attacks.run``: the evasion drill: worst-case accuracy against budget, with exact intervals."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shakeout._validation import (Seed, as_generator, check_choice, check_grid, check_number,
                                  check_open_interval, check_positive_int)
from shakeout.attacks._base import Attack, check_params, drill_attack
from shakeout.attacks._inputs import Inputs
from shakeout.attacks.ensemble import default_attacks, default_eps
from shakeout.attacks.findings import (DRILL, attack_findings, clean_accuracy,
                                       ensemble_findings, min_perturbation)
from shakeout.attacks.sanity import Outcome, sanity_findings
from shakeout.attacks.threat import NORMS, Constraints, Domain, perturbation_norm
from shakeout.campaign import Campaign, Unit, grid as unit_grid
from shakeout.data.validate import check_features
from shakeout.errors import ShakeoutWarning, ValidationError
from shakeout.fingerprint import fingerprint
from shakeout.models import Model, wrap
from shakeout.report.result import Manifest, Result

SANITY = "unbounded"  # the budget of the sanity unit: the whole valid range


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

    findings = [clean_accuracy(n_ok, n, level)]
    big = _unbounded_eps(norm, span, domain.size)
    done = _campaign(ensemble, grid, big if sanity else None, model, X_c, y_c, codes_c, norm,
                     rng, quiet, timings)
    for name, (found, seconds) in done.sizes.items():
        findings.append(min_perturbation(name, found, seconds, level, unit))
    for o in done.outcomes.values():
        findings += attack_findings(o, n, n_ok, level, unit)
    for e in grid:
        runs = [done.outcomes[(a.name, e)] for a in ensemble if (a.name, e) in done.outcomes]
        findings += ensemble_findings(runs, e, n, labels, correct, level, unit)
    if sanity:
        checks = sanity_findings(done.outcomes, grid, done.unbounded, tolerance=tolerance,
                                 level=level)
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


@dataclass
class _Found:
    """What the campaign found: outcomes by ``(attack, eps)``, the sanity unit's outcome, and
    for each minimal attack the smallest change found per row (``inf`` where none) and its
    seconds."""

    outcomes: dict[tuple[str, float], Outcome] = field(default_factory=dict)
    unbounded: Outcome | None = None
    sizes: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)


def _campaign(ensemble: list[Attack], grid: Sequence[float], big: float | None, model: Model,
              X: Any, y: np.ndarray, codes: np.ndarray, norm: str, rng: np.random.Generator,
              quiet: bool, timings: dict[str, float]) -> _Found:
    """Every attack at every budget on the clean-correct rows ``X`` (minimal attacks once),
    and with ``big`` one budgeted attack at that unbounded budget for the sanity check: one
    unit each, unit ``i`` drawing from child ``i`` of ``rng``; seconds per attack go to
    ``timings``."""
    found = _Found()
    if len(codes) == 0:
        return found
    units = unit_grid(ensemble, budgets=lambda a: [None] if a.minimal else grid)
    if big is not None:
        probe = next((a for a in ensemble if not a.minimal), ensemble[0])
        units.append(Unit(probe if probe.minimal else probe.replace(eps=big), SANITY,
                          index=len(units)))
    clean = Inputs(X).array

    def work(unit: Unit, child: np.random.Generator) -> None:
        attack, e = unit.variant, unit.budget
        if e == SANITY:
            found.unbounded, _ = _attack(attack, model, X, y, codes, child, big)
        elif attack.minimal:
            done, adv = _attack(attack, model, X, y, codes, child, np.inf)
            sizes = np.where(done.fooled, perturbation_norm(adv, clean, norm=norm), np.inf)
            found.sizes[attack.name] = (sizes, done.seconds)
            for value in grid:
                hit = sizes <= value * (1 + 1e-9)
                found.outcomes[(attack.name, value)] = Outcome(
                    attack.name, attack.slug, attack.white_box, value, hit,
                    np.where(hit, done.confidence, np.nan), done.seconds)
        else:
            if hasattr(attack, "fit") and not hasattr(attack, "surrogate_"):
                attack.fit(model, X, seed=child)  # one surrogate for every budget
            found.outcomes[(attack.name, e)], _ = _attack(attack.replace(eps=e), model, X, y,
                                                          codes, child, e)

    campaign = Campaign(units, seed=rng, label=_label, quiet=quiet)
    for label, seconds in campaign.timings(campaign.run(work)).items():
        timings[f"{label}_s"] = seconds
    return found


def _label(unit: Unit) -> str:
    """A unit's progress bar and timing: its attack, and the sanity unit apart."""
    if unit.budget == SANITY:
        return f"{unit.variant.name} (sanity: whole range)"
    return unit.variant.name


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


def _describe_bounds(bounds: Any) -> Any:
    if bounds is None:
        return None
    low, high = bounds
    if np.ndim(low) == 0 and np.ndim(high) == 0:
        return [float(low), float(high)]
    return "per-feature"
