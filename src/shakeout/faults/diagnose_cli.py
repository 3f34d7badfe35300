"""``shakeout diagnose``: fault, environmental shift, attack or inconclusive, from the monitor's
history store, an event log and a golden replay.

Registered in :mod:`shakeout.faults.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shakeout.cli._app import DEFAULT_OUT, Out, Quiet, Seed, TrustPickle, console, emit
from shakeout.errors import ValidationError
from shakeout.faults.golden_cli import PreprocessOpt, optional_function


def diagnose_command(
    store: Annotated[str, typer.Option(
        "--store", help="SQLAlchemy URL of the monitor's history store, e.g. "
                        "sqlite:///shakeout-history.db.")],
    stream: Annotated[str, typer.Option("--stream", help="The monitored data set.")] = "default",
    events: Annotated[Path | None, typer.Option(
        "--events", help="Event log (.csv or .parquet): deploys, dependency bumps, schema "
                         "changes, hardware counters, one per row with a time and a label.")] = None,
    event_time: Annotated[str, typer.Option(
        "--event-time", help="The event log's time column (ISO 8601 times).")] = "time",
    event_label: Annotated[str, typer.Option(
        "--event-label", help="The event log's label column.")] = "label",
    golden: Annotated[Path | None, typer.Option(
        "--golden", help="Golden set folder (shakeout golden save) to replay through "
                         "--model.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="The model to replay the golden set through.")] = None,
    preprocess: PreprocessOpt = None,
    source: Annotated[str, typer.Option(
        "--source", help="The categorical feature whose categories are the traffic's "
                         "sources.")] = "source",
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Significance level, after Holm's correction across series.")] = 0.05,
    out: Out = DEFAULT_OUT, seed: Seed = None, trust_pickle: TrustPickle = False,
    quiet: Quiet = False,
) -> None:
    """Diagnose a monitored stream: a system fault, an environmental shift, an attack, or
    inconclusive, with the evidence, its strength and the response it demands."""
    from shakeout.faults.diagnose import diagnose
    from shakeout.monitor import HistoryStore

    if (golden is None) != (model is None):
        raise ValidationError("shakeout diagnose takes --golden and --model together (the "
                              "golden set and the model to replay it through), or neither.")
    history = HistoryStore(store, stream=stream)
    if not history.exists():
        raise ValidationError(f"no history store at {store!r}; check the URL, or run "
                              "shakeout monitor REFERENCE CURRENT --store URL to create it.")
    replay_model = None
    if model is not None:
        from shakeout.models import load_model

        replay_model = load_model(model, trust_pickle=trust_pickle)
    result = diagnose(history, events=events, golden=golden, model=replay_model,
                      preprocess=optional_function(preprocess, "--preprocess"), alpha=alpha,
                      source=source, event_time=event_time, event_label=event_label,
                      seed=0 if seed is None else seed)
    head = result.select(group="diagnosis")[0]
    console.print(head.message, highlight=False, markup=False)
    raise typer.Exit(emit(result, out, None, quiet=quiet, drill="diagnose"))
