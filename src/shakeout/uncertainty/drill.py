"""The uncertainty drill's registration: the plan's ``uncertainty`` section,
``shakeout uncertainty``, and the report's section (ECE, conformal coverage, AURC first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Chart, Command, Drill, ReportSpec

if TYPE_CHECKING:
    from shakeout.data import Dataset
    from shakeout.report.result import Result
    from shakeout.uncertainty.plan import UncertaintyPlan


def run(model: Any, data: Dataset, section: UncertaintyPlan, *, seed: int,
        quiet: bool) -> Result:
    """The uncertainty drill on a loaded model and labelled data set, with the plan's settings;
    the section's calibration file, when it names one, is loaded here."""
    from shakeout.data import load_dataset
    from shakeout.uncertainty.run import run as uncertainty

    calibration = {}
    if section.calibration is not None:
        cal = load_dataset(section.calibration, target=section.target)
        calibration = {"X_cal": cal.X, "y_cal": cal.y}
        if cal.y is None:
            from shakeout.errors import ValidationError

            raise ValidationError(
                f"{cal.name}: the calibration data needs labels; save them as y in the .npz "
                "or name the target column with --target."
            )
    return uncertainty(model, data.X, data.y, seed=seed, quiet=quiet, data_name=data.name,
                       **calibration, **section.run_kwargs())


DRILLS = (
    Drill(name="uncertainty", section="uncertainty",
          plan="shakeout.uncertainty.plan:UncertaintyPlan",
          run="shakeout.uncertainty.drill:run",
          commands=(Command("uncertainty", "shakeout.uncertainty.cli:uncertainty_command"),),
          report=ReportSpec(
              title="Uncertainty", headline=("ece", "coverage", "set_size", "guaranteed_risk"),
              summary=(("coverage", "low"), ("set_size", "high"), ("ece", "high"),
                       ("guaranteed_risk", "high")),
              charts=(Chart("reliability", reference="perfect calibration", weight="rows"),),
              notes=(("ece", "Expected calibration error: the gap between confidence and "
                             "accuracy (0 is calibrated); its interval is for the true error."),
                     ("guaranteed_risk", "Error rate on the test rows among those answered "
                                         "at the threshold chosen with guaranteed risk; not "
                                         "measured (NaN, warn) where the threshold answers "
                                         "no test row.")))),
)
