"""Model-side perturbations of torch models: noisy weights, bit errors in the stored weights,
dropout kept on at inference.

These perturb the model rather than its inputs (``kind = "model"``): ``apply(model,
severity, rng)`` returns a new wrapped model and leaves the original untouched.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from shakeout._validation import Seed, as_generator, check_number
from shakeout.errors import ValidationError
from shakeout.models import wrap
from shakeout.models._base import Model
from shakeout.models.runtime import torch_generator, with_module
from shakeout.perturb._base import Perturbation, register
from shakeout.perturb.bits import BIT_WIDTH, flip_at


def _torch_model(owner: Perturbation, model: Any) -> Any:
    model = wrap(model)
    if model.capabilities.module is None:
        raise ValidationError(
            f"{type(owner).__name__} perturbs the weights of a torch model; got {model.name}, "
            "which is not a torch module."
        )
    return model


class _ModelPerturbation(Perturbation):
    kind = "model"

    def fit(self, X: Any = None) -> "_ModelPerturbation":
        """Nothing to learn from data: the scale comes from the model itself."""
        self.fitted_ = True
        return self

    def apply(self, model: Any, severity: float, rng: Seed = None, *,
              seed: Seed = None) -> Model:
        """A perturbed copy of ``model`` (severity 0 returns it unchanged)."""
        check_number(self, "severity", severity, 0.0, self.max_severity)
        wrapped = _torch_model(self, model)
        if severity == 0:
            return wrapped
        return self._perturb(wrapped, severity, as_generator(rng if rng is not None else seed))

    def _perturb(self, model: Any, severity: float,
                 rng: np.random.Generator) -> Model:  # pragma: no cover - abstract
        raise NotImplementedError


@register
class WeightNoise(_ModelPerturbation):
    """Add Gaussian noise to every floating-point parameter, relative to that tensor's scale.

    Each tensor ``W`` becomes ``W + severity x std(W) x Normal(0, 1)`` (for a tensor of one
    element, ``|W|`` is the scale). Models analog hardware noise, low-precision storage and
    the flatness of the solution.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(100, 50)
    >>> noisy = WeightNoise().apply(net, 0.1, seed=0)
    >>> delta = (noisy.module.weight - net.weight).detach().std() / net.weight.detach().std()
    >>> round(float(delta), 1)
    0.1
    """

    name = "weight_noise"
    unit = "sigma (x each tensor's std)"
    default_severities = (0.0, 0.01, 0.02, 0.05, 0.1)

    def _perturb(self, model: Any, severity: float, rng: np.random.Generator) -> Model:
        import torch

        module = copy.deepcopy(model.capabilities.module)
        gen = torch_generator(rng)
        with torch.no_grad():
            for param in module.parameters():
                if not param.is_floating_point():
                    continue
                scale = param.std() if param.numel() > 1 else param.abs().reshape(())
                noise = torch.randn(param.shape, generator=gen, dtype=param.dtype)
                param.add_(severity * scale * noise.to(param.device))
        return with_module(model, module)


@register
class WeightBitFlips(_ModelPerturbation):
    """Flip each stored bit of every floating-point parameter independently with probability
    ``severity``: the bit error rate of the memory holding the weights.

    Models soft errors and undervolted or worn memory, the bit-error-rate sweep of Reagen et
    al. 2018 ("Ares: a framework for quantifying the resilience of deep neural networks",
    DAC). For each tensor of ``n`` elements of ``w`` bits the number of flips is drawn as
    ``K ~ Binomial(n w, severity)`` and the ``K`` positions uniformly without replacement, which
    is the same law as one Bernoulli draw per bit at the cost of ``K`` draws. Severity is capped
    at 0.01 (1% of the bits, far past the point where a network answers at random), below
    which drawing the positions costs O(K) and not O(n w).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(100, 50)
    >>> flipped = WeightBitFlips().apply(net, 1e-3, seed=0).module
    >>> before = net.weight.detach().numpy().view(np.uint32)
    >>> after = flipped.weight.detach().numpy().view(np.uint32)
    >>> int(np.unpackbits((before ^ after).view(np.uint8)).sum())   # 5,000 x 32 x 1e-3 = 160 expected
    141
    """

    name = "weight_bit_flips"
    unit = "bit error rate (probability each stored weight bit flips)"
    default_severities = (0.0, 1e-7, 1e-6, 1e-5, 1e-4)
    max_severity = 0.01

    def _perturb(self, model: Any, severity: float, rng: np.random.Generator) -> Model:
        import torch

        module = copy.deepcopy(model.capabilities.module)
        with torch.no_grad():
            for param in module.parameters():
                width = BIT_WIDTH.get(str(param.dtype).removeprefix("torch."))
                if width is None or not param.is_floating_point():
                    continue
                total = param.numel() * width
                count = int(rng.binomial(total, severity))
                if count:
                    param.copy_(flip_at(param.detach(), rng.choice(total, count, replace=False)))
        return with_module(model, module)


@register
class ActiveDropout(_ModelPerturbation):
    """Keep the model's dropout layers on at inference, with drop probability ``severity``.

    Every ``nn.Dropout`` module drops activations with probability ``severity`` (replacing
    its trained rate) using shakeout's own seeded generator, so results are reproducible;
    the model's other layers (batch norm) stay in evaluation mode. A model without dropout
    layers is an error.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.1),
    ...                           torch.nn.Linear(8, 2))
    >>> m = ActiveDropout().apply(net, 0.5, seed=0)
    >>> x = np.ones((3, 4), dtype=np.float32)
    >>> bool(np.allclose(m.predict_proba(x), m.predict_proba(x)))
    False
    """

    name = "active_dropout"
    unit = "drop probability"
    default_severities = (0.0, 0.1, 0.2, 0.3, 0.5)
    max_severity = 0.95

    def _perturb(self, model: Any, severity: float, rng: np.random.Generator) -> Model:
        import torch

        module = copy.deepcopy(model.capabilities.module)
        layers = [m for m in module.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
        if not layers:
            raise ValidationError(
                f"ActiveDropout: {model.name} has no dropout layers to keep active; use "
                "weight_noise for a model-side perturbation instead."
            )
        gen = torch_generator(rng)

        def drop(_module: Any, _inputs: Any, output: Any) -> Any:
            keep = torch.rand(output.shape, generator=gen) >= severity
            return output * keep.to(output.device, output.dtype) / (1.0 - severity)

        for layer in layers:
            layer.register_forward_hook(drop)
        return with_module(model, module)
