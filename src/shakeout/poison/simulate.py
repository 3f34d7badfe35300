"""``poison.run``: what a poisoning budget costs a model, measured by training on poisoned data.

For each attack and each poisoning rate the training set is poisoned, the user's training
function is trained on it, and the model is judged on clean test rows: clean accuracy, the
attack success rate of a backdoor on triggered test inputs, accuracy per slice of the test
rows, and the drop in accuracy from the model trained on the unpoisoned data, paired on the
same test rows. The units (attack x rate x trial) run on the shared campaign runner, each
with its own random stream.

Examples
--------
>>> import numpy as np
>>> from sklearn.datasets import load_breast_cancer
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> X, y = load_breast_cancer(return_X_y=True)
>>> fit = lambda X, y: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
>>> result = run(fit, X[::2], y[::2], X[1::2], y[1::2], rates=(0, 0.3), seed=0)
>>> [(f.severity, round(f.value, 3)) for f in result.select(metric="clean_accuracy")]
[(0.0, 0.954), (0.3, 0.849), (None, 0.849)]
>>> drop = result.select(metric="accuracy_drop")[0]
>>> round(drop.value, 3), drop.p_value < 0.05, drop.effect
(0.106, True, 'large')
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shakeout._validation import Seed, check_grid, check_open_interval, check_positive_int
from shakeout.campaign import Campaign, Unit, grid
from shakeout.errors import ValidationError, first_line
from shakeout.fingerprint import fingerprint
from shakeout.poison.attacks import Attack, make
from shakeout.report.findings import finding_name, proportion
from shakeout.report.result import Finding, Manifest, Result

DRILL = "poison"
UNIT = "poisoning rate (share of training rows)"
HEADLINE = ("clean_accuracy", "attack_success_rate", "certified_share")
"""Metrics repeated without a severity, at the largest rate, for the report's headline."""
EFFECT_THRESHOLDS = (0.01, 0.03, 0.10)
"""Accuracy drops below which an effect is negligible, small, medium (0.01 = one point)."""


@dataclass(frozen=True)
class _Outcome:
    """One trained model judged on the test rows: which rows it got right, and per backdoor
    whether each triggered test row of another class went to the target."""

    correct: np.ndarray
    hits: Mapping[str, np.ndarray] = field(default_factory=dict)
    poisoned_rows: int = 0
    description: str = ""
    certificate: tuple[np.ndarray, dict] | None = None
    """A bagged model's certified poisoning radius per test row (-1: abstain) and its
    settings (``n``, ``k``, ``models``, ``alpha``); None for any other model."""


def run(train: Callable[[Any, np.ndarray], Any], X: Any, y: Any, X_test: Any, y_test: Any, *,
        attacks: Sequence[str | Attack] | Mapping[str, Attack] = ("label_flip",),
        rates: Sequence[float] = (0, 0.01, 0.03, 0.1),
        slices: Mapping[str, Any] | None = None, trials: int = 1, level: float = 0.95,
        alpha: float = 0.001, seed: Seed = 0, quiet: bool = True,
        data_name: str = "data") -> Result:
    """Train on clean and poisoned data and measure what the poison did.

    Findings, all with ``drill="poison"``, ``group`` the attack's name and ``severity`` the
    poisoning rate (the share of training rows changed or added):

    - ``clean_accuracy``: accuracy on the clean test rows, with its exact Clopper-Pearson
      interval at ``level``;
    - ``attack_success_rate`` (backdoors): the share of triggered test inputs whose true
      label is not the target that the model classifies as the target, exact interval; at
      rate 0 the unpoisoned model's rate, the floor the others are read against (status
      ``fail`` where the interval lies wholly above the floor's);
    - ``accuracy_drop`` (rates above 0): the unpoisoned model's accuracy minus the
      poisoned model's, on the same test rows: Newcombe's (1998) paired interval (method
      10, Wilson score intervals) and the exact McNemar p-value, with an effect label
      (status ``warn`` where significant at ``1 - level``);
    - ``slice_accuracy`` (``feature`` the slice): accuracy per slice of the test rows,
      exact interval; region attacks add the slice ``region`` (the test rows they aim at).

    When the training function returns a bagged ensemble
    (:func:`shakeout.poison.robust.bagging`), its certified poisoning radius (Jia, Cao &
    Gong 2021, Theorem 1) per test row, with vote bounds simultaneous at ``1 - alpha``:

    - ``certified_radius``: the median radius over the test rows (-1 where the ensemble
      abstains), with its distribution-free interval; ``details`` the quartiles, ``n``,
      ``k`` and ``alpha``;
    - ``certified_share``: the share of test rows whose prediction is certified at the
      number of rows this rate poisoned (radius at least that many): predictions the poison
      provably did not change, whatever rows it touched, with probability ``1 - alpha``;
    - ``certified_accuracy``: the share of test rows both right and certified so.

    With ``trials`` above 1 every finding is per trial (its name holds ``trialN``): each
    trial draws other poisoned rows and trains again. ``clean_accuracy`` and
    ``attack_success_rate`` are repeated without a severity at the largest rate
    (``details["rate"]``): the report's headline.

    Parameters
    ----------
    train : callable
        ``train(X, y)`` returns a fitted model: a scikit-learn style ``clone(est).fit``, a
        function returning a torch module, or the
        :class:`~shakeout.models.training.Training` of :func:`shakeout.models.training.train`.
        Whatever :func:`shakeout.wrap` takes.
    X, y : training rows (array, images or DataFrame) and labels
    X_test, y_test : clean test rows and labels
    attacks : sequence of names or attacks, or a mapping name -> attack
        Names of :data:`shakeout.poison.attacks.CATALOG` with their defaults, or built
        attacks (:class:`~shakeout.poison.attacks.LabelFlip`, ...).
    rates : sequence of float, default=(0, 0.01, 0.03, 0.1)
        Poisoning rates, increasing, in [0, 1); 0 reports the unpoisoned model.
    slices : mapping name -> boolean mask over the test rows, optional
        Slices for ``slice_accuracy`` (default: one per class of ``y_test``, ``y=<label>``).
    trials : int, default=1
    level : float, default=0.95
        Level of every interval.
    alpha : float, default=0.001
        A bagged ensemble's certificate fails with probability at most ``alpha`` per test
        row (Jia et al.'s default).
    seed : int, Generator or None
        Which rows each attack poisons (the training function owns its own randomness).
    quiet : bool, default=True
        Hide the progress bars.
    data_name : str
        The training data's name in the report.
    """
    started = time.perf_counter()
    if not callable(train):
        raise ValidationError(f"poison.run: train must be a function train(X, y) that returns "
                              f"a fitted model, got {type(train).__name__}.")
    grid_rates = check_grid("poison.run", "rates", rates, low=0.0)
    if grid_rates[-1] >= 1:
        raise ValidationError(f"poison.run: rates are shares of the training rows, each below 1, "
                              f"got {list(grid_rates)}; pass e.g. 0,0.01,0.03,0.1.")
    check_positive_int("poison.run", "trials", trials)
    check_open_interval("poison.run", "level", level, 0, 1)
    check_open_interval("poison.run", "alpha", alpha, 0, 1)
    y, y_test = _labels(y, X, "y"), _labels(y_test, X_test, "y_test")
    named = _attacks(attacks)
    cuts = _slices(slices, y_test, named, X_test)
    positive = [r for r in grid_rates if r > 0]
    units = grid([None, *named], budgets=lambda a: [0.0] if a is None else positive,
                 trials=trials)
    work = _Work(train, X, y, X_test, y_test, named, alpha)
    campaign = Campaign(units, seed=seed, quiet=quiet,
                        label=lambda u: f"poison ({u.variant or 'clean'})")
    done = campaign.run(work)
    clean = {d.unit.trial: d.value for d in done if d.unit.variant is None}
    found: list[Finding] = []
    for d in done:
        for name in ([d.unit.variant] if d.unit.variant else named if 0.0 in grid_rates else []):
            found += _findings(name, named[name], d.unit, d.value, clean[d.unit.trial],
                               cuts[name], level, trials)
    found += _headline(found)
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=_name(train),
        data=data_name, data_fingerprint=fingerprint(_plain(X)), n_rows=len(y),
        timings={"total_s": time.perf_counter() - started, **{
            f"{k}_s": v for k, v in campaign.timings(done).items()}},
        parameters={"drill": DRILL, "attacks": {k: a.name for k, a in named.items()},
                    "rates": list(grid_rates), "trials": trials, "level": level, "alpha": alpha,
                    "test_rows": len(y_test), "slices": sorted(cuts[next(iter(named))])})
    return Result(title=f"Poisoning {_name(train)} ({data_name})", findings=tuple(found),
                  manifest=manifest)


def _labels(y: Any, X: Any, name: str) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(X):
        raise ValidationError(f"poison.run: {name} must be one label per row ({len(X)}), got "
                              f"shape {labels.shape}.")
    return labels


def _attacks(attacks: Any) -> dict[str, Attack]:
    """Name -> attack; a name used twice gets a number (``label_flip_2``)."""
    if isinstance(attacks, (str, Attack)):
        attacks = [attacks]
    pairs = list(attacks.items()) if isinstance(attacks, Mapping) else [
        (a if isinstance(a, str) else a.name, a) for a in attacks]
    if not pairs:
        raise ValidationError("poison.run: attacks is empty; name at least one, e.g. "
                              "attacks=['label_flip'].")
    out: dict[str, Attack] = {}
    for name, a in pairs:
        attack = make(a) if isinstance(a, str) else a
        if not isinstance(attack, Attack):
            raise ValidationError(f"poison.run: an attack is a name or a poisoning attack "
                                  f"(LabelFlip, PatchBackdoor, ...), got {type(a).__name__}.")
        key, i = name, 1
        while key in out:
            i += 1
            key = f"{name}_{i}"
        out[key] = attack
    return out


def _slices(slices: Mapping[str, Any] | None, y_test: np.ndarray, named: dict[str, Attack],
            X_test: Any) -> dict[str, dict[str, np.ndarray]]:
    """Per attack: slice name -> boolean mask over the test rows."""
    if slices is None:
        common = {f"y={c}": y_test == c for c in np.unique(y_test)}
    else:
        common = {}
        for name, mask in slices.items():
            m = np.asarray(mask)
            if m.dtype != bool or m.shape != y_test.shape:
                raise ValidationError(
                    f"poison.run: slice {name!r} must be a boolean mask over the {len(y_test)} "
                    f"test rows, got dtype {m.dtype} and shape {m.shape}.")
            common[str(name)] = m
    out = {}
    for name, attack in named.items():
        region = attack.where(X_test)
        out[name] = common if region is None else {**common, "region": region}
    return out


def fitted(obj: Any) -> Any:
    """The wrapped model a training function returned (a Training is its module)."""
    from shakeout.models import wrap

    training = sys.modules.get("shakeout.models.training")
    if training is not None and isinstance(obj, training.Training):
        return wrap(obj.module, classes=obj.classes)
    return wrap(obj)


class _Work:
    """One unit: poison (or not), train, judge on the test rows."""

    def __init__(self, train: Callable, X: Any, y: np.ndarray, X_test: Any, y_test: np.ndarray,
                 named: dict[str, Attack], alpha: float):
        self.train, self.X, self.y, self.X_test, self.y_test = train, X, y, X_test, y_test
        self.named, self.alpha = named, alpha

    def __call__(self, unit: Unit, rng: np.random.Generator) -> _Outcome:
        if unit.variant is None:
            model = self._trained(self.X, self.y, "the unpoisoned data")
            hits = {}
            for name, attack in self.named.items():
                p = attack.apply(self.X, self.y, 0.0, seed=rng)
                if p.trigger is not None:
                    hits[name] = self._hits(model, p.trigger, p.target)
            return _Outcome(self._correct(model), hits, certificate=self._certificate(model))
        p = self.named[unit.variant].apply(self.X, self.y, unit.budget, seed=rng)
        model = self._trained(p.X, p.y, f"data poisoned by {unit.variant} at {unit.budget:g}")
        hits = {} if p.trigger is None else {unit.variant: self._hits(model, p.trigger,
                                                                      p.target)}
        return _Outcome(self._correct(model), hits, int(p.mask.sum()), p.description,
                        self._certificate(model))

    def _certificate(self, model: Any) -> tuple[np.ndarray, dict] | None:
        """A bagged ensemble's certified radius per test row and its settings; None for any
        other model."""
        robust = sys.modules.get("shakeout.poison.robust")
        if robust is None or not isinstance(model, robust.BaggedModel):
            return None
        radii = model.certify(self.X_test, alpha=self.alpha)[1]
        return radii, {"n": model.n, "k": model.k, "models": len(model.models),
                       "alpha": self.alpha}

    def _trained(self, X: Any, y: np.ndarray, what: str) -> Any:
        try:
            model = self.train(X, y)
        except ValidationError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's training function failed: say where
            raise ValidationError(
                f"poison.run: the training function {_name(self.train)} failed on {what} with "
                f"{first_line(exc)}; run it on that data in Python to see the traceback.") from None
        return fitted(model)

    def _correct(self, model: Any) -> np.ndarray:
        return np.asarray(model.predict(self.X_test)) == self.y_test

    def _hits(self, model: Any, trigger: Callable, target: Any) -> np.ndarray:
        """Whether each triggered test row whose label is not the target went to it."""
        rows = np.flatnonzero(self.y_test != target)
        if not len(rows):
            return np.zeros(0, dtype=bool)
        X = self.X_test.iloc[rows] if isinstance(self.X_test, pd.DataFrame) else \
            np.asarray(self.X_test)[rows]
        return np.asarray(model.predict(trigger(X))) == target


def _findings(name: str, attack: Attack, unit: Unit, out: _Outcome, clean: _Outcome,
              cuts: dict[str, np.ndarray], level: float, trials: int) -> list[Finding]:
    """Every finding of one attack at one rate and trial."""
    rate = float(unit.budget)
    trial = f"trial{unit.trial}" if trials > 1 else None
    common = {"drill": DRILL, "group": name, "severity": rate, "unit": UNIT}
    details = {"trial": unit.trial, "poisoned_rows": out.poisoned_rows,
               "attack": attack.name, "description": out.description}
    n, k = len(out.correct), int(out.correct.sum())
    found = [proportion(finding_name(DRILL, name, trial, "clean_accuracy", at=rate),
                        "clean_accuracy", k, n, level, **common,
                        details={**details, "correct": k, "rows": n},
                        message=f"{k:,} of {n:,} clean test rows right after training on data "
                                f"with {out.poisoned_rows:,} poisoned rows.")]
    if name in out.hits:
        found.append(_success(name, trial, out.hits[name], clean.hits.get(name), level,
                              common, details))
    if rate > 0:
        found.append(_drop(name, trial, clean.correct, out.correct, level, common, details))
    if out.certificate is not None:
        found += _certified(name, trial, out, level, common, details)
    for cut, mask in cuts.items():
        right = int(out.correct[mask].sum())
        found.append(proportion(
            finding_name(DRILL, name, trial, "slice_accuracy", cut, at=rate), "slice_accuracy",
            right, int(mask.sum()), level, feature=cut, **common,
            details={**details, "correct": right, "rows": int(mask.sum())}))
    return found


def _headline(found: list[Finding]) -> list[Finding]:
    """Per attack and trial, clean accuracy and attack success at the largest rate, without
    a severity: the figures the report's headline shows."""
    last: dict[tuple, Finding] = {}
    for f in found:
        if f.metric in HEADLINE and f.feature is None:
            key = (f.group, f.details["trial"], f.metric)
            if key not in last or f.severity > last[key].severity:
                last[key] = f
    return [replace(f, name=f.name.rpartition("@")[0], severity=None, unit=None,
                    details={**f.details, "rate": f.severity},
                    message=f"at the largest poisoning rate, {f.severity:g}: {f.message}")
            for f in last.values()]


def _success(name: str, trial: str | None, hits: np.ndarray, floor: np.ndarray | None,
             level: float, common: dict, details: dict) -> Finding:
    """The attack success rate; ``fail`` where its interval lies above the clean model's."""
    from shakeout.stats import clopper_pearson

    k, n = int(hits.sum()), len(hits)
    f = proportion(finding_name(DRILL, name, trial, "attack_success_rate", at=common["severity"]),
                   "attack_success_rate", k, n, level, **common,
                   details={**details, "hits": k, "rows": n},
                   message=f"{k:,} of {n:,} triggered test inputs of other classes classified "
                           "as the target.")
    if floor is None or common["severity"] == 0:
        return f
    base = clopper_pearson(int(floor.sum()), len(floor), level)
    planted = f.ci[0] > base[1]
    return replace(f, status="fail" if planted else "pass",
                   details={**f.details, "clean_model_rate": float(floor.mean())})


def _certified(name: str, trial: str | None, out: _Outcome, level: float, common: dict,
               details: dict) -> list[Finding]:
    """A bagged ensemble's certified poisoning radius on the test rows (Jia et al. 2021):
    the median, and the shares certified (and right) at the number of rows poisoned."""
    from shakeout.report.findings import median_finding

    (radii, settings), r = out.certificate, out.poisoned_rows
    n = len(radii)
    quartiles = [float(q) for q in np.percentile(radii, [25, 50, 75])]
    certified = radii >= r
    right = int((certified & out.correct).sum())
    at = common["severity"]
    extra = {**details, **settings, "quartiles": quartiles,
             "abstained": int((radii < 0).sum())}
    return [
        median_finding(finding_name(DRILL, name, trial, "certified_radius", at=at),
                       "certified_radius", radii.astype(float), level, **common,
                       details=extra,
                       message=f"median certified poisoning radius {quartiles[1]:g} rows "
                               f"(quartiles {quartiles[0]:g}, {quartiles[2]:g}) over {n:,} test "
                               "rows; -1 where the ensemble abstains."),
        proportion(finding_name(DRILL, name, trial, "certified_share", at=at),
                   "certified_share", int(certified.sum()), n, level, **common,
                   details={**extra, "certified": int(certified.sum()), "rows": n},
                   message=f"{int(certified.sum()):,} of {n:,} test predictions certified "
                           f"against {r:,} poisoned rows: the poison provably did not change "
                           "them."),
        proportion(finding_name(DRILL, name, trial, "certified_accuracy", at=at),
                   "certified_accuracy", right, n, level, **common,
                   details={**extra, "correct": right, "rows": n},
                   message=f"{right:,} of {n:,} test rows right and certified against {r:,} "
                           "poisoned rows.")]


def _drop(name: str, trial: str | None, before: np.ndarray, after: np.ndarray, level: float,
          common: dict, details: dict) -> Finding:
    """Clean accuracy of the unpoisoned model minus the poisoned one's, on the same rows:
    Newcombe's paired interval (method 10) and the exact McNemar test."""
    from shakeout.stats import effect_label, mcnemar_exact, paired_proportion_difference

    n = len(before)
    ci = paired_proportion_difference(before, after, level)
    lost, gained = int((before & ~after).sum()), int((~before & after).sum())
    p = mcnemar_exact(lost, gained)
    drop = float(before.mean()) - float(after.mean())
    return Finding(
        name=finding_name(DRILL, name, trial, "accuracy_drop", at=common["severity"]),
        metric="accuracy_drop", value=drop, ci=ci, ci_level=level, p_value=p,
        status="warn" if p < 1 - level and drop > 0 else "pass",
        effect=effect_label(drop, EFFECT_THRESHOLDS), **common,
        details={**details, "lost": lost, "gained": gained, "rows": n,
                 "test": "exact McNemar"},
        message=f"on the same {n:,} test rows the poisoned model got {lost:,} wrong that the "
                f"unpoisoned one got right, and {gained:,} the other way.")


def _name(fn: Any) -> str:
    module = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}:{qual}" if module and module != "__main__" else qual


def _plain(X: Any) -> Any:
    return X if isinstance(X, pd.DataFrame) else np.asarray(X)


__all__ = ["run"]
