"""``shakeout scan``: score every training row, write the quarantine file and the lineage
manifest, and list what changed since the last accepted batch.

Registered in :mod:`shakeout.poison.drill`; keep the imports at the top light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shakeout.cli._app import (DEFAULT_OUT, DataArg, Out, Plan, Quiet, Seed, Target, TrustPickle,
                               configured, console, emit, names)

ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Model: a scikit-learn-style classifier the out-of-fold scanners "
                    "cross-validate, or a torch model for the representation scanners "
                    "(package.module:attribute, a TorchScript .pt, a pickle with "
                    "--trust-pickle).")]
ScannersOpt = Annotated[str | None, typer.Option(
    "--scanners", help="Scanners, comma-separated: robust_z, iqr, mahalanobis_mcd, "
                       "isolation_forest, lof, oof_probability, knn_labels, confident_learning, "
                       "spectral_signature, activation_clustering (default: the tabular ones, "
                       "the label ones with --target, the representation ones with a torch "
                       "model).")]
BudgetOpt = Annotated[float | None, typer.Option(
    "--budget", help="Share of rows removed into quarantine, the most suspicious first "
                     "(default 0.05).")]
LevelOpt = Annotated[float | None, typer.Option(
    "--level", help="Level of every interval (default 0.95).")]
QuarantineOpt = Annotated[Path | None, typer.Option(
    "--quarantine", help="Write the quarantined rows (row id, rank, combined score, reasons) "
                         "to this .csv or .parquet file.")]
MaskOpt = Annotated[str | None, typer.Option(
    "--mask", help="Column holding a simulation's ground truth (True: poisoned): adds each "
                   "scanner's precision and recall at the budget.")]
KeyOpt = Annotated[str | None, typer.Option(
    "--key", help="Column of row ids: names the rows in the quarantine file and matches rows "
                  "with --since (an edited row is then told from a new one).")]
SinceOpt = Annotated[Path | None, typer.Option(
    "--since", help="Lineage manifest of the last accepted batch: list rows added, removed "
                    "and changed since.")]
ManifestOpt = Annotated[Path | None, typer.Option(
    "--manifest", help="Where to write this batch's lineage manifest (default: "
                       "<TRAIN>.manifest.json beside the data).")]



def _check_quarantine(path: Path | None) -> None:
    from shakeout.errors import ValidationError

    if path is not None and path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ValidationError(f"--quarantine {str(path)!r} must end in .csv or .parquet.")


def scan_command(train: DataArg, model: ModelOpt = None, scanners: ScannersOpt = None,
                 budget: BudgetOpt = None, level: LevelOpt = None,
                 quarantine: QuarantineOpt = None, mask: MaskOpt = None, key: KeyOpt = None,
                 since: SinceOpt = None, manifest: ManifestOpt = None, plan: Plan = None,
                 target: Target = None, out: Out = DEFAULT_OUT, seed: Seed = None,
                 trust_pickle: TrustPickle = False, quiet: Quiet = False) -> None:
    """Scan the training data TRAIN for poisoned or mislabelled rows: a suspicion score per
    row from each scanner, a combined rank, the quarantine file and the lineage manifest."""
    from dataclasses import replace

    from shakeout.data import load_dataset
    from shakeout.drills import get
    from shakeout.poison.provenance import since as diff_since, write_manifest
    from shakeout.poison.scan import quarantine as write_quarantine

    setup = configured("scan", plan, seed, scanners=("--scanners", names(scanners)),
                       budget=("--budget", budget), level=("--level", level),
                       mask=("--mask", mask), key=("--key", key))
    _check_quarantine(quarantine)
    section = setup.section
    diff = None if since is None else diff_since(since, train, key=section.key, target=target)
    ds = load_dataset(train, target=target)
    wrapped = _model(model, trust_pickle)
    if not quiet:
        console.print(f"Scanning {ds.name} ({len(ds.X)} rows)", highlight=False)
    result = get("scan").runner()(wrapped, ds, section, seed=setup.seed, quiet=quiet)
    if diff is not None:
        result = replace(result, findings=(*result.findings, *diff.findings("scan")))
    if quarantine is not None:
        console.print(f"Quarantine written to {write_quarantine(result, quarantine)}",
                      highlight=False)
    written = write_manifest(manifest, train, scans=list(result.scores.columns[:_scanned(result)]),
                             thresholds=_thresholds(result, section), key=section.key,
                             target=target)
    console.print(f"Lineage manifest written to {written}", highlight=False)
    raise typer.Exit(emit(result, out, _gate(setup, diff), quiet=quiet, drill="scan"))


def _gate(setup: Any, diff: Any) -> Any:
    """The plan's gate and, with ``--since``, no changed old row (nor, without a key to tell
    an edit from a removal, a removed one): an edit to accepted training rows fails the scan.

    >>> from shakeout.cli._app import configured
    >>> [c.metric for c in _gate(configured("scan", None), object()).conditions]
    ['rows_changed', 'rows_removed']
    """
    from shakeout.report.gate import Gate, GateCondition

    conditions = list(setup.plan.gates)
    if diff is not None:
        edits = ["rows_changed"] + (["rows_removed"] if setup.section.key is None else [])
        conditions += [GateCondition(metric=m, drill="scan", group="provenance", max=0,
                                     on="value") for m in edits]
    return Gate(conditions=conditions) if conditions else None


def _model(spec: str | None, trust_pickle: bool) -> Any:
    from shakeout.models import load_model

    return None if spec is None else load_model(spec, trust_pickle=trust_pickle)


def _scanned(result: Any) -> int:
    """How many leading columns of the scores table are scanners."""
    return list(result.scores.columns).index("combined")


def _thresholds(result: Any, section: Any) -> dict[str, Any]:
    """The removal budget and each scanner's own cut-off, for the manifest."""
    own = {f.group: f.details.get("threshold") for f in result.findings
           if f.metric == "flagged_share"}
    return {"budget": section.budget, "combined": "mean rank percentile", **own}
