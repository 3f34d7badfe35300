"""The monitor's registration: windows of the plan's ``drift`` section over time,
``shakeout monitor``, and gates that judge the latest window only.

The monitor's findings are the drift drill's (``drill="drift"``, shown with the drift
drill's spec); the spec here serves findings a caller files under ``drill="monitor"``.
"""

from __future__ import annotations

from shakeout.drift.drill import ONSETS
from shakeout.drills import Command, Drill, ReportSpec

DRILLS = (
    Drill(name="monitor", section="drift", plan="shakeout.drift.plan:DriftPlan",
          commands=(Command("monitor", "shakeout.monitor.cli:monitor_command"),),
          scope="shakeout.monitor:latest_window", scope_name="latest window",
          report=ReportSpec(title="Monitoring", headline=("decision",), tables=(ONSETS,))),
)
