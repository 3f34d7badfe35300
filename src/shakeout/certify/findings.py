"""The certify drill's findings, built with the findings toolkit
(:mod:`shakeout.report.findings`): certified accuracy along the radius grid, the median
certified radius, abstentions with the per-input certificates, the soundness check.

>>> import numpy as np
>>> f = certified_accuracy(np.array([0.3, 0.0, 0.6]), np.array([True, False, True]), 0.5,
...                        0.95, "l2 radius")
>>> f.name, f.value, f.severity
('certify/smoothed/certified_accuracy@0.5', 0.3333333333333333, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.certify.smoothing import Certificates
from shakeout.certify.soundness import Soundness
from shakeout.report.findings import finding_name, median_finding, proportion
from shakeout.report.result import Finding

DRILL = "certify"
GROUP = "smoothed"
"""The group of the smoothed classifier's findings (the report's combined group)."""


def certified_accuracy(radius: np.ndarray, correct: np.ndarray, r: float, level: float,
                       unit: str, smoothing: dict[str, Any] | None = None) -> Finding:
    """The share of inputs certified correct with a radius of at least ``r`` (Cohen et al.
    2019), with its exact interval over the inputs; ``smoothing`` (:func:`smoothing`) says
    how they were certified, in words the report reads."""
    k, n = int(np.sum(correct & (radius >= r))), len(radius)
    return proportion(finding_name(DRILL, GROUP, "certified_accuracy", at=r),
                      "certified_accuracy", k, n, level, drill=DRILL, group=GROUP, severity=r,
                      unit=unit, details={"certified": k, "n": n, "smoothing": smoothing or {}},
                      message=f"{k} of {n} inputs certified correct at radius {r:g} or more.")


def smoothing(cert: Certificates, n: int | None = None) -> dict[str, Any]:
    """How the certificates were made, for the report's words: the norm, the space of the
    radius, the noise, the noisy passes per input (``n``, when known) and ``alpha``.

    >>> c = Certificates(np.zeros(1, int), np.ones(1), np.ones(1), "l2", 0.25, False, 0.001)
    >>> smoothing(c, 1000)["noise"]
    'Gaussian noise, sigma 0.25'
    """
    noise = (f"Gaussian noise, sigma {cert.sigma:g}" if cert.norm == "l2"
             else f"uniform noise on [-{cert.sigma:g}, {cert.sigma:g}] per value")
    space = "standardized units (each feature / its std)" if cert.relative else "input units"
    return {"norm": cert.norm.upper(), "space": space, "noise": noise, "n": n,
            "alpha": cert.alpha}


def findings(cert: Certificates, codes: np.ndarray, labels: np.ndarray, classes: np.ndarray,
             radii: tuple[float, ...], level: float, n: int | None = None) -> list[Finding]:
    """Certified accuracy at each radius, the median certified radius, abstentions; ``n``
    (the noisy passes per input) is named in the report's words when given."""
    correct = cert.prediction == codes
    how = smoothing(cert, n)
    out = [certified_accuracy(cert.radius, correct, r, level, cert.unit, how) for r in radii]
    credited = np.where(correct, cert.radius, 0.0)
    out.append(median_finding(
        finding_name(DRILL, GROUP, "median_certified_radius"), "median_certified_radius",
        credited, level, drill=DRILL, group=GROUP, unit=cert.unit,
        details={"mean_certified_radius": float(credited.mean()), "smoothing": how},
        message="median over the inputs of the certified radius, 0 where the smoothed "
                "classifier abstains or is wrong: the radius at which certified accuracy "
                "falls to one half."))
    abstained = int(cert.abstained.sum())
    predicted = [None if c < 0 else _plain(classes[c]) for c in cert.prediction]
    out.append(proportion(
        finding_name(DRILL, GROUP, "abstention_rate"), "abstention_rate", abstained,
        len(codes), level, drill=DRILL, group=GROUP,
        message=f"the smoothed classifier abstained on {abstained} of {len(codes)} inputs "
                f"(the one-sided {1 - cert.alpha:.4g} lower bound on the top class's "
                "probability was at most 1/2).",
        details={"inputs": {"label": [_plain(v) for v in labels], "prediction": predicted,
                            "p_lower": cert.p_lower.tolist(),
                            "radius": cert.radius.tolist()},
                 "unit": cert.unit, "alpha": cert.alpha, "smoothing": how}))
    return out


def soundness_finding(check: Soundness, alpha: float, level: float, unit: str) -> Finding:
    """How many certificates the attack broke, judged against the rate ``2 alpha`` that sound
    certificates allow (a wrong certificate, or a wrongly rejected sound one).

    ``pass`` when none broke; ``fail`` when the one-sided binomial p-value of the count at
    rate ``2 alpha`` is below ``1 - level``; else ``warn``.

    >>> import numpy as np
    >>> s = Soundness(np.ones(100, bool), np.r_[np.ones(3, bool), np.zeros(97, bool)],
    ...               np.full(100, 0.4), np.full(100, 0.1))
    >>> f = soundness_finding(s, 0.001, 0.95, "l2 radius")
    >>> f.status, f.value, round(f.p_value, 5)
    ('fail', 0.03, 0.00112)
    """
    from scipy import stats

    m, broken = int(check.attacked.sum()), int(check.broken.sum())
    rate = min(1.0, 2 * alpha)
    p = float(stats.binom.sf(broken - 1, m, rate)) if m else 1.0
    status = "pass" if broken == 0 else ("fail" if p < 1 - level else "warn")
    what = {"pass": "no certificate broken",
            "warn": "within the rate sound certificates allow, but look at them",
            "fail": "more than sound certificates allow: a bug in the radius or the bound, or "
                    "a model whose outputs change with the batch it runs in"}[status]
    return proportion(
        finding_name(DRILL, "soundness", "broken_certificates"), "broken_certificates", broken,
        m, level, p_value=p, status=status, drill=DRILL, group="soundness", unit=unit,
        message=f"an attack on the smoothed classifier within each radius broke {broken} of "
                f"{m} certificates: {what}.",
        details={"broken": broken, "attacked": m, "allowed_rate": rate,
                 "broken_inputs": np.flatnonzero(check.broken).tolist(),
                 "max_distance": _max_distance(check)})


def _max_distance(check: Soundness) -> float | None:
    """The largest distance the attack moved an input (None when it attacked none)."""
    d = check.distance[check.attacked]
    return float(np.max(d)) if d.size else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
