"""The drift drill's registration: the plan's ``drift`` section, ``shakeout drift``, the
decision as the headline and, for a monitored history, where each alarm began."""

from __future__ import annotations

from shakeout.drills import Column, Command, Drill, ReportSpec, Table

ONSETS = Table(
    group="onset", title="Where and when drift began",
    note="Each statistic out of the green zone in the latest window, strongest evidence first: "
         "the first window of its unbroken alarm, and the first window where the evidence "
         "became decisive (fail).",
    columns=(
        Column("statistic", lambda f: f.details["series_metric"] + (
            f" ({f.details['series_group']})"
            if f.details["series_group"] != f.details["series_metric"] else "")),
        Column("feature", lambda f: f.feature),
        Column("since window", lambda f: f.details["first_window"]),
        Column("decisive since", lambda f: f.details["decisive_window"]),
        Column("windows out", lambda f: f.details["windows"], number=True),
        Column("value then", lambda f: f.details["first_value"], number=True),
        Column("value now", lambda f: f.details["latest_value"], number=True),
    ))
"""Onset findings (``shakeout.monitor.onset``) as a table of their own."""

DRILLS = (
    Drill(name="drift", section="drift", plan="shakeout.drift.plan:DriftPlan",
          commands=(Command("drift", "shakeout.drift.cli:drift_command"),),
          report=ReportSpec(title="Drift", headline=("decision",), tables=(ONSETS,))),
)
