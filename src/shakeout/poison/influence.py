"""Which training rows pushed a prediction: influence functions and TracIn.

Koh & Liang (2017), "Understanding black-box predictions via influence functions", ICML:
removing training row ``i`` from a model fitted by minimising
``a sum_j loss_j + theta^T D theta / 2`` changes the loss on a test point by, to first order,
``a g_test^T H^-1 g_i``, with ``g`` the loss gradients and ``H = a sum_j H_j + D`` the exact
Hessian of the objective at the fitted parameters. A positive value means the row helped
the prediction: without it the test loss would rise.

:func:`influence` computes it exactly for a logistic model: scikit-learn's binary or
multinomial ``LogisticRegression``, or the last ``nn.Linear`` of a torch classifier with the
layers before it frozen (on the penultimate representations the last layer is a multinomial
logistic model). The softmax is over-parameterised: adding one vector to every class's
weights (and one number to every intercept) changes no probability, so without a penalty
on them ``H`` is singular along those directions. Every gradient is orthogonal to them
(a row's gradients sum to zero over the classes), so the pseudo-inverse gives the unique
answer in the identified directions; we use it (a least-squares solve) rather than fixing
one class, which would change the penalty and so the model. :func:`tracin` is Pruthi, Liu,
Kale & Sundararajan (2020), "Estimating training data influence by tracing gradient
descent", NeurIPS: the sum over saved checkpoints of ``lr * g_test . g_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.errors import ValidationError


def influence(model: Any, X: Any, y: Any, x: Any, label: Any = None, *,
              weight_decay: float = 0.0) -> np.ndarray:
    """Per training row, the first-order change in the test loss at ``x`` if it were removed.

    ``model`` is fitted on ``(X, y)``: a scikit-learn ``LogisticRegression`` (L2 penalty or
    none; binary or multinomial), or a torch classifier (an ``nn.Module``, a wrapped one or
    the ``Training`` of :func:`shakeout.models.training.train`) whose output is its last
    ``nn.Linear``'s. The loss is the log loss of ``label`` at ``x`` (default: the predicted
    label).

    scikit-learn minimises ``C sum_j loss_j + |W|^2 / 2`` (intercepts not penalised), so
    ``a = C`` and ``D`` is 1 on the weights, 0 on the intercepts. For a torch model only the
    last layer ``(W, b)`` moves; the objective is that of
    :func:`~shakeout.models.training.train`, the mean cross-entropy plus Adam's
    ``weight_decay`` on every parameter, ``a = 1/n`` and ``D = weight_decay``. The estimate
    holds at a minimum of that objective: train the last layer to convergence.

    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    >>> est = LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    >>> effect = influence(est, X, y, np.array([1.0, 0.0]))
    >>> effect.shape, bool(effect[y == 1].mean() > effect[y == 0].mean())
    ((60,), True)
    """
    if hasattr(model, "coef_"):
        return _sklearn(model, X, y, x, label)
    return _last_layer(model, X, y, x, label, weight_decay)


def _sklearn(estimator: Any, X: Any, y: Any, x: Any, label: Any) -> np.ndarray:
    coef = np.asarray(estimator.coef_)
    if coef.ndim != 2 or not hasattr(estimator, "predict_proba") or \
            not hasattr(estimator, "intercept_"):
        raise ValidationError("influence: pass a fitted LogisticRegression (coef_ of shape "
                              "(classes or 1, features)) or a torch classifier.")
    if getattr(estimator, "class_weight", None) is not None:
        raise ValidationError("influence: class_weight changes the loss; refit without it.")
    if getattr(estimator, "l1_ratio", 0) or getattr(estimator, "penalty", "l2") in (
            "l1", "elasticnet"):
        raise ValidationError("influence: an L1 penalty has no Hessian; refit with the L2 "
                              "penalty (l1_ratio=0) or none (C=np.inf).")
    C = float(getattr(estimator, "C", 1.0))
    penalised = getattr(estimator, "penalty", "l2") is not None and np.isfinite(C)
    intercept = bool(estimator.fit_intercept)
    theta = np.c_[coef, np.atleast_1d(estimator.intercept_)] if intercept else coef
    Z = _design(X, intercept)
    z = _design(np.atleast_2d(x), intercept)
    if label is None:
        label = estimator.predict(np.atleast_2d(x))[0]
    ridge = np.ones_like(theta)
    if intercept:
        ridge[:, -1] = 0.0
    classes = estimator.classes_
    if len(theta) == 1:  # binary: one sigmoid output
        T = (np.asarray(y) == classes[1]).astype(float)[:, None]
        t = np.array([[float(label == classes[1])]])
    else:
        T = (np.asarray(y)[:, None] == classes[None, :]).astype(float)
        t = (np.asarray([label])[:, None] == classes[None, :]).astype(float)
    return removal_effect(Z, T, theta, z, t, scale=C if penalised else 1.0,
                          ridge=ridge * penalised)


def _design(X: Any, intercept: bool) -> np.ndarray:
    Z = np.asarray(X, dtype=np.float64)
    return np.c_[Z, np.ones(len(Z))] if intercept else Z


def _probabilities(Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Sigmoid of one output, softmax of several: ``(n, outputs)``."""
    logits = Z @ theta.T
    if theta.shape[0] == 1:
        return 1 / (1 + np.exp(-logits))
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def removal_effect(Z: np.ndarray, T: np.ndarray, theta: np.ndarray, z: np.ndarray,
                   t: np.ndarray, *, scale: float, ridge: Any) -> np.ndarray:
    """Koh & Liang's ``a g_test^T H^+ g_i`` for a logistic model ``theta`` ``(K, d)`` with
    sigmoid (``K = 1``) or softmax outputs, rows ``Z`` ``(n, d)`` with targets ``T``
    ``(n, K)``, the test row ``z`` ``(1, d)`` with target ``t``, ``a = scale`` and the
    penalty's diagonal ``ridge`` (broadcast to ``theta``'s shape).

    Row ``j``'s gradient is ``(p_j - t_j) ⊗ z_j`` and its Hessian
    ``(diag(p_j) - p_j p_j^T) ⊗ z_j z_j^T`` (for a sigmoid, ``p_j (1 - p_j) z_j z_j^T``).

    >>> Z = np.array([[1.0, 1.0], [-1.0, 1.0]]); T = np.array([[1.0], [0.0]])
    >>> effect = removal_effect(Z, T, np.zeros((1, 2)), Z[:1], T[:1], scale=1.0, ridge=1.0)
    >>> effect.round(4).tolist()   # H = diag(1.5, 1.5), g_test = (-0.5, -0.5)
    [0.3333, 0.0]
    """
    P = _probabilities(Z, theta)
    K, d = theta.shape
    H = np.empty((K, d, K, d))
    for k in range(K):
        for m in range(k, K):
            w = (P[:, k] * (k == m)) - P[:, k] * P[:, m]
            H[k, :, m, :] = H[m, :, k, :] = (Z * w[:, None]).T @ Z
    H = scale * H.reshape(K * d, K * d)
    H[np.diag_indices_from(H)] += np.broadcast_to(ridge, theta.shape).ravel()
    g_test = ((_probabilities(z, theta) - t)[0][:, None] * z[0][None, :]).ravel()
    V = np.linalg.lstsq(H, g_test, rcond=None)[0].reshape(K, d)
    return scale * np.sum((P - T) * (Z @ V.T), axis=1)


def _last_layer(model: Any, X: Any, y: Any, x: Any, label: Any,
                weight_decay: float) -> np.ndarray:
    """The torch case: the last ``nn.Linear`` on the penultimate representations."""
    from shakeout._validation import check_number
    from shakeout.poison.representation import last_linear, linear_inputs

    check_number("influence", "weight_decay", weight_decay, 0)
    wrapped, classes = _torch(model)
    _, layer = last_linear(wrapped.capabilities.module)
    theta = np.c_[layer.weight.detach().cpu().double().numpy(),
                  layer.bias.detach().cpu().double().numpy()] if layer.bias is not None else \
        layer.weight.detach().cpu().double().numpy()
    xs = np.asarray(x)[None]
    F = linear_inputs(wrapped, np.asarray(X), layer).astype(np.float64).reshape(len(X), -1)
    f = linear_inputs(wrapped, xs, layer).astype(np.float64).reshape(1, -1)
    intercept = layer.bias is not None
    Z, z = _design(F, intercept), _design(f, intercept)
    logits = _logits(wrapped, xs)
    if not np.allclose(logits, z @ theta.T, rtol=1e-4, atol=1e-4):
        raise ValidationError("influence: the model's output is not its last nn.Linear's "
                              "(something follows it); influence reads the last layer as a "
                              "logistic model and needs its logits as the output.")
    labels = np.asarray(y)
    if label is None:
        label = classes[int(np.argmax(logits[0]))]
    T = (labels[:, None] == classes[None, :]).astype(float)
    t = (np.asarray([label])[:, None] == classes[None, :]).astype(float)
    if T.sum() != len(labels) or t.sum() != 1:
        raise ValidationError(f"influence: labels must be among the model's classes "
                              f"{classes.tolist()}.")
    return removal_effect(Z, T, theta, z, t, scale=1.0 / len(labels), ridge=weight_decay)


def _torch(model: Any) -> tuple[Any, np.ndarray]:
    """The wrapped torch model and its classes (a Training knows them; else 0..K-1)."""
    from shakeout.models import wrap

    module = getattr(model, "module", None)
    classes = getattr(model, "classes", None)
    wrapped = wrap(module if module is not None and classes is not None else model)
    if not wrapped.capabilities.representations:
        raise ValidationError(f"influence: {wrapped.name} is neither a LogisticRegression nor "
                              "a torch nn.Module; pass one of those.")
    if classes is None:
        from shakeout.poison.representation import last_linear

        classes = np.arange(last_linear(wrapped.capabilities.module)[1].out_features)
    return wrapped, np.asarray(classes)


def _logits(wrapped: Any, X: np.ndarray) -> np.ndarray:
    from shakeout.models.runtime import inference

    with inference(wrapped, grad=False) as net:
        return net(wrapped.to_tensor(X)).double().cpu().numpy()


def tracin(training: Any, X: Any, y: Any, x: Any, label: Any = None, *,
           last_layer: bool = False, batch_size: int = 256) -> np.ndarray:
    """TracIn (Pruthi et al. 2020): per training row, ``sum_c lr_c g_test(c) . g_i(c)`` over
    the checkpoints ``c`` saved by ``train(..., checkpoints=True)``.

    ``g`` is the gradient of the cross-entropy at the checkpoint's weights (eval mode), of
    row ``i`` with its label from ``y`` and of ``x`` with ``label`` (default: the trained
    model's prediction); ``last_layer=True`` takes the gradients of the last ``nn.Linear``
    only (the paper's cheaper variant). Positive: training on the row lowered the test
    loss (a proponent); negative: an opponent. Adam's steps are not ``lr * g``, so this is
    the paper's heuristic, not a first-order identity; the dot products are exact (one
    forward-mode derivative along ``g_test`` per batch).

    >>> import torch
    >>> from shakeout.models.training import train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> fit = train(torch.nn.Linear(2, 2), X, y, epochs=3, lr=0.1, validation=0.0,
    ...             checkpoints=True)
    >>> score = tracin(fit, X, y, np.array([2.0, 0.0], dtype=np.float32))
    >>> score.shape, bool(score[y == 1].mean() > score[y == 0].mean())
    ((100,), True)
    """
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, jvp

    from shakeout._validation import check_positive_int

    check_positive_int("tracin", "batch_size", batch_size)
    saved = getattr(training, "checkpoints", ())
    if not saved:
        raise ValidationError("tracin: pass the Training of shakeout.models.training.train "
                              "trained with checkpoints=True (it saved no checkpoints).")
    net, classes = training.module, np.asarray(training.classes)
    device = next(net.parameters()).device
    labels = np.asarray(y)
    codes = np.searchsorted(classes, labels)
    if len(labels) != len(X) or (classes[np.minimum(codes, len(classes) - 1)] != labels).any():
        raise ValidationError(f"tracin: y must hold one of the classes {classes.tolist()} per "
                              f"row of X ({len(X)}).")
    xs = torch.as_tensor(np.asarray(x, dtype=np.float32)[None], device=device)
    if label is None:
        with torch.no_grad():
            net.eval()
            label = classes[int(net(xs).argmax(dim=1)[0])]
    target = torch.as_tensor([int(np.searchsorted(classes, label))], device=device)
    names = _tracked(net, last_layer)
    rows = np.asarray(X, dtype=np.float32)
    out = np.zeros(len(rows))
    original = {k: v.detach().clone() for k, v in net.state_dict().items()}
    try:
        for point in saved:
            net.load_state_dict(point.state)
            net.eval()
            params = {k: v.detach() for k, v in net.named_parameters()}
            tracked = {k: params[k].requires_grad_(True) for k in names}
            loss = F.cross_entropy(functional_call(net, params, (xs,)), target)
            grads = torch.autograd.grad(loss, list(tracked.values()))
            tangent = {k: g.detach() for k, g in zip(names, grads)}
            fixed = {k: v.detach() for k, v in params.items() if k not in tangent}
            for start in range(0, len(rows), batch_size):
                xb = torch.as_tensor(rows[start:start + batch_size], device=device)
                yb = torch.as_tensor(codes[start:start + batch_size], device=device)

                def losses(p, xb=xb, yb=yb):
                    return F.cross_entropy(functional_call(net, {**fixed, **p}, (xb,)), yb,
                                           reduction="none")

                primal = {k: v.detach() for k, v in tracked.items()}
                _, dots = jvp(losses, (primal,), (tangent,))
                out[start:start + batch_size] += point.lr * dots.detach().cpu().double().numpy()
    finally:
        net.load_state_dict(original)
        net.eval()
    return out


def _tracked(net: Any, last_layer: bool) -> list[str]:
    """The names of the parameters whose gradients TracIn takes."""
    from shakeout.poison.representation import last_linear

    if not last_layer:
        return [k for k, v in net.named_parameters() if v.requires_grad]
    name, _ = last_linear(net)
    return [k for k, _ in net.named_parameters() if k.rpartition(".")[0] == name]


__all__ = ["influence", "removal_effect", "tracin"]
