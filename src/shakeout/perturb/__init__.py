"""Perturbations: seeded, vectorised transforms with a severity grid in documented units.

Register your own with :func:`register`; build any by name with :func:`make`.
"""

from shakeout.perturb._base import REGISTRY, Perturbation, make, register
from shakeout.perturb.categorical import CategorySwap
from shakeout.perturb.image import ImageCorruption, SaltAndPepper
from shakeout.perturb.missing import MissingValues
from shakeout.perturb.noise import GaussianNoise, Scaling, UniformNoise
from shakeout.perturb.preprocessing import (ColumnSwap, DefaultFilled, FrozenFeature, Truncation,
                                            UnitMismatch)
from shakeout.perturb.shift import FeatureShift
from shakeout.perturb.weights import ActiveDropout, WeightBitFlips, WeightNoise

__all__ = ["REGISTRY", "ActiveDropout", "CategorySwap", "ColumnSwap", "DefaultFilled",
           "FeatureShift", "FrozenFeature", "GaussianNoise", "ImageCorruption", "MissingValues",
           "Perturbation", "SaltAndPepper", "Scaling", "Truncation", "UniformNoise",
           "UnitMismatch", "WeightBitFlips", "WeightNoise", "make", "register"]
