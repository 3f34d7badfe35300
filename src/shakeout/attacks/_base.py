"""What every attack shares: the threat model, the ``apply`` verb, batching, the registry.

An attack is a noun named after its method (``PGD``, ``SquareAttack``). Its constructor
stores and checks the threat model (``eps`` in ``norm``, ``bounds``, ``constraints``) and the
method's own settings; ``apply(model, X, y, *, seed)`` returns adversarial examples shaped
like ``X``. ``apply`` is the verb shakeout uses for every transform of inputs (noise, faults,
attacks), so an attack reads like any other perturbation that happens to look at the model.

Two kinds of attack:

- budgeted attacks (``minimal = False``) search the ``eps`` ball for a point the model gets
  wrong;
- minimal-perturbation attacks (``minimal = True``: DeepFool, Carlini-Wagner, EAD, JSMA,
  HopSkipJump) look for the *smallest* change that fools the model. With ``eps=None`` they
  return it whatever its size; with ``eps`` set, a row whose smallest change found is larger
  than ``eps`` is returned unchanged.

Whatever an attack computes, ``apply`` ends with :meth:`Domain.project`, so no attack returns
a point outside its budget or the valid range.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from shakeout._validation import Seed, as_generator, check_choice, check_number, check_positive_int
from shakeout.attacks._inputs import Inputs
from shakeout.attacks.threat import (NORMS, Constraints, Domain, check_bounds,
                                     perturbation_norm)
from shakeout.errors import GradientUnavailableError, ValidationError
from shakeout.models import Model, wrap

# Attacks by the names plans and the CLI use: module, class and preset parameters. Modules
# load on first use, so naming a black-box attack never imports torch.
CATALOG: dict[str, tuple[str, str, dict[str, Any]]] = {
    "fgsm": ("fgsm", "FGSM", {}),
    "pgd": ("pgd", "PGD", {}),
    "bim": ("pgd", "BIM", {}),
    "apgd-ce": ("apgd", "APGD", {"loss": "ce"}),
    "apgd-dlr": ("apgd", "APGD", {"loss": "dlr"}),
    "cw": ("cw", "CarliniWagner", {}),
    "deepfool": ("deepfool", "DeepFool", {}),
    "jsma": ("jsma", "JSMA", {}),
    "ead": ("ead", "EAD", {}),
    "square": ("square", "SquareAttack", {}),
    "hopskipjump": ("hopskipjump", "HopSkipJump", {}),
    "transfer": ("transfer", "TransferAttack", {}),
}

# The threat model: the drill sets it for every attack it runs.
THREAT = ("eps", "norm", "bounds", "constraints")


class Attack:
    """Base class of every evasion attack.

    Subclasses set ``slug``, ``norms`` (the norms they support), ``minimal``, ``white_box``
    and ``paper``, and implement ``_perturb_batch``. ``kind`` is ``"adversarial"``: the
    transform searches for the worst input instead of drawing one (perturbations are
    ``"input"`` or ``"model"``).
    """

    kind: ClassVar[str] = "adversarial"
    slug: ClassVar[str] = ""
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")
    minimal: ClassVar[bool] = False
    white_box: ClassVar[bool] = True
    paper: ClassVar[str] = ""

    eps: float | None
    norm: str
    bounds: Any
    constraints: Constraints | None
    batch_size: int

    def _threat(self, *, eps: float | None, norm: str, bounds: Any,
                constraints: Constraints | None, batch_size: int) -> None:
        """Store and check the threat-model parameters every attack shares."""
        self.norm = check_choice(self, "norm", norm, self.norms)
        if eps is None and not self.minimal:
            raise ValidationError(
                f"{type(self).__name__}: eps is required (the budget in {norm}, in the model's "
                "input space), e.g. eps=8/255 for images in [0, 1]."
            )
        self.eps = None if eps is None else check_number(self, "eps", eps, 0)
        if self.norm == "l0" and self.eps is not None:
            self.eps = check_number(self, "eps", eps, 0, integer=True)
        check_bounds(type(self).__name__, bounds)
        self.bounds = bounds
        if constraints is not None and not isinstance(constraints, Constraints):
            raise ValidationError(
                f"{type(self).__name__}: constraints must be a shakeout.attacks.Constraints, "
                f"got {type(constraints).__name__}."
            )
        self.constraints = constraints
        self.batch_size = check_positive_int(self, "batch_size", batch_size)

    @property
    def name(self) -> str:
        """The label findings carry, e.g. ``"pgd-linf"``."""
        return f"{self.slug}-{self.norm}"

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters as stored."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}

    def replace(self, **changes: Any) -> "Attack":
        """A new attack with some parameters changed (checked again); learned state is kept.

        >>> from shakeout.attacks import SquareAttack
        >>> SquareAttack(eps=0.1).replace(eps=0.3).eps
        0.3
        """
        new = type(self)(**{**self.get_params(), **changes})
        for key, value in vars(self).items():
            if key.endswith("_"):
                setattr(new, key, value)
        return new

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({inner})"

    # -- the verb -------------------------------------------------------------------------

    def apply(self, model: Any, X: Any, y: Any, *, target_classes: Any = None,
              seed: Seed = None) -> Any:
        """Adversarial examples for ``X``: an array (or DataFrame) shaped like ``X``.

        Parameters
        ----------
        model : Model or anything :func:`shakeout.wrap` accepts
            A classifier. White-box attacks need a torch model.
        X : array of shape ``(n, ...)`` or DataFrame
            Clean inputs inside ``bounds``.
        y : array of shape ``(n,)``
            True labels: the attack tries to make the prediction differ from them.
        target_classes : array of shape ``(n,)`` or None
            The class each row should be pushed into (a targeted attack), another than its
            label; ``None`` for untargeted.
        seed : int, numpy Generator or None
            Every random draw comes from it: the same seed gives the same examples.

        Rows the model already gets wrong (or, targeted, already puts in their target class)
        are returned unchanged, so an attack never turns a wrong answer into a right one.
        """
        model = self._model(model)
        inputs = Inputs(X)
        x = inputs.array
        labels = self._labels(model, y, len(x), "y")
        goal = None if target_classes is None else self._labels(model, target_classes, len(x),
                                                                 "target_classes")
        if goal is not None and np.any(goal == labels):
            raise ValidationError(
                f"{type(self).__name__}: target_classes must differ from y, but the targets "
                f"equal the true label at {int(np.sum(goal == labels))} rows; a target must be "
                "another class."
            )
        domain = Domain(x.shape[1:], bounds=self.bounds, constraints=self.constraints,
                        names=inputs.names, integer_columns=inputs.integer_columns,
                        owner=type(self).__name__)
        domain.check(x)
        rng = as_generator(seed)
        out = x.copy()
        with self._session(model, inputs, domain, rng) as run_batch:
            for start in range(0, len(x), self.batch_size):
                rows = np.arange(start, min(start + self.batch_size, len(x)))
                pred = model.predict_proba(inputs.to_model(x[rows], rows)).argmax(axis=1)
                todo = rows[pred == labels[rows] if goal is None else pred != goal[rows]]
                if todo.size:
                    out[todo] = run_batch(todo, x[todo], labels[todo],
                                          None if goal is None else goal[todo])
        out = self._within_budget(out, x)
        return inputs.restore(domain.project(out, x, self.norm, self.eps))

    def _within_budget(self, x_adv: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Minimal attacks with an ``eps``: rows whose change is larger go back to ``x``."""
        if not (self.minimal and self.eps is not None):
            return x_adv
        size = perturbation_norm(x_adv, x, norm=self.norm)
        keep = size <= self.eps * (1 + 1e-9)
        return np.where(keep.reshape((-1,) + (1,) * (x.ndim - 1)), x_adv, x)

    def _model(self, model: Any) -> Model:
        model = wrap(model)
        if model.task != "classification":
            raise ValidationError(
                f"{type(self).__name__}: evasion attacks need a classifier; {model.name} is a "
                "regressor. Measure a regressor's sensitivity with shakeout.stress."
            )
        if self.white_box and not model.capabilities.gradients:
            raise GradientUnavailableError(
                f"{type(self).__name__} is a white-box attack and needs gradients, but "
                f"{model.name} has none (it is not a torch module). Use a black-box attack "
                "from shakeout.attacks instead: SquareAttack (needs scores), HopSkipJump (needs "
                "labels only) or TransferAttack (attacks a surrogate); or wrap a differentiable "
                "torch version of the model."
            )
        return model

    def _labels(self, model: Model, y: Any, n: int, what: str) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValidationError(
                f"{type(self).__name__}: {what} must be one label per row of X ({n}), got "
                f"shape {y.shape}."
            )
        return model.encode_labels(y)

    @contextmanager
    def _session(self, model: Model, inputs: Inputs, domain: Domain,
                 rng: np.random.Generator) -> Iterator[Callable[..., np.ndarray]]:
        """Black-box default: each batch gets a query function returning log-probabilities.

        ``run_batch(rows, x, y, t)`` attacks rows ``rows`` of ``X``; ``query(arr, i)`` asks
        the model about candidates ``arr``, candidate ``j`` derived from ``x[i[j]]``.
        """

        def run_batch(offset: np.ndarray, x: np.ndarray, y: np.ndarray,
                      t: np.ndarray | None) -> np.ndarray:
            def query(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
                proba = model.predict_proba(inputs.to_model(arr.reshape(len(arr), *x.shape[1:]),
                                                            offset[rows]))
                return np.log(np.clip(proba, 1e-30, None))

            return self._perturb_batch(query, x, y, t, domain, rng)

        yield run_batch

    def _perturb_batch(self, query: Any, x: Any, y: Any, t: Any, domain: Domain,
                       rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class GradientAttack(Attack):
    """White-box attacks: each batch runs in torch on the model's device."""

    white_box: ClassVar[bool] = True

    @contextmanager
    def _session(self, model: Model, inputs: Inputs, domain: Domain,
                 rng: np.random.Generator) -> Iterator[Callable[..., np.ndarray]]:
        import torch

        from shakeout.attacks.kernel import session

        with session(model, domain, rng) as kernel:

            def run_batch(rows: np.ndarray, x: np.ndarray, y: np.ndarray,
                          t: np.ndarray | None) -> np.ndarray:
                xt = torch.as_tensor(x, dtype=torch.float32, device=kernel.device)
                yt = torch.as_tensor(y, device=kernel.device)
                tt = None if t is None else torch.as_tensor(t, device=kernel.device)
                out = self._perturb_batch(kernel, xt, yt, tt, domain, rng)
                return out.detach().cpu().numpy().astype(x.dtype, copy=False)

            yield run_batch


def check_steps(owner: Any, steps: int) -> int:
    """Iterations of an attack: a positive integer."""
    return check_positive_int(owner, "steps", steps)


def load(module: str) -> Any:
    """Import ``shakeout.attacks.<module>``; a missing torch says how to install it."""
    try:
        return importlib.import_module(f"shakeout.attacks.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == "torch":
            from shakeout.models.torch import import_torch

            import_torch()
        raise


def attack_class(name: str) -> tuple[type[Attack], dict[str, Any]]:
    """The class and preset parameters of a catalogued attack name."""
    if name not in CATALOG:
        raise ValidationError(f"unknown attack {name!r}; known: {', '.join(CATALOG)}.")
    module, cls_name, preset = CATALOG[name]
    return getattr(load(module), cls_name), dict(preset)


def make(name: str, **params: Any) -> Attack:
    """Build an attack by its catalogued name with its keyword parameters.

    ``norm`` is checked against the norms the attack measures; an attack that measures one
    only (``cw``, ``ead``, ``jsma``) takes no ``norm`` and ignores a matching one, so one set
    of threat-model settings builds every attack of an ensemble. Any other parameter the
    attack does not take is refused with the list of those it takes.

    >>> make("square", eps=0.1, steps=50).name
    'square-linf'
    >>> make("square", eps=0.1, queries=50)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValidationError: attack 'square': unknown parameter(s) queries; SquareAttack takes eps, ...
    """
    cls, preset = attack_class(name)
    takes = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    norm = params.get("norm")
    if norm is not None and norm not in cls.norms:
        raise ValidationError(
            f"attack {name!r} measures {' or '.join(cls.norms)}, not {norm!r}; choose another "
            "norm or another attack."
        )
    if "norm" not in takes:
        params.pop("norm", None)
    unknown = sorted(set(params) - set(takes))
    if unknown:
        raise ValidationError(
            f"attack {name!r}: unknown parameter(s) {', '.join(unknown)}; {cls.__name__} takes "
            f"{', '.join(takes)}."
        )
    for key, value in preset.items():
        if key in params and params[key] != value:
            raise ValidationError(
                f"attack {name!r} means {key}={value!r}, got {key}={params[key]!r}; name the "
                f"attack that uses another {key} (known: {', '.join(CATALOG)})."
            )
    return cls(**{**params, **preset})


def drill_attack(name: str, eps: float, norm: str, threat: Mapping[str, Any],
                 settings: Mapping[str, Any]) -> Attack:
    """Attack ``name`` as a drill runs it: budget ``eps`` (none for a minimal-perturbation
    attack, which reports the smallest change it finds), the drill's ``norm`` and ``threat``
    (``bounds``, ``constraints``, ``batch_size``), then the attack's own ``settings``.

    >>> drill_attack("hopskipjump", 0.1, "l2", {"bounds": None}, {"steps": 5})
    HopSkipJump(eps=None, norm='l2', steps=5, init_evals=100, max_evals=1000, gamma=1.0, \
init_tries=100, bounds=None, constraints=None, batch_size=256)
    """
    cls, _ = attack_class(name)
    return make(name, **{"eps": None if cls.minimal else eps, "norm": norm, **threat,
                         **settings})


def check_params(owner: str, params: Mapping[str, Any] | None,
                 names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-attack settings by catalogued name (``{"square": {"steps": 500}}``), each name one
    of ``names`` (the attacks that run) and none setting the threat model, which is the
    drill's.

    >>> check_params("attacks.run", {"square": {"steps": 500}}, ["square", "transfer"])
    {'square': {'steps': 500}}
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValidationError(
            f"{owner}: params must map attack names to their settings, e.g. "
            f"{{'square': {{'steps': 500}}}}, got {type(params).__name__}."
        )
    out = {}
    for name, settings in params.items():
        if name not in names:
            raise ValidationError(
                f"{owner}: params names {name!r}, an attack this run does not use (it runs "
                f"{', '.join(names)}); remove it, or add {name!r} to the attacks."
            )
        if not isinstance(settings, Mapping):
            raise ValidationError(
                f"{owner}: params[{name!r}] must map parameter names to values, e.g. "
                f"{{'steps': 500}}, got {settings!r}."
            )
        drill = sorted(set(settings) & set(THREAT))
        if drill:
            raise ValidationError(
                f"{owner}: params[{name!r}] sets {', '.join(drill)}, which every attack of the "
                "run shares; set the drill's eps, norm, bounds or constraints instead."
            )
        out[name] = dict(settings)
    return out


__all__ = ["CATALOG", "NORMS", "THREAT", "Attack", "GradientAttack", "attack_class",
           "check_params", "check_steps", "drill_attack", "load", "make"]
