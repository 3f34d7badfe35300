"""``shakeout attack``: the evasion drill from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Seed, Target, TrustPickle, app,
                               console, emit)
from shakeout.errors import ValidationError

ModelArg = Annotated[str, typer.Argument(
    help="Model: package.module:attribute, a .onnx file, a TorchScript .pt, or a pickle "
         "(with --trust-pickle).")]
DataArg = Annotated[str, typer.Argument(help="Data: .csv, .parquet or .npz (arrays X and y).")]
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


@app.command("attack")
def attack_command(model: ModelArg, data: DataArg, attack: AttackOpt = None,
                   attack_param: ParamOpt = None, norm: NormOpt = None, eps: EpsOpt = None,
                   bounds: BoundsOpt = None, immutable: ImmutableOpt = None, plan: Plan = None,
                   target: Target = None, out: Out = DEFAULT_OUT, seed: Seed = None,
                   batch_size: BatchOpt = None, no_sanity: NoSanity = False,
                   trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Attack MODEL on DATA: robust accuracy against budget, worst case over attacks, gates."""
    from shakeout import attacks
    from shakeout.attacks.plan import AttackPlan
    from shakeout.data import load_dataset
    from shakeout.models import load_model

    the_plan = None
    section = AttackPlan()
    if plan is not None:
        from shakeout.plan import load_plan

        the_plan = load_plan(plan)
        section = the_plan.attack
    changes: dict = {}
    if attack:
        changes["attacks"] = [a.strip() for item in attack for a in item.split(",") if a.strip()]
    if attack_param:
        changes["params"] = _params(section.params, attack_param)
    if norm is not None:
        changes["norm"] = norm
    if eps is not None:
        changes["eps"] = _numbers("--eps", eps)
    if bounds is not None:
        changes["bounds"] = _bounds(bounds)
    if immutable is not None:
        changes["immutable"] = [c.strip() for c in immutable.split(",") if c.strip()]
    if batch_size is not None:
        changes["batch_size"] = batch_size
    if no_sanity:
        changes["sanity"] = False
    section = _validated(section, changes)
    wrapped = load_model(model, trust_pickle=trust_pickle)
    ds = load_dataset(data, target=target)
    if ds.y is None:
        raise ValidationError(
            f"{ds.name}: attacks need labels; save them as y in the .npz or name the target "
            "column with --target."
        )
    if not quiet:
        console.print(f"Attacking {wrapped.name} on {ds.name} ({len(ds.X)} rows)",
                      highlight=False)
    the_seed = seed if seed is not None else (the_plan.seed if the_plan is not None else 0)
    result = attacks.run(wrapped, ds.X, ds.y, seed=the_seed, quiet=quiet, data_name=ds.name,
                         **section.run_kwargs(ds.X))
    gate = the_plan.gate if the_plan is not None and the_plan.gates else None
    raise typer.Exit(emit(result, out, gate, quiet=quiet))


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValidationError(
            f"{option} must be comma-separated numbers such as 0.03,0.1, got {text!r}."
        ) from None


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
    values = _numbers("--bounds", text)
    if len(values) != 2:
        raise ValidationError(
            f"--bounds must be LOW,HIGH, 'data' or 'none', got {text!r}."
        )
    return (values[0], values[1])


def _validated(section, changes: dict):
    """The plan's attack section with the command-line choices applied, checked again."""
    from shakeout.attacks.plan import AttackPlan

    return AttackPlan.model_validate({**section.model_dump(), **changes},
                                     source="the attack command line")
