"""The stress drill's registrations: ``stress`` (degradation curves, sensitivity) and
``compare`` (two model versions), both reading the plan's ``stress`` section."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Command, Drill, ReportSpec

if TYPE_CHECKING:
    from shakeout.data import Dataset
    from shakeout.report.result import Result
    from shakeout.stress.plan import StressPlan

ROBUSTNESS_NOTE = (
    "Robustness score: the area under the metric's curve over the severity grid relative to "
    "the clean value. 1 means no degradation; below 1, the metric worsened; above 1, it "
    "improved under the perturbation, which is noise when the interval holds 1 and otherwise "
    "worth a look (the perturbation may act as regularisation or the clean score be low).")


def run(model: Any, data: Dataset, section: StressPlan, *, seed: int, quiet: bool) -> Result:
    """The stress drill on a loaded model and data set, with the plan's settings."""
    from shakeout.stress.run import run as stress

    return stress(model, data.X, data.y, seed=seed, quiet=quiet, data_name=data.name,
                  **section.run_kwargs())


DRILLS = (
    Drill(name="stress", section="stress", plan="shakeout.stress.plan:StressPlan",
          run="shakeout.stress.drill:run",
          commands=(Command("stress", "shakeout.stress.cli:stress_command"),),
          report=ReportSpec(title="Stress test", headline=("robustness_score",),
                            notes=(("robustness_score", ROBUSTNESS_NOTE),))),
    Drill(name="compare", section="stress", plan="shakeout.stress.plan:StressPlan",
          commands=(Command("compare", "shakeout.stress.cli:compare_command"),),
          report=ReportSpec(title="Model comparison", headline=("agreement",))),
)
