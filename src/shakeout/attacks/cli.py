"""``shakeout attack``: the evasion drill from the command line.

Registered in :mod:`shakeout.attacks.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, DataArg, ModelArg, Out, Plan, Quiet, Seed, Target,
                               TrustPickle, configured, console, emit, inputs, names,
                               numbers)
from shakeout.errors import ValidationError

AttackOpt = Annotated[list[str] | None, typer.Option(
    "--attack", help="Attack to run, repeatable or comma-separated: fgsm, pgd, bim, apgd-ce, "
                     "apgd-dlr, cw, deepfool, jsma, ead, square, hopskipjump, transfer. "
                     "Default: a strong ensemble for the norm and model.")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--attack-param", metavar="NAME.PARAM=VALUE",
    help="An attack's own setting, repeatable: square.steps=500 (Square's queries per point), "
         "hopskipjump.steps=10 (its iterations), apgd-ce.restarts=2. Overrides the plan's "
         "attack.params; see docs/attacks.md for each attack's parameters.")]
NormOpt = Annotated[str | None, typer.Option("--norm", help="linf, l2, l1 or l0 (default linf).")]
EpsOpt = Annotated[str | None, typer.Option(
    "--eps", help="Budgets in the norm, comma-separated, in the model's input space, e.g. "
                  "0.03,0.1. Default: 3%, 10% and 30% of the valid range (linf).")]
BoundsOpt = Annotated[str | None, typer.Option(
    "--bounds", help="Valid input range: LOW,HIGH (default 0,1), 'data' for each feature's "
                     "range in DATA, or 'none'.")]
ImmutableOpt = Annotated[str | None, typer.Option(
    "--immutable", help="Comma-separated features the attacker cannot change.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Rows per attack batch.")]
NoSanity = Annotated[bool, typer.Option("--no-sanity", help="Skip the gradient-masking checks.")]


def attack_command(model: ModelArg, data: DataArg, attack: AttackOpt = None,
                   attack_param: ParamOpt = None, norm: NormOpt = None, eps: EpsOpt = None,
                   bounds: BoundsOpt = None, immutable: ImmutableOpt = None, plan: Plan = None,
                   target: Target = None, out: Out = DEFAULT_OUT, seed: Seed = None,
                   batch_size: BatchOpt = None, no_sanity: NoSanity = False,
                   trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Attack MODEL on DATA: robust accuracy against budget, worst case over attacks, gates."""
    from shakeout.drills import get

    setup = configured(
        "attack", plan, seed,
        attacks=("--attack", attack and names(",".join(attack))),
        params=("--attack-param", attack_param and (lambda plan: _params(plan, attack_param))),
        norm=("--norm", norm),
        eps=("--eps", None if eps is None else numbers("--eps", eps)),
        bounds=("--bounds", None if bounds is None else lambda _: _bounds(bounds)),
        immutable=("--immutable", None if immutable is None else names(immutable)),
        batch_size=("--batch-size", batch_size),
        sanity=("--no-sanity", False if no_sanity else None))
    wrapped, ds = inputs(model, data, target=target, trust_pickle=trust_pickle)
    if not quiet:
        console.print(f"Attacking {wrapped.name} on {ds.name} ({len(ds.X)} rows)",
                      highlight=False)
    result = get("attack").runner()(wrapped, ds, setup.section, seed=setup.seed, quiet=quiet)
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="attack"))



def _params(plan: dict[str, dict], items: list[str]) -> dict[str, dict]:
    """The plan's per-attack settings with each ``NAME.PARAM=VALUE`` applied (YAML values).

    >>> _params({"square": {"p_init": 0.1}}, ["square.steps=500", "apgd-ce.loss=ce"])
    {'square': {'p_init': 0.1, 'steps': 500}, 'apgd-ce': {'loss': 'ce'}}
    """
    import yaml

    out = {name: dict(settings) for name, settings in plan.items()}
    for item in items:
        head, equals, text = item.partition("=")
        name, dot, key = head.strip().partition(".")
        if not (equals and dot and name and key):
            raise ValidationError(
                f"--attack-param must be NAME.PARAM=VALUE, e.g. square.steps=500, got {item!r}."
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        out.setdefault(name, {})[key.strip()] = value
    return out


def _bounds(text: str) -> tuple[float, float] | str | None:
    if text.strip().lower() == "none":
        return None
    if text.strip().lower() == "data":
        return "data"
    values = numbers("--bounds", text)
    if len(values) != 2:
        raise ValidationError(
            f"--bounds must be LOW,HIGH, 'data' or 'none', got {text!r}."
        )
    return (values[0], values[1])
