"""``shakeout caught``: would drift monitoring catch each preprocessing fault, and how fast.

Registered in :mod:`shakeout.faults.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shakeout.cli._app import (DEFAULT_OUT, Out, Plan, Quiet, Seed, Target, configured, emit,
                               names)

FaultsOpt = Annotated[str | None, typer.Option(
    "--faults", help="Preprocessing faults, comma-separated: unit_mismatch, column_swap, "
                     "frozen_feature, default_filled, truncation (default: all of them).")]
SeverityOpt = Annotated[float, typer.Option(
    "--severity", help="Share of the rows after the onset that go through the faulty "
                       "pipeline (1: all of them).")]


def caught_command(
    reference: Annotated[str, typer.Argument(help="Clean reference rows the monitor compares "
                                                  "with: .csv, .parquet or .npz.")],
    current: Annotated[str, typer.Argument(help="Clean rows from after the reference, into "
                                                "which each fault is injected.")],
    faults: FaultsOpt = None, severity: SeverityOpt = 1.0, target: Target = None,
    plan: Plan = None, out: Out = DEFAULT_OUT, seed: Seed = None, quiet: Quiet = False,
) -> None:
    """Inject each preprocessing fault into CURRENT and find how many faulty rows the drift
    suite (configured by the plan's drift section, as the monitor runs it) needs to alert."""
    from shakeout.data import load_dataset
    from shakeout.drift import DriftSuite
    from shakeout.faults.caught import caught

    setup = configured("drift", plan, seed)
    ref = load_dataset(reference, target=target)
    cur = load_dataset(current, target=target)
    result = caught(ref.X, cur.X, faults=names(faults) or None, severity=severity,
                    seed=setup.seed,
                    suite=DriftSuite(seed=setup.seed, **setup.section.suite_options()))
    raise typer.Exit(emit(result, out, setup.gate, quiet=quiet, drill="caught"))
