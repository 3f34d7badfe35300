"""Uncertainty scores of a classifier: from its probabilities, from MC dropout, from an ensemble.

A score from probabilities works on any classifier (``predict_proba``). MC dropout
(Gal & Ghahramani 2016, "Dropout as a Bayesian approximation", ICML) and deep ensembles
(Lakshminarayanan, Pritzel & Blundell 2017, "Simple and scalable predictive uncertainty
estimation using deep ensembles", NeurIPS) average several predictive distributions; their
total entropy splits into the expected entropy of the members (aleatoric: noise in the
labels) and the mutual information between the prediction and the member (epistemic: what
more data would fix), as in Depeweg et al. (2018), "Decomposition of uncertainty in Bayesian
deep learning", ICML, and the BALD score of Houlsby et al. (2011).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shakeout._cores import in_parallel
from shakeout._validation import Seed, check_choice, check_positive_int
from shakeout.errors import ValidationError
from shakeout.uncertainty._inputs import TOLERANCE, as_probabilities, classifier
from shakeout.uncertainty._rowwise import blocks, columns, neg_plogp_sum, top_two


def max_probability(proba: Any) -> np.ndarray:
    """The top class's probability per row: a confidence (higher is surer).

    >>> max_probability([[0.1, 0.7, 0.2]]).tolist()
    [0.7]
    """
    return _checked(proba, lambda cols: np.max(cols, axis=0))


def margin(proba: Any) -> np.ndarray:
    """The gap between the top two probabilities per row: a confidence (higher is surer).

    >>> margin([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0]]).round(2).tolist()
    [0.5, 0.0]
    """
    return _checked(proba, _top_gap)


def _top_gap(cols: np.ndarray) -> np.ndarray:
    first, second = top_two(cols)
    return np.subtract(first, second, out=first)


def entropy(proba: Any) -> np.ndarray:
    """Predictive entropy per row in nats, ``-sum p log p``: an uncertainty (higher is less
    sure), 0 for a one-hot row, ``log k`` for a uniform one; equals ``scipy.stats.entropy``.

    >>> entropy([[0.5, 0.5], [1.0, 0.0]]).round(4).tolist()
    [0.6931, 0.0]
    """
    return _checked(proba, neg_plogp_sum)


def _entropy(p: np.ndarray) -> np.ndarray:
    return _per_row(p, neg_plogp_sum)


def _per_row(p: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``kernel`` of each block's columns ``(k, rows)``: one value per row of ``p``."""
    out = np.empty(len(p))

    def score(rows: slice) -> None:
        out[rows] = kernel(columns(p[rows]))

    in_parallel(list(blocks(len(p))), score)
    return out


def _checked(proba: Any, kernel: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """:func:`_per_row` of probabilities checked as :func:`as_probabilities` checks them, but
    block by block on the columns already in the cache instead of three more passes over the
    whole array; a block that fails goes to :func:`as_probabilities`, which says why (or,
    where its own rounding of a row's sum passes, clips the array the same way)."""
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        p = None
    if p is None or p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        p = as_probabilities(proba)  # raises the message for a wrong type or shape
    out = np.empty(len(p))

    def score(rows: slice) -> None:
        cols = columns(p[rows])
        sums = np.add.reduce(cols, axis=0)
        low, high = cols.min(), cols.max()
        if not (np.isfinite(sums).all() and low >= -TOLERANCE
                and np.abs(sums - 1).max() <= TOLERANCE):
            cols = columns(as_probabilities(p)[rows])  # names the whole array's bad row
        elif low < 0 or high > 1:
            np.clip(cols, 0.0, 1.0, out=cols)
        out[rows] = kernel(cols)

    in_parallel(list(blocks(len(p))), score)  # blocks are independent: same numbers on any cores
    return out


SCORES: dict[str, Callable[[Any], np.ndarray]] = {
    "max_probability": max_probability,
    "margin": margin,
    "entropy": lambda proba: -entropy(proba),
}
"""Confidence scores by name, each higher for a surer answer (``entropy`` is negated)."""


def confidence(proba: Any, score: str = "max_probability") -> np.ndarray:
    """The named confidence score of each row, higher for a surer answer: the probability of
    the top class, the top-two margin, or the negated entropy.

    >>> confidence([[0.5, 0.5], [0.9, 0.1]], "entropy").round(4).tolist()
    [-0.6931, -0.3251]
    """
    check_choice("confidence", "score", score, SCORES)
    return SCORES[score](proba)


@dataclass(frozen=True)
class Decomposition:
    """The average of several predictive distributions and its uncertainty, split.

    Attributes
    ----------
    proba : numpy.ndarray of shape ``(n, k)``
        The mean probabilities (the prediction to use).
    total : numpy.ndarray of shape ``(n,)``
        Entropy of the mean, in nats: ``aleatoric + epistemic``.
    aleatoric : numpy.ndarray of shape ``(n,)``
        The members' mean entropy (expected entropy).
    epistemic : numpy.ndarray of shape ``(n,)``
        Mutual information between prediction and member, ``total - aleatoric`` (>= 0): how
        much the members disagree.
    """

    proba: np.ndarray
    total: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray

    @classmethod
    def of(cls, mean: np.ndarray, expected_entropy: np.ndarray) -> Decomposition:
        """From the mean probabilities and the members' mean entropy.

        >>> d = Decomposition.of(np.array([[0.5, 0.5]]), np.array([0.0]))
        >>> round(float(d.total[0]), 4), round(float(d.epistemic[0]), 4)
        (0.6931, 0.6931)
        """
        total = _entropy(mean)
        # Jensen: the entropy of the mean is at least the mean entropy; clip rounding below 0
        return cls(proba=mean, total=total, aleatoric=expected_entropy,
                   epistemic=np.maximum(total - expected_entropy, 0.0))


def mc_dropout(model: Any, X: Any, *, n: int = 50, batch_size: int = 4096,
               seed: Seed = None) -> Decomposition:
    """MC dropout: ``n`` forward passes per input with the dropout layers active.

    The passes run batched through :func:`shakeout.models.runtime.repeat_proba` (``batch_size``
    rows at a time); batch-norm layers stay in eval mode and keep their running statistics.

    Parameters
    ----------
    model : torch module or Model
        A torch classifier with at least one dropout layer.
    X : array
        The inputs, in the model's input space.
    n : int, default=50
        Stochastic passes per input (``T`` in Gal & Ghahramani 2016).
    batch_size : int, default=4096
        Rows per forward pass.
    seed : int, Generator or None
        The same seed and ``batch_size`` give the same numbers.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from shakeout.uncertainty import mc_dropout
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(),
    ...                           torch.nn.Dropout(0.5), torch.nn.Linear(32, 3))
    >>> g = torch.Generator().manual_seed(0)
    >>> for p in net.parameters():
    ...     p.data = torch.randn(p.shape, generator=g)
    >>> d = mc_dropout(net, np.ones((2, 4), np.float32), n=200, seed=0)
    >>> d.proba.shape, bool(np.all(d.epistemic > 0))
    ((2, 3), True)
    """
    from shakeout.models.runtime import dropout_layers, repeat_proba, torch_module

    wrapped = classifier(model, "mc_dropout")
    module = torch_module(wrapped, "mc_dropout")
    if not dropout_layers(module):
        raise ValidationError(
            f"mc_dropout needs dropout layers, but {wrapped.name} has none (no nn.Dropout "
            "module), so every pass would be the same. Use a model trained with dropout, an "
            "ensemble of models (uncertainty.ensemble), or scores from its probabilities "
            "(max_probability, margin, entropy)."
        )
    check_positive_int("mc_dropout", "n", n, 2)
    mean, expected = repeat_proba(wrapped, X, n, dropout=True, batch_size=batch_size, seed=seed)
    return Decomposition.of(mean, expected)


def ensemble(models: Sequence[Any], X: Any) -> Decomposition:
    """Deep-ensemble mean of several classifiers, its uncertainty split into aleatoric and
    epistemic parts.

    Each member's probabilities are read in turn (memory: two arrays of the output's size);
    the members must have the same classes in the same order.

    Examples
    --------
    Two members sure of opposite classes: the mean is uniform, all of it disagreement.

    >>> import numpy as np
    >>> from shakeout.models import wrap
    >>> from shakeout.uncertainty import ensemble
    >>> a = wrap(lambda X: np.tile([1.0, 0.0], (len(X), 1)), task="classification")
    >>> b = wrap(lambda X: np.tile([0.0, 1.0], (len(X), 1)), task="classification")
    >>> d = ensemble([a, b], np.zeros((1, 2)))
    >>> d.proba.tolist(), round(float(d.epistemic[0]), 4), float(d.aleatoric[0])
    ([[0.5, 0.5]], 0.6931, 0.0)
    """
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence) or len(models) < 2:
        raise ValidationError(
            f"ensemble needs a list of at least 2 models, got {type(models).__name__}"
            f"{'' if not isinstance(models, Sequence) else f' of {len(models)}'}. Pass the "
            "members trained from different seeds."
        )
    wrapped = [classifier(m, "ensemble") for m in models]
    total = expected = None
    for i, member in enumerate(wrapped):
        proba = as_probabilities(member.predict_proba(X), name=f"member {i}'s probabilities")
        if total is None:
            total, expected, first = np.zeros_like(proba), np.zeros(len(proba)), member
        _same_classes(first, member, total.shape[1], proba.shape[1], i)
        total += proba
        expected += _entropy(proba)
    return Decomposition.of(total / len(wrapped), expected / len(wrapped))


def _same_classes(first: Any, member: Any, k_first: int, k: int, i: int) -> None:
    """Members must agree on the number of classes and, when named, their order."""
    named = first.classes_ is not None and member.classes_ is not None
    if k != k_first or (named and not np.array_equal(np.asarray(first.classes_, dtype=object),
                                                     np.asarray(member.classes_, dtype=object))):
        raise ValidationError(
            f"ensemble: member {i} ({member.name}) has classes "
            f"{_classes(member, k)} but member 0 has {_classes(first, k_first)}; members must "
            "predict the same classes in the same order."
        )


def _classes(model: Any, k: int) -> list[str]:
    return [str(c) for c in (model.classes_ if model.classes_ is not None else range(k))][:10]
