"""Known stress truths: a threshold classifier under input noise and under a model-side draw.

Rows: x ~ Uniform(0, 1), label 1 when x > 0.5, flipped with chance ``LABEL_NOISE`` (so
the clean accuracy is 0.97). The model predicts 1 when x > 0.5.

- Input noise of sd sigma on x: a row keeps its side with chance Phi(|x - 0.5| / sigma),
  so E[accuracy] = 0.97 q + 0.03 (1 - q), q = E Phi(|x - 0.5| / sigma).
- Model-side draw: one threshold t = 0.5 + s Z per draw, shared by every row; a row is
  moved when x lies between 0.5 and t, so E[accuracy] = 0.97 - 0.94 E min(|s Z|, 0.5).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from shakeout import wrap
from shakeout.perturb import Perturbation

LABEL_NOISE = 0.03


def data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.random(n)
    y = ((x > 0.5) ^ (rng.random(n) < LABEL_NOISE)).astype(int)
    return x[:, None], y


def threshold_model(t: float = 0.5):
    def proba(X):
        p = (np.asarray(X)[:, 0] > t).astype(float) * 0.8 + 0.1
        return np.column_stack([1 - p, p])
    return wrap(proba, task="classification")


def input_noise_accuracy(sigma: float) -> float:
    """E[accuracy] under Gaussian noise of sd ``sigma`` on x."""
    moved = 2 * integrate.quad(lambda u: stats.norm.sf(u / sigma), 0, 0.5)[0]
    keep = 1 - moved
    return (1 - LABEL_NOISE) * keep + LABEL_NOISE * (1 - keep)


def model_side_accuracy(s: float) -> float:
    """E[accuracy] when the threshold moves by ``s Z`` (one draw for all rows)."""
    moved = integrate.quad(lambda z: min(abs(s * z), 0.5) * stats.norm.pdf(z), -12, 12)[0]
    return (1 - LABEL_NOISE) - (1 - 2 * LABEL_NOISE) * moved


class ThresholdShift(Perturbation):
    """Model-side: the threshold moves by ``severity x Normal(0, 1)``, one draw for all rows."""

    name = "threshold_shift_test"
    unit = "threshold sd"
    kind = "model"

    def fit(self, X=None):
        self.fitted_ = True
        return self

    def apply(self, model, severity, rng=None, *, seed=None):
        rng = np.random.default_rng(rng if rng is not None else seed)
        return threshold_model(0.5 + severity * rng.standard_normal())
