"""The uncertainty drill's registration: the plan's ``uncertainty`` section,
``shakeout uncertainty``, and the report's section (ECE, conformal coverage, AURC first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Chart, Command, Drill, ReportSpec

if TYPE_CHECKING:
    from shakeout.data import Dataset
    from shakeout.report.result import Finding, Result
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


SCORE_WORDS = {"max_probability": "the max-probability score", "margin": "the margin score",
               "entropy": "the entropy score", "mc_dropout": "MC dropout's mutual information"}


def describe(f: Finding) -> str | None:
    """An uncertainty finding in words (None: the generic words).

    >>> from shakeout.report.result import Finding
    >>> describe(Finding(name="a", metric="ece", value=0.02, group="temperature_scaled"))
    'calibration error (ECE) after temperature scaling'
    >>> describe(Finding(name="b", metric="guaranteed_risk", value=0.01,
    ...                  group="selective/entropy"))
    'guaranteed risk, rejection by the entropy score'
    >>> describe(Finding(name="c", metric="coverage", value=0.9, group="conformal"))
    'conformal coverage'
    """
    score = SCORE_WORDS.get(f.group.partition("/")[2]) if f.group else None
    words = {
        ("calibration", "ece"): "calibration error (ECE)",
        ("temperature_scaled", "ece"): "calibration error (ECE) after temperature scaling",
        ("conformal", "coverage"): "conformal coverage",
        ("conformal", "set_size"): "conformal set size",
        ("conformal", "interval_width"): "conformal interval width",
    }.get((f.group, f.metric))
    if words or score is None:
        return words
    return {"guaranteed_risk": f"guaranteed risk, rejection by {score}",
            "answered": f"share of rows answered, rejection by {score}",
            "aurc": f"area under the risk-coverage curve (AURC) of {score}",
            "selective_risk": f"selective risk of {score}"}.get(f.metric)


DRILLS = (
    Drill(name="uncertainty", section="uncertainty",
          plan="shakeout.uncertainty.plan:UncertaintyPlan",
          run="shakeout.uncertainty.drill:run",
          commands=(Command("uncertainty", "shakeout.uncertainty.cli:uncertainty_command"),),
          report=ReportSpec(
              title="Uncertainty", headline=("ece", "coverage", "set_size", "guaranteed_risk"),
              describe=describe,
              summary=(("coverage", "low"), ("set_size", "high"), ("ece", "high"),
                       ("guaranteed_risk", "high")),
              charts=(Chart("reliability", reference="perfect calibration", weight="rows"),),
              curves="Reliability and risk against coverage",
              notes=(("ece", "Expected calibration error: the gap between confidence and "
                             "accuracy (0 is calibrated); its interval is for the true error."),
                     ("guaranteed_risk", "Error rate on the test rows among those answered "
                                         "at the threshold chosen with guaranteed risk; not "
                                         "measured (NaN, warn) where the threshold answers "
                                         "no test row.")))),
)
