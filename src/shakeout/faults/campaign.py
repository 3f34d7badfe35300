"""``faults.run``: a statistical fault-injection campaign on a classifier.

The population of single faults (sites x elements x bits x kinds, x inputs for transient
faults) is run whole when it is small, else sampled without replacement in the number of
injections Leveugle et al. (2009) give for the stated margin and confidence. Each injection is
one fault, injected, one batched forward pass over the evaluation inputs, and restored; its
outcome is masked, SDC, critical SDC or DUE (:mod:`shakeout.faults.outcomes`). Rates come with
exact hypergeometric intervals (a sample from a finite population), or exact values for an
exhaustive run; per layer and per bit position likewise. Mitigations run on the same faults,
paired.

Examples
--------
>>> round(fleet_failure(1e-6, 1_000_000), 6)  # 1 - 1/e
0.632121
>>> [round(v, 4) for v in fleet_failure((1e-7, 2e-6), 1_000_000)]
[0.0952, 0.8647]
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from shakeout._validation import (Seed, as_generator, check_choice, check_number,
                                  check_open_interval, check_positive_int)
from shakeout.campaign import Campaign, grid
from shakeout.errors import ValidationError
from shakeout.faults.mitigations import Mitigation, resolve, sdc_removed
from shakeout.faults.outcomes import OUTCOMES, counts, is_sdc, judge
from shakeout.faults.population import (Population, hypergeometric_interval,
                                        leveugle_sample_size, sample)
from shakeout.fingerprint import fingerprint
from shakeout.models import wrap
from shakeout.report.findings import finding_name
from shakeout.report.result import Finding, Manifest, Result

DRILL = "faults"
RATES = ("sdc", "critical_sdc", "due", "masked")
SHARD = 256
"""Injections per unit of the campaign (one progress step each)."""


def fleet_failure(p: float | Sequence[float], n: int) -> Any:
    """The probability of at least one failure in ``n`` independent trials (devices,
    inferences) each failing with probability ``p``: ``1 - (1 - p)^n``, computed as
    ``-expm1(n log1p(-p))`` so tiny ``p`` keeps its digits. It grows with ``p``, so an
    interval ``(lo, hi)`` for ``p`` maps to ``(f(lo), f(hi))``.

    >>> fleet_failure(0.5, 2), fleet_failure(0.0, 10**9), fleet_failure(1.0, 3)
    (0.75, 0.0, 1.0)
    """
    check_positive_int("fleet_failure", "n", n)
    if isinstance(p, (tuple, list)):
        return [fleet_failure(v, n) for v in p]
    check_number("fleet_failure", "p", p, 0, 1)
    return 1.0 if p == 1 else float(-math.expm1(n * math.log1p(-p)))


def run(model: Any, X: Any, y: Any, *, where: str = "weight",
        kinds: Sequence[str] = ("flip",), bits: Sequence[int] | None = None,
        layers: Sequence[str] | None = None, layer_types: Sequence[str] | None = None,
        margin: float = 0.01, confidence: float = 0.99, exhaustive_max: int = 20_000,
        transient: bool = False, mitigations: Sequence[str | Mitigation] = (),
        n_critical: int = 20, fault_probability: float | None = None, fleet: int = 1_000_000,
        seed: Seed = 0, quiet: bool = True, data_name: str = "data") -> Result:
    """Inject single faults into a classifier and measure what they do.

    Findings, all with ``drill="faults"``:

    - group ``campaign``: ``sdc_rate`` (the top-1 class changed on some input, silently),
      ``critical_sdc_rate`` (an input went from right to wrong), ``due_rate`` (NaN/inf or an
      exception: the error shows) and ``masked_rate``, each the share of injections, with
      its exact hypergeometric interval at ``confidence``; an exhaustive run's rates are
      exact and carry no interval (a gate then judges the value itself);
    - group ``layer`` (one per site, ``feature`` its name) and group ``bit`` (one per bit
      position, ``severity`` the position): ``sdc_rate`` over that part of the population;
    - group ``critical``: the ``n_critical`` most damaging faults (``inputs_changed``: the
      share of inputs whose top-1 class changed);
    - per mitigation (group its name): the rates with it on, over the same faults, and
      ``sdc_rate_change`` (after minus before) with Newcombe's paired interval and the exact
      McNemar p-value, and its overhead in time;
    - with ``fault_probability``: ``fleet_failure``, the probability of at least one SDC in
      ``fleet`` inferences, ``1 - (1 - fault_probability x sdc_rate)^fleet``, its interval
      carried through from the SDC rate's.

    Parameters
    ----------
    model : a classifier :func:`shakeout.wrap` takes (torch, scikit-learn, ONNX)
    X, y : evaluation inputs and labels (a few hundred rows: every injection runs them all)
    where : {"weight", "activation"}
        Fault sites: parameters, or layer outputs (torch only, through forward hooks).
    kinds : sequence of {"flip", "stuck_at_0", "stuck_at_1", "random_value"}
    bits : sequence of int, optional
        Bit positions (0 the least significant); default every bit of each dtype.
    layers, layer_types : sequence of str, optional
        Sites by name or by layer class (:func:`shakeout.faults.find_sites`).
    margin, confidence : float
        The half-width and level Leveugle's sample size is computed for; ``confidence`` is
        also every interval's level.
    exhaustive_max : int, default=20,000
        Run every fault when the population is at most this large.
    transient : bool, default=False
        Each fault strikes one inference (one input) instead of all of them.
    mitigations : sequence of names or :class:`~shakeout.faults.mitigations.Mitigation`
        ``range_restriction``, ``redundant_execution``, ``protection``.
    n_critical : int, default=20
    fault_probability : float, optional
        The probability that one inference suffers a fault of this population (from the
        hardware's fault rate); enables the fleet finding.
    fleet : int, default=1,000,000
        Inferences (or devices) of the fleet finding.
    seed : int, Generator or None
    quiet : bool
        Hide the progress bar.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.faults import run
    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]])); _ = net.bias.zero_()
    >>> X = np.array([[1.0, 0.5], [0.2, 1.0], [0.9, 0.1]], dtype=np.float32)
    >>> result = run(net, X, X.argmax(1), bits=[30, 0])
    >>> f = result.select(metric="sdc_rate", group="campaign")[0]
    >>> f.details["count"], f.details["injections"], f.ci, f.details["sampling"]
    (4, 12, None, 'exhaustive: exact')
    >>> [(g.severity, g.details["count"]) for g in result.select(metric="sdc_rate", group="bit")]
    [(0.0, 0), (30.0, 4)]
    """
    from shakeout.faults.inject import Injector
    from shakeout.faults.sites import find_sites

    started = time.perf_counter()
    check_choice("faults.run", "where", where, ("weight", "activation"))
    check_open_interval("faults.run", "margin", margin, 0, 1)
    check_open_interval("faults.run", "confidence", confidence, 0, 1)
    check_positive_int("faults.run", "exhaustive_max", exhaustive_max)
    check_choice("faults.run", "transient", transient, (True, False))
    check_positive_int("faults.run", "n_critical", n_critical)
    check_positive_int("faults.run", "fleet", fleet)
    if fault_probability is not None:
        check_number("faults.run", "fault_probability", fault_probability, 0, 1)
    model = wrap(model)
    if model.task != "classification":
        raise ValidationError(f"faults.run: {model.name} is a regressor; fault campaigns judge "
                              "top-1 classes, so they need a classifier.")
    labels = model.encode_labels(np.asarray(y))
    if labels.ndim != 1 or len(labels) != len(X):
        raise ValidationError(f"faults.run: y must be one label per row of X ({len(X)}), got "
                              f"shape {labels.shape}.")
    arms = resolve(mitigations)
    rng_sample, rng_values = as_generator(seed, owner="faults.run").spawn(2)
    sites = tuple(find_sites(model, where=where, layers=layers, layer_types=layer_types,
                             X=X[:2] if where == "activation" else None))
    pop = Population(sites, None if bits is None else tuple(bits), tuple(kinds),
                     rows=len(X) if transient else None)
    N = pop.size
    n = leveugle_sample_size(N, margin, confidence)
    exhaustive = N <= exhaustive_max or n >= N
    numbers = sample(N, N if exhaustive else n, rng_sample)
    faults = pop.faults(numbers, rng_values)
    forward = _forward(model, X)
    clean = forward(slice(None))
    clean_top = clean.argmax(axis=1)
    for arm in arms:
        arm.fit(model, X)
    with Injector(model, sites) as injector:
        base, seconds = _campaign(injector, forward, clean, clean_top, labels, faults, arms,
                                  seed, quiet)
    ctx = _Context(pop, numbers, exhaustive, confidence, N)
    found = _rates(ctx, base["none"][0], "campaign")
    found += _layer_table(ctx, base["none"][0])
    found += _bit_table(ctx, base["none"][0])
    found += _critical(faults, base["none"], n_critical)
    found += _mitigated(ctx, arms, base, faults, seconds, transient, sites, forward, len(X))
    if fault_probability is not None:
        found.append(_fleet(found[0], fault_probability, fleet))
    timings = {"total_s": time.perf_counter() - started,
               **{f"{k}_s": v for k, v in seconds.items()}}
    manifest = Manifest.collect(
        seed=seed if isinstance(seed, int) else None, model=model.name,
        model_fingerprint=model.fingerprint(), data=data_name,
        data_fingerprint=fingerprint(np.asarray(X)), n_rows=len(X), timings=timings,
        parameters={"drill": DRILL, "where": where, "kinds": list(pop.kinds),
                    "bits": None if bits is None else list(pop.bits),
                    "layers": None if layers is None else list(layers),
                    "layer_types": None if layer_types is None else list(layer_types),
                    "margin": margin, "confidence": confidence, "exhaustive_max": exhaustive_max,
                    "transient": transient, "mitigations": [m.name for m in arms],
                    "population": N, "injections": len(numbers), "exhaustive": exhaustive,
                    "fault_probability": fault_probability, "fleet": fleet})
    return Result(title=f"Fault injection on {model.name} ({data_name})", findings=tuple(found),
                  manifest=manifest)


def _forward(model: Any, X: Any) -> Any:
    """``forward(rows) -> outputs`` over the evaluation inputs: logits for a torch model (one
    batched pass, no graph), probabilities for any other; a one-column logit becomes
    ``[0, z]`` so that the top-1 class is the sigmoid's."""
    module = model.capabilities.module
    if module is None:
        data = np.asarray(X)
        return lambda rows: model.predict_proba(data[rows])
    import torch

    x = model.to_tensor(X)
    from shakeout.models.runtime import inference

    def forward(rows: Any) -> np.ndarray:
        part = x[rows]
        with inference(model, grad=False) as net:
            out = torch.cat([net(part[i:i + model.batch_size])
                             for i in range(0, len(part), model.batch_size)])
        out = out.reshape(len(part), -1)
        if out.shape[1] == 1:
            out = torch.cat([torch.zeros_like(out), out], dim=1)
        return out.detach().cpu().numpy()

    return forward


def _campaign(injector: Any, forward: Any, clean: np.ndarray, clean_top: np.ndarray,
              labels: np.ndarray, faults: list[Any], arms: list[Mitigation], seed: Seed,
              quiet: bool) -> tuple[dict[str, tuple[np.ndarray, ...]], dict[str, float]]:
    """Every fault injected, run and restored, unmitigated and under each mitigation that
    changes the computation; per arm the outcome codes, changed shares and differs flags."""
    reruns = {m.name: m for m in arms if m.rerun}
    shards = [(i, min(i + SHARD, len(faults))) for i in range(0, len(faults), SHARD)]
    units = grid(["none", *reruns], shards=shards)

    def work(unit: Any, _rng: np.random.Generator) -> list[Any]:
        start, stop = unit.shard
        arm = reruns.get(unit.variant)
        ctx = arm.installed(injector.model) if arm is not None else _nothing()
        with ctx:
            return [_one(injector, forward, clean, clean_top, labels, f)
                    for f in faults[start:stop]]

    campaign = Campaign(units, seed=seed, label=lambda u: f"faults ({u.variant})", quiet=quiet)
    done = campaign.run(work)
    out: dict[str, tuple[np.ndarray, ...]] = {}
    seconds: dict[str, float] = {}
    for arm in ["none", *reruns]:
        rows = [o for d in done if d.unit.variant == arm for o in d.value]
        out[arm] = (np.array([o.code for o in rows], dtype=np.int8),
                    np.array([o.changed for o in rows]), np.array([o.differs for o in rows]))
        seconds[arm] = sum(d.seconds for d in done if d.unit.variant == arm)
    return out, seconds


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _one(injector: Any, forward: Any, clean: np.ndarray, clean_top: np.ndarray,
         labels: np.ndarray, fault: Any) -> Any:
    """One injection: a transient fault runs its input alone, a permanent one every input."""
    rows = slice(None) if fault.row is None else slice(fault.row, fault.row + 1)
    injector.inject([fault if fault.row is None else replace(fault, row=None)])
    try:
        out = forward(rows)
    except Exception:  # noqa: BLE001 - a forward pass that raises under a fault is a DUE
        out = None
    finally:
        injector.restore()
    return judge(clean_top[rows], labels[rows], out, clean[rows])


class _Context:
    """What the findings need to know about the population and the sample."""

    def __init__(self, pop: Population, numbers: np.ndarray, exhaustive: bool,
                 level: float, N: int):
        self.pop, self.numbers, self.exhaustive, self.level, self.N = (pop, numbers, exhaustive,
                                                                      level, N)
        self.decoded = pop.decode(numbers)

    def sampling(self, N: int, n: int) -> str:
        if self.exhaustive:
            return "exhaustive: exact"
        return (f"sampled: {n:,} of {N:,} faults without replacement (Leveugle et al. 2009); "
                "exact hypergeometric interval")


def _rate(ctx: _Context, name: str, metric: str, k: int, n: int, N: int, **fields: Any
          ) -> Finding:
    """A rate ``k / n`` over a part of the population of ``N`` faults: exact hypergeometric
    interval when sampled, no interval when every fault ran (the value is exact)."""
    ci = None if ctx.exhaustive or n == 0 else hypergeometric_interval(k, n, N, ctx.level)
    details = {"count": k, "injections": n, "population": N,
               "sampling": ctx.sampling(N, n), **fields.pop("details", {})}
    return Finding(name=name, metric=metric, value=k / n if n else math.nan, ci=ci,
                   ci_level=ctx.level if ci else None, drill=DRILL, details=details, **fields)


def _rates(ctx: _Context, codes: np.ndarray, group: str, extra: dict[str, Any] | None = None) -> list[Finding]:
    """The four rates of one arm over the whole population."""
    got = counts(codes)
    n = len(codes)
    return [_rate(ctx, finding_name(DRILL, group, f"{rate}_rate"), f"{rate}_rate", got[rate], n,
                  ctx.N, group=group, details=dict(extra or {}),
                  message=f"{got[rate]:,} of {n:,} injections: {OUTCOMES_WORDS[rate]}.")
            for rate in RATES]


OUTCOMES_WORDS = {"sdc": "a top-1 class changed silently (SDC, critical or not)",
                  "critical_sdc": "an input went from right to wrong (critical SDC)",
                  "due": "NaN/inf or an error showed (DUE)",
                  "masked": "no top-1 class changed (masked)"}


def _layer_table(ctx: _Context, codes: np.ndarray) -> list[Finding]:
    """``sdc_rate`` per site, over that site's faults."""
    sdc = is_sdc(codes)
    out = []
    for s, site in enumerate(ctx.pop.sites):
        take = ctx.decoded["site"] == s
        k, n, N = int(sdc[take].sum()), int(take.sum()), int(ctx.pop.counts[s])
        out.append(_rate(ctx, finding_name(DRILL, "layer", "sdc_rate", at=site.name),
                         "sdc_rate", k, n, N, group="layer", feature=site.name,
                         details={"layer_type": site.layer_type, "where": site.where,
                                  "dtype": site.dtype, "critical_sdc": int(
                                      np.sum(codes[take] == OUTCOMES.index("critical_sdc"))),
                                  "due": int(np.sum(codes[take] == OUTCOMES.index("due")))},
                         message=f"{k:,} of {n:,} injections into {site.name} were SDCs."))
    return out


def _bit_table(ctx: _Context, codes: np.ndarray) -> list[Finding]:
    """``sdc_rate`` per bit position (severity), over the faults at that position."""
    from shakeout.faults.population import BIT_KINDS

    sdc = is_sdc(codes)
    per_kind = sum(k in BIT_KINDS for k in ctx.pop.kinds) * (ctx.pop.rows or 1)
    out = []
    for b in sorted({int(v) for v in ctx.decoded["bit"] if v >= 0}):
        take = ctx.decoded["bit"] == b
        N = sum(s.size * per_kind for s in ctx.pop.sites if b in ctx.pop.site_bits(s))
        k, n = int(sdc[take].sum()), int(take.sum())
        out.append(_rate(ctx, finding_name(DRILL, "bit", "sdc_rate", at=float(b)), "sdc_rate",
                         k, n, N, group="bit", severity=float(b), unit="bit position",
                         message=f"{k:,} of {n:,} injections at bit {b} were SDCs."))
    return out


def _critical(faults: list[Any], base: tuple[np.ndarray, ...], n_critical: int
              ) -> list[Finding]:
    """The most damaging faults: worst outcome first, then the most inputs changed."""
    from shakeout.perturb.bits import field

    codes, changed, _ = base
    order = sorted((i for i in range(len(faults)) if codes[i] > 0),
                   key=lambda i: (-int(codes[i]), -float(changed[i]), i))[:n_critical]
    out = []
    for rank, i in enumerate(order, 1):
        f = faults[i]
        where = f"{f.site.name}[{f.index}]" + ("" if f.bit is None else f" bit {f.bit}")
        out.append(Finding(
            name=finding_name(DRILL, "critical", "inputs_changed", at=str(rank)),
            metric="inputs_changed", value=float(changed[i]), drill=DRILL, group="critical",
            feature=where, status="warn",
            message=f"{f.kind} at {where}: " + (
                "a DUE (NaN/inf in the output, or the forward pass raised)." if OUTCOMES[codes[i]] == "due" else
                f"{OUTCOMES[codes[i]]}, top-1 changed on {changed[i]:.0%} of the inputs."),
            details={"site": f.site.name, "index": f.index, "bit": f.bit, "kind": f.kind,
                     "field": None if f.bit is None else field(f.site.dtype, f.bit),
                     "row": f.row, "outcome": OUTCOMES[codes[i]], "rank": rank}))
    return out


def _mitigated(ctx: _Context, arms: list[Mitigation], base: dict[str, tuple[np.ndarray, ...]],
               faults: list[Any], seconds: dict[str, float], transient: bool,
               sites: Sequence[Any], forward: Any, n_rows: int) -> list[Finding]:
    """Each mitigation's rates on the same faults, and its paired change in SDC rate."""
    codes, _, differs = base["none"]
    out: list[Finding] = []
    for arm in arms:
        after = base[arm.name][0] if arm.rerun else codes
        after = arm.outcomes(after, base[arm.name][2] if arm.rerun else differs, faults,
                             transient)
        overhead = _overhead(arm, seconds, forward, n_rows, len(faults), transient)
        extra = {"mitigation": arm.name, "time_overhead": overhead, **arm.cost(faults, sites)}
        out += _rates(ctx, after, arm.name, extra)
        out.append(_change(ctx, arm.name, codes, after, extra))
    return out


def _overhead(arm: Mitigation, seconds: dict[str, float], forward: Any, n_rows: int,
              injections: int, transient: bool) -> float:
    """Extra time per inference as a share of the unmitigated time: measured on the rerun
    for a mitigation that changes the computation, one more fault-free forward pass for
    redundant execution, none for protection (in hardware)."""
    base = seconds["none"] or math.nan
    if arm.rerun:
        return seconds[arm.name] / base - 1
    if arm.extra_passes:
        rows = slice(0, 1) if transient else slice(None)
        best = min(_timed(forward, rows) for _ in range(3))
        return arm.extra_passes * best * injections / base
    return 0.0


def _timed(forward: Any, rows: Any) -> float:
    t = time.perf_counter()
    forward(rows)
    return time.perf_counter() - t


def _change(ctx: _Context, name: str, before: np.ndarray, after: np.ndarray,
            extra: dict[str, Any]) -> Finding:
    """SDC rate after minus before on the same faults: exact when every fault ran, else
    Newcombe's paired interval (Wilson intervals, method 10) and the exact McNemar test."""
    from shakeout.stats import mcnemar_exact, paired_proportion_difference

    b, a = is_sdc(before), is_sdc(after)
    n = len(b)
    removed, added = sdc_removed(before, after)
    ci = None if ctx.exhaustive else paired_proportion_difference(a, b, ctx.level)
    return Finding(
        name=finding_name(DRILL, name, "sdc_rate_change"), metric="sdc_rate_change",
        value=float(a.mean() - b.mean()), ci=ci, ci_level=ctx.level if ci else None,
        p_value=mcnemar_exact(added, removed), drill=DRILL, group=name,
        details={**extra, "sdc_removed": removed, "sdc_added": added, "injections": n,
                 "sampling": ctx.sampling(ctx.N, n)},
        message=f"{name} on the same {n:,} faults: {removed:,} SDCs removed, {added:,} added; "
                f"the time overhead is {extra['time_overhead']:.0%}.")


def _fleet(sdc: Finding, fault_probability: float, fleet: int) -> Finding:
    """The probability of at least one SDC over ``fleet`` inferences."""
    p = fault_probability * sdc.value
    ci = None if sdc.ci is None else tuple(fleet_failure([fault_probability * v for v in sdc.ci],
                                                         fleet))
    return Finding(
        name=finding_name(DRILL, "campaign", "fleet_failure"), metric="fleet_failure",
        value=fleet_failure(p, fleet), ci=ci, ci_level=sdc.ci_level, drill=DRILL,
        group="campaign",
        details={"fault_probability": fault_probability, "fleet": fleet, "sdc_rate": sdc.value,
                 "per_inference": p},
        message=f"at least one SDC in {fleet:,} inferences, each struck by a fault with "
                f"probability {fault_probability:g}: 1 - (1 - p)^N with p = {p:.3g}.")


__all__ = ["fleet_failure", "run"]
