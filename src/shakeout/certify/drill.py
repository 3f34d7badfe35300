"""The certify drill's registration: certified accuracy against radius, the plan's
``certify`` section, ``shakeout certify``, and the report's curve and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shakeout.drills import Command, Drill, ReportSpec
from shakeout.errors import ValidationError

if TYPE_CHECKING:
    from shakeout.certify.plan import CertifyPlan
    from shakeout.data import Dataset
    from shakeout.report.result import Finding, Result

CERTIFIED_NOTE = (
    "Certified accuracy at radius r: the share of inputs the smoothed classifier gets right "
    "with a certificate that no perturbation of size below r changes its answer, each "
    "certificate wrong with probability at most alpha. The radius is an L2 distance under "
    "Gaussian noise (sigma its standard deviation) or an L1 distance under uniform noise on "
    "[-sigma, sigma]^d, in input units, or in units of each feature's standard deviation "
    "where sigma is relative: the finding's unit names the norm, the noise and the units.")
MEDIAN_NOTE = (
    "Median certified radius: the median over the inputs of the certified radius, 0 where the "
    "smoothed classifier abstains or is wrong; in the same norm and units as the curve.")


def describe(f: Finding) -> str | None:
    """A certify finding in words: the norm and radius, their units and the smoothing that
    certified them (None for a finding without ``details["smoothing"]``: the generic words).

    >>> from shakeout.report.result import Finding
    >>> how = {"norm": "L2", "space": "input units", "noise": "Gaussian noise, sigma 0.25",
    ...        "n": 1000, "alpha": 0.001}
    >>> describe(Finding(name="a", metric="certified_accuracy", value=0.24, severity=0.5,
    ...                  details={"smoothing": how}))
    'certified accuracy at L2 radius 0.5 (input units; Gaussian noise, sigma 0.25; 1,000 noisy \
passes per input; each certificate wrong with probability at most 0.001)'
    """
    how = f.details.get("smoothing")
    if not how:
        return None
    passes = f"; {how['n']:,} noisy passes per input" if how.get("n") else ""
    setting = (f"{how['space']}; {how['noise']}{passes}; each certificate wrong with "
               f"probability at most {how['alpha']:g}")
    if f.metric == "certified_accuracy":
        return f"certified accuracy at {how['norm']} radius {f.severity:g} ({setting})"
    if f.metric == "median_certified_radius":
        return f"median certified {how['norm']} radius ({setting})"
    return f"abstentions of the smoothed classifier ({setting})"


def run(model: Any, data: Dataset, section: CertifyPlan, *, seed: int, quiet: bool) -> Result:
    """The certify drill on a loaded model and labelled data set, with the plan's settings."""
    from shakeout.certify.run import run as certify

    if data.y is None:
        raise ValidationError(
            f"{data.name}: certified accuracy needs labels; save them as y in the .npz or name "
            "the target column with --target."
        )
    return certify(model, data.X, data.y, seed=seed, quiet=quiet, data_name=data.name,
                   **section.run_kwargs())


DRILLS = (
    Drill(name="certify", section="certify", plan="shakeout.certify.plan:CertifyPlan",
          run="shakeout.certify.drill:run",
          commands=(Command("certify", "shakeout.certify.cli:certify_command"),),
          report=ReportSpec(title="Certified robustness",
                            headline=("certified_accuracy", "median_certified_radius"),
                            combined="smoothed", describe=describe,
                            curves="Certified accuracy against the radius",
                            notes=(("certified_accuracy", CERTIFIED_NOTE),
                                   ("median_certified_radius", MEDIAN_NOTE)))),
)
