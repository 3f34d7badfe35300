"""The faults pillar's registrations: the fault-injection campaign (``shakeout faults``, the
plan's ``faults`` section, the report's rates, per-layer table and per-bit curve)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Column, Command, Drill, ReportSpec, Table
from shakeout.errors import ValidationError

if TYPE_CHECKING:
    from shakeout.data import Dataset
    from shakeout.faults.plan import FaultsPlan
    from shakeout.report.result import Result

SDC_NOTE = (
    "SDC rate: the share of injected faults after which the model's top-1 class changed on "
    "at least one evaluation input with no NaN/inf to show it (silent data corruption); a "
    "critical SDC turned a right answer wrong; a DUE (NaN/inf or an error) shows itself. A "
    "sampled campaign's interval is exact for a sample drawn without replacement from the "
    "finite fault population (hypergeometric); an exhaustive campaign's rate is exact.")
DIAGNOSIS_NOTE = (
    "Diagnosis: 0 inconclusive, 1 environmental shift, 2 attack, 3 fault; its message gives "
    "the reasoning and the response, its details the evidence with each strength.")
GOLDEN_NOTE = (
    "First divergence: the position of the first place that moved beyond tolerance on the "
    "golden inputs, 0 for the preprocessed input, then each torch layer in execution order, "
    "then the outputs; empty when the replay matches.")
CAUGHT_NOTE = (
    "Rows to alert: the smallest window of faulty rows, from the fault's onset, whose drift "
    "decision is not 'continue monitoring' (doubling then bisection); empty when no window up "
    "to all the rows alerts.")


def run(model: Any, data: Dataset, section: FaultsPlan, *, seed: int, quiet: bool) -> Result:
    """The faults drill on a loaded model and labelled data set, with the plan's settings."""
    from shakeout.faults.campaign import run as campaign

    if data.y is None:
        raise ValidationError(
            f"{data.name}: a fault campaign needs labels (a critical silent data corruption "
            "turns a right answer wrong); save them as y in the .npz or name the target column with --target.")
    return campaign(model, data.X, data.y, seed=seed, quiet=quiet, data_name=data.name,
                    **section.run_kwargs())


def _detail(key: str) -> Any:
    return lambda f: f.details.get(key)


DRILLS = (
    Drill(name="faults", section="faults", plan="shakeout.faults.plan:FaultsPlan",
          run="shakeout.faults.drill:run",
          commands=(Command("faults", "shakeout.faults.cli:faults_command"),),
          report=ReportSpec(
              title="Fault injection",
              headline=("sdc_rate", "critical_sdc_rate", "due_rate", "sdc_rate_change",
                        "fleet_failure"),
              notes=(("sdc_rate", SDC_NOTE),),
              summary=(("sdc_rate", "high"),),
              tables=(
                  Table(group="layer", title="SDC rate per layer",
                        note="Per fault site: the share of its injected faults that were SDCs.",
                        columns=(Column("site", lambda f: f.feature),
                                 Column("type", _detail("layer_type")),
                                 Column("SDC rate", lambda f: f.value, number=True),
                                 Column("injections", _detail("injections"), number=True),
                                 Column("faults", _detail("population"), number=True),
                                 Column("critical SDC", _detail("critical_sdc"), number=True),
                                 Column("DUE", _detail("due"), number=True))),
                  Table(group="critical", title="Most critical faults",
                        note="The injected faults that did the most damage: worst outcome "
                             "first, then the share of inputs whose top-1 class changed.",
                        columns=(Column("fault", lambda f: f.feature),
                                 Column("kind", _detail("kind")),
                                 Column("field", _detail("field")),
                                 Column("outcome", _detail("outcome")),
                                 Column("inputs changed", lambda f: f.value, number=True)))))),
    Drill(name="diagnose",
          commands=(Command("diagnose", "shakeout.faults.diagnose_cli:diagnose_command"),),
          report=ReportSpec(
              title="Diagnosis",
              headline=("diagnosis",),
              notes=(("diagnosis", DIAGNOSIS_NOTE),),
              tables=(Table(group="change", title="Change points per monitored series",
                            note="Max-CUSUM permutation test per series (Page 1954; Hinkley "
                                 "1970), Holm-adjusted across series; a step when a linear "
                                 "trend does not explain the series.",
                            columns=(Column("series", _detail("series_metric")),
                                     Column("feature", lambda f: f.feature),
                                     Column("shape", _detail("shape")),
                                     Column("break window", _detail("break_window")),
                                     Column("change", lambda f: f.value, number=True),
                                     Column("p", lambda f: f.p_value, number=True))),))),
    Drill(name="golden",
          commands=(Command("golden", "shakeout.faults.golden_cli:app"),),
          report=ReportSpec(
              title="Golden replay",
              headline=("first_divergence", "predictions_changed"),
              notes=(("first_divergence", GOLDEN_NOTE),))),
    Drill(name="parity",
          commands=(Command("parity", "shakeout.faults.golden_cli:parity_command"),),
          report=ReportSpec(title="Pipeline parity", headline=("features_differing",))),
    Drill(name="caught",
          commands=(Command("caught", "shakeout.faults.caught_cli:caught_command"),),
          report=ReportSpec(title="Would drift monitoring catch it",
                            headline=("rows_to_alert",),
                            notes=(("rows_to_alert", CAUGHT_NOTE),))),
)
