"""The attack drill's registration: robust accuracy against budget, the plan's ``attack``
section, ``shakeout attack``, and the worst case over the ensemble in the report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Command, Drill, ReportSpec
from shakeout.errors import ValidationError

if TYPE_CHECKING:
    from shakeout.attacks.plan import AttackPlan
    from shakeout.data import Dataset
    from shakeout.report.result import Result


def run(model: Any, data: Dataset, section: AttackPlan, *, seed: int, quiet: bool) -> Result:
    """The attack drill on a loaded model and labelled data set, with the plan's settings."""
    from shakeout.attacks.run import run as attack

    if data.y is None:
        raise ValidationError(
            f"{data.name}: attacks need labels; save them as y in the .npz or name the target "
            "column with --target."
        )
    return attack(model, data.X, data.y, seed=seed, quiet=quiet, data_name=data.name,
                  **section.run_kwargs(data.X))


DRILLS = (
    Drill(name="attack", section="attack", plan="shakeout.attacks.plan:AttackPlan",
          run="shakeout.attacks.drill:run",
          commands=(Command("attack", "shakeout.attacks.cli:attack_command"),),
          report=ReportSpec(title="Adversarial attacks", headline=("robust_accuracy",),
                            combined="ensemble")),
)
