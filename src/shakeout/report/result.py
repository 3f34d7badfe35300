"""The Result model every drill returns: a list of findings plus a manifest.

``Finding`` and ``Result`` are frozen dataclasses of plain Python values. ``to_dict`` follows
the versioned schema documented in ``docs/results-schema.md``; ``Result.from_dict`` reads it
back, so ``shakeout report results.json`` re-renders a saved run.
"""

from __future__ import annotations

import functools
import json
import math
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shakeout.errors import ValidationError

SCHEMA_VERSION = "1.1"
"""1.1: the manifest of a merged result keeps its parts' (``parts``); a gate condition names
the findings it judged (``findings``). 1.0 files read as before."""
STATUSES = ("pass", "warn", "fail", "info")
TEXT_FIELDS = ("name", "metric", "status", "drill", "subject", "group", "feature", "unit",
               "window", "effect", "message")
"""Finding fields that hold text (or None where optional) in ``results.json``."""


def _plain(value: Any) -> Any:
    """Convert numpy scalars, arrays, tuples and mappings into JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return float(value)


@dataclass(frozen=True)
class Finding:
    """One measured quantity with its uncertainty and a verdict.

    Parameters
    ----------
    name : str
        Stable identifier, unique within a result, e.g. ``"stress/gaussian_noise/accuracy_drop@0.1"``.
    metric : str
        What was measured, e.g. ``"accuracy_drop"``, ``"psi"``, ``"robust_accuracy"``.
    value : float
        The point estimate.
    ci : (float, float) or None
        Interval at ``ci_level`` (two-sided), when one exists.
    p_value : float or None
        Significance of the effect (adjusted for multiple testing when ``adjusted`` is set).
    status : {"pass", "warn", "fail", "info"}
        The drill's own verdict; gates from a plan judge separately.
    drill : str
        The pillar that produced it: ``"stress"``, ``"drift"``, ``"attack"``, ``"compare"``...
    subject : str or None
        Which model or data set it is about, when one result holds several (the demo).
    group : str or None
        What was varied or tested: a perturbation, an attack, a drift test.
    feature, severity, window : optional
        Where the finding applies: one input feature, one point of a severity grid (in
        ``unit``), one time window of a monitor.
    effect : str or None
        Effect-size label beside significance: ``"negligible"``, ``"small"``, ``"medium"``, ``"large"``.

    Examples
    --------
    >>> f = Finding(name="stress/noise/accuracy_drop@0.1", metric="accuracy_drop", value=0.04,
    ...             ci=(0.01, 0.07), p_value=0.003, status="fail", drill="stress",
    ...             group="noise", severity=0.1, unit="sigma (relative)")
    >>> f.to_dict()["ci"]
    [0.01, 0.07]
    >>> Finding.from_dict(f.to_dict()) == f
    True
    """

    name: str
    metric: str
    value: float
    ci: tuple[float, float] | None = None
    ci_level: float | None = None
    p_value: float | None = None
    status: str = "info"
    drill: str = ""
    subject: str | None = None
    group: str | None = None
    feature: str | None = None
    severity: float | None = None
    unit: str | None = None
    window: str | None = None
    effect: str | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValidationError(
                f"Finding {self.name!r}: status must be one of {STATUSES}, got {self.status!r}."
            )
        object.__setattr__(self, "value", float(self.value))
        if self.ci is not None:
            object.__setattr__(self, "ci", (float(self.ci[0]), float(self.ci[1])))
        if self.p_value is not None:
            object.__setattr__(self, "p_value", float(self.p_value))
        if self.severity is not None:
            object.__setattr__(self, "severity", float(self.severity))
        object.__setattr__(self, "details", _plain(dict(self.details)))

    def to_dict(self) -> dict[str, Any]:
        """The schema form: plain JSON values, ``inf`` as the string ``"inf"``."""
        out = {k: _plain(getattr(self, k)) for k in self.__dataclass_fields__}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Finding":
        """Read back what :meth:`to_dict` wrote; a field of the wrong type is named.

        >>> Finding.from_dict({"name": "a", "metric": "m", "value": "high"})
        Traceback (most recent call last):
        ...
        shakeout.errors.ValidationError: value must be a number, got 'high'
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a finding must be a JSON object, got {type(data).__name__}")
        for key in ("name", "metric"):
            if key not in data:
                raise ValidationError(f"missing {key!r}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key, value in known.items():
            optional = cls.__dataclass_fields__[key].default is None
            if key in TEXT_FIELDS and not (isinstance(value, str) or (optional and value is None)):
                raise ValidationError(f"{key} must be text, got {value!r}")
        for key in ("value", "p_value", "ci_level", "severity"):
            known[key] = _number(known.get(key), key)
        if known["value"] is None:
            known["value"] = math.nan
        if known.get("ci") is not None:
            ci = known["ci"]
            try:
                lo, hi = (_float_or_none(v) for v in ci)
            except (TypeError, ValueError):
                raise ValidationError(f"ci must be two numbers, got {ci!r}") from None
            known["ci"] = (lo, hi)
        details = known.get("details") or {}
        if not isinstance(details, Mapping):
            raise ValidationError(f"details must be a JSON object, got {type(details).__name__}")
        known["details"] = dict(details)
        return cls(**known)


def _number(value: Any, key: str) -> float | None:
    try:
        return _float_or_none(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{key} must be a number, got {value!r}") from None


@functools.cache  # installed versions do not change while a process runs
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Manifest:
    """What a run depended on: versions, seed, fingerprints of model and data, timings."""

    seed: int | None = None
    model: str | None = None
    model_fingerprint: str | None = None
    data: str | None = None
    data_fingerprint: str | None = None
    n_rows: int | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str | None] = field(default_factory=dict)
    created: str = ""
    torch_threads: int | None = None
    """Torch's intra-op threads when torch was loaded: float sums change order with it, so
    results repeat bit for bit at the same seed, versions and thread count."""
    parts: tuple[tuple[str, Manifest], ...] = ()
    """Of a merged result (:meth:`Result.merge`): each part's subject and manifest."""

    @classmethod
    def collect(cls, **kwargs: Any) -> "Manifest":
        """A manifest stamped with the current versions, time and, when torch is already
        loaded (it is not imported for this), its intra-op thread count.

        >>> import torch
        >>> Manifest.collect(seed=0).torch_threads == torch.get_num_threads()
        True
        """
        versions = {"python": platform.python_version()}
        for dist in ("shakeout", "numpy", "scipy", "pandas", "scikit-learn", "torch",
                     "onnxruntime", "SALib"):
            versions[dist] = _version(dist)
        kwargs.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        torch = sys.modules.get("torch")
        if torch is not None:
            kwargs.setdefault("torch_threads", torch.get_num_threads())
        kwargs["parameters"] = _plain(dict(kwargs.get("parameters", {})))
        kwargs["timings"] = {k: round(float(v), 4) for k, v in dict(kwargs.get("timings", {})).items()}
        return cls(versions=versions, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = {k: _plain(getattr(self, k)) for k in self.__dataclass_fields__ if k != "parts"}
        out["parts"] = [{"subject": s, "manifest": m.to_dict()} for s, m in self.parts]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        """Read back what :meth:`to_dict` wrote; its tables must be JSON objects.

        >>> Manifest.from_dict({"seed": 3, "timings": [1, 2]})
        Traceback (most recent call last):
        ...
        shakeout.errors.ValidationError: timings must be a JSON object, got [1, 2]
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"expected a JSON object, got {type(data).__name__}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("timings", "parameters", "versions"):
            known[key] = known.get(key) or {}
            if not isinstance(known[key], Mapping):
                raise ValidationError(f"{key} must be a JSON object, got {known[key]!r}")
        for key in ("seed", "n_rows", "torch_threads"):
            value = known.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValidationError(f"{key} must be an integer, got {value!r}")
        known["parts"] = _parts(known.get("parts") or [])
        return cls(**known)


def _parts(items: Any) -> tuple[tuple[str, Manifest], ...]:
    """The ``parts`` of a saved manifest: a list of ``{"subject", "manifest"}`` objects.

    >>> _parts([{"subject": "m1", "manifest": {"seed": 1}}])[0][1].seed
    1
    >>> _parts([{"manifest": {}}])
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: parts must be a list of objects with a 'subject' (text) \
and a 'manifest', got [{'manifest': {}}]
    """
    ok = isinstance(items, list) and all(
        isinstance(p, Mapping) and isinstance(p.get("subject"), str) and "manifest" in p
        for p in items)
    if not ok:
        raise ValidationError("parts must be a list of objects with a 'subject' (text) and a "
                              f"'manifest', got {items!r}")
    out = []
    for p in items:
        try:
            out.append((p["subject"], Manifest.from_dict(p["manifest"])))
        except ValidationError as exc:
            raise ValidationError(f"part {p['subject']!r}: {exc}") from None
    return tuple(out)


@dataclass(frozen=True)
class Result:
    """Findings of one or more drills plus the manifest of the run.

    Examples
    --------
    >>> r = Result(title="demo", findings=(Finding(name="a", metric="m", value=1.0),))
    >>> Result.from_dict(json.loads(json.dumps(r.to_dict()))).findings == r.findings
    True
    """

    title: str
    findings: tuple[Finding, ...] = ()
    manifest: Manifest = field(default_factory=Manifest)
    schema_version: str = SCHEMA_VERSION
    """The schema of the file it was read from; :meth:`to_dict` writes the current one."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))

    @property
    def status(self) -> str:
        """The worst status among findings: fail > warn > pass > info."""
        order = ("fail", "warn", "pass", "info")
        statuses = {f.status for f in self.findings}
        return next((s for s in order if s in statuses), "info")

    def select(self, **criteria: Any) -> list[Finding]:
        """Findings matching every given field: ``drill``, ``subject``, ``group``, ``metric``,
        ``feature``, ``severity`` (up to rounding) or ``window``, as
        :func:`shakeout.report.findings.matches` (and gates) match them.

        >>> r = Result(title="t", findings=tuple(
        ...     Finding(name=f"a@{s:g}", metric="m", value=s, severity=s) for s in (0.1, 0.3)))
        >>> [f.name for f in r.select(metric="m", severity=0.1 + 0.2)]
        ['a@0.3']
        """
        from shakeout.report.findings import matches  # it builds on this module

        return [f for f in self.findings if matches(f, **criteria)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "title": self.title,
            "status": self.status,
            "manifest": self.manifest.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "results") -> "Result":
        """Read back what :meth:`to_dict` wrote; anything else is named, with its place.

        >>> Result.from_dict({"schema_version": "1.0", "findings": [{"name": "a"}]})
        Traceback (most recent call last):
        ...
        shakeout.errors.ValidationError: results: finding 0 ('a'): missing 'metric'. ...
        """
        fix = "Pass a results.json written by shakeout, or correct that field."
        if not isinstance(data, Mapping):
            raise ValidationError(
                f"{source}: not a shakeout results file: expected a JSON object with "
                f"schema_version and findings, got {type(data).__name__}. {fix}"
            )
        for key in ("schema_version", "findings"):
            if key not in data:
                raise ValidationError(f"{source}: not a shakeout results file: missing {key!r}. "
                                      f"{fix}")
        version = str(data["schema_version"])
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ValidationError(
                f"results schema {version} is not readable by this shakeout "
                f"(schema {SCHEMA_VERSION}); re-run the drill with this version."
            )
        items = data["findings"]
        if not isinstance(items, list):
            raise ValidationError(f"{source}: findings must be a list, got "
                                  f"{type(items).__name__}. {fix}")
        findings = []
        for i, item in enumerate(items):
            try:
                findings.append(Finding.from_dict(item))
            except ValidationError as exc:
                name = f" ({item.get('name')!r})" if isinstance(item, Mapping) else ""
                raise ValidationError(f"{source}: finding {i}{name}: {exc}. {fix}") from None
        try:
            manifest = Manifest.from_dict(data.get("manifest") or {})
        except ValidationError as exc:
            raise ValidationError(f"{source}: manifest: {exc}. {fix}") from None
        return cls(title=str(data.get("title", "")), findings=tuple(findings), manifest=manifest,
                   schema_version=version)

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        """Read a ``results.json``."""
        return cls.from_dict(read_results(path), source=repr(str(path)))

    @staticmethod
    def merge(title: str, parts: Sequence[tuple[str, "Result"]],
              manifest: Manifest | None = None) -> "Result":
        """One result holding several, each finding tagged with the subject it is about.

        ``parts`` pairs a subject (a model or data set) with a result; names are prefixed
        with the subject so they stay unique. The merged manifest is ``manifest`` (None: the
        first part's) and keeps every part's manifest, with its subject, in ``parts``.

        >>> a = Result(title="a", findings=(Finding(name="x", metric="m", value=1.0),),
        ...            manifest=Manifest(seed=7))
        >>> merged = Result.merge("both", [("m1", a), ("m2", a)])
        >>> merged.findings[1].name, [(s, m.seed) for s, m in merged.manifest.parts]
        ('m2/x', [('m1', 7), ('m2', 7)])
        """
        findings = tuple(replace(f, subject=f.subject or subject, name=f"{subject}/{f.name}")
                         for subject, r in parts for f in r.findings)
        if manifest is None:
            manifest = parts[0][1].manifest if parts else Manifest()
        return Result(title=title, findings=findings, manifest=replace(
            manifest, parts=tuple((subject, r.manifest) for subject, r in parts)))


def read_results(path: str | Path) -> Any:
    """The parsed JSON of a ``results.json`` (what :meth:`Result.load` reads; the saved gate
    verdict sits beside the findings), or a one-line error saying why it cannot be read.

    >>> read_results("no/such/results.json")
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: results file 'no/such/results.json' does not exist.
    """
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValidationError(f"results file {str(path)!r} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{str(path)!r} is not valid JSON ({exc}).") from None
    except OSError as exc:
        raise ValidationError(
            f"results file {str(path)!r} cannot be read ({exc.strerror}); pass the path of "
            "a results.json file."
        ) from None
