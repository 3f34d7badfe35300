"""The default drill: which perturbations suit the data and model at hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shakeout.data.dataset import is_numeric_column
from shakeout.models._base import Model
from shakeout.perturb import (ActiveDropout, CategorySwap, FeatureShift, GaussianNoise,
                              ImageCorruption, MissingValues, SaltAndPepper, Scaling, WeightNoise)
from shakeout.perturb.image import CORRUPTIONS, valid_range
from shakeout.stress.sweep import Sweep


def is_image_batch(X: Any) -> bool:
    """Arrays with two or more dimensions after the rows are treated as images."""
    return not isinstance(X, pd.DataFrame) and np.ndim(X) in (3, 4)


def default_sweeps(model: Model, X: Any) -> list[Sweep]:
    """Perturbations that make sense for this data and model, on their default grids.

    Tables get Gaussian noise, multiplicative scaling, a feature-range shift, missing values
    (MCAR, mean-imputed) and, with categorical columns, category swaps. Images get
    absolute pixel noise, salt-and-pepper and the six common corruptions at levels 1-5, all
    clipped to the images' valid range inferred from ``X`` (``perturb.image.valid_range``:
    [0, 1], [0, 255]...), which the perturbations' descriptions state. Torch
    models also get weight noise, and active dropout when they have dropout layers.

    >>> from shakeout.models import wrap
    >>> m = wrap(lambda X: np.tile([0.5, 0.5], (len(X), 1)), task="classification")
    >>> [s.label for s in default_sweeps(m, np.zeros((4, 3)))]
    ['gaussian_noise', 'scaling', 'feature_shift', 'missing_values']
    >>> [s.label for s in default_sweeps(m, np.full((4, 1, 8, 8), 0.5))][:4]
    ['pixel_noise', 'salt_and_pepper', 'corruption_gaussian_noise', 'blur']
    """
    if is_image_batch(X):
        low, high = valid_range(np.asarray(X, dtype=np.float64))
        sweeps = [
            Sweep(GaussianNoise(relative=False, clip=(low, high)),
                  tuple((high - low) * s for s in (0.0, 0.05, 0.1, 0.2, 0.3)), "pixel_noise"),
            Sweep(SaltAndPepper(), SaltAndPepper.default_severities),
        ] + [Sweep(ImageCorruption(corruption=c), ImageCorruption.default_severities, c)
           for c in CORRUPTIONS]
    else:
        sweeps = [Sweep(GaussianNoise(), GaussianNoise.default_severities),
                  Sweep(Scaling(), Scaling.default_severities),
                  Sweep(FeatureShift(), FeatureShift.default_severities),
                  Sweep(MissingValues(), MissingValues.default_severities)]
        if isinstance(X, pd.DataFrame) and any(not is_numeric_column(X[c]) for c in X.columns):
            sweeps.append(Sweep(CategorySwap(), CategorySwap.default_severities))
    module = model.capabilities.module
    if module is not None:
        sweeps.append(Sweep(WeightNoise(), WeightNoise.default_severities))
        import torch

        if any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in module.modules()):
            sweeps.append(Sweep(ActiveDropout(), ActiveDropout.default_severities))
    return sweeps
