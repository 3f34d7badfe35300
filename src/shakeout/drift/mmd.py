"""Maximum mean discrepancy with an RBF kernel and a permutation test: multivariate drift."""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout._validation import (as_generator, check_choice, check_number, check_open_interval,
                                  check_positive_int)
from shakeout.drift._base import DriftTest, make_finding, judge_test
from shakeout.drift._kernel import (DEVICES, kernel_times, median_bandwidth, random_features,
                                    resolve_device)
from shakeout.drift._matrix import numeric_matrix, standardizer
from shakeout.report.result import Finding

METHODS = ("auto", "exact", "rff")
MAX_EXACT = 20_000
"""``method="auto"`` uses the exact kernel up to this many pooled rows, then random features."""


def _unbiased(s_xx: float, s_yy: float, s_xy: float, d_x: float, d_y: float, m: int,
              n: int) -> float:
    return float((s_xx - d_x) / (m * (m - 1)) + (s_yy - d_y) / (n * (n - 1))
                 - 2.0 * s_xy / (m * n))


class MMDTest(DriftTest):
    """MMD two-sample test on all numeric features together (Gretton et al. 2012).

    Features are standardised by the reference mean and standard deviation; the RBF kernel
    ``exp(-|x - y|^2 / (2 h^2))`` takes ``h`` from the median heuristic (the median
    distance between pooled points) unless ``bandwidth`` is given. The value is the
    unbiased estimate of MMD^2 (unitless; it can dip below zero when nothing drifted). The
    p-value comes from permutations of the *pooled* sample, counting the observed
    labelling: ``(1 + #{permuted >= observed}) / (1 + n_permutations)``, never zero. It
    sees changes that no single feature shows, such as a change of correlation.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level.
    n_permutations : int, default=100
        Random relabellings of the pooled sample; the smallest possible p-value is
        ``1 / (n_permutations + 1)``.
    method : {"auto", "exact", "rff"}, default="auto"
        ``exact`` builds the kernel matrix in blocks (time grows with the square of the
        pooled rows); ``rff`` uses ``n_features`` random Fourier features (linear time).
        ``auto`` is exact up to 20,000 pooled rows.
    n_features : int, default=512
        Random features for ``rff``.
    max_rows : int or None, default=None
        Subsample each side to at most this many rows (seeded) before testing.
    bandwidth : float or None, default=None
        Kernel width ``h`` in standardised units; None for the median heuristic.
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``cuda`` runs the kernel on a GPU through torch; ``auto`` does when one is present
        and the pooled sample has at least 10,000 rows.
    batch_size : int, default=2048
        Kernel rows per block.
    seed : int, Generator or None, default=0
        Seed of the permutations, subsamples and random features.

    Examples
    --------
    >>> import numpy as np
    >>> from shakeout.drift import MMDTest
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(300, 2))
    >>> z = rng.normal(size=(300, 2))
    >>> cur = np.c_[z[:, 0], 0.9 * z[:, 0] + 0.44 * z[:, 1]]  # same marginals, correlated
    >>> f = MMDTest(device="cpu").fit(ref).compare(cur)
    >>> round(f.p_value, 4), f.status
    (0.0099, 'fail')
    """

    group = metric = "mmd"
    multivariate = True
    min_rows = 2

    def __init__(self, *, alpha: float = 0.05, n_permutations: int = 100, method: str = "auto",
                 n_features: int = 512, max_rows: int | None = None,
                 bandwidth: float | None = None, device: str = "auto", batch_size: int = 2048,
                 seed: Any = 0):
        self.alpha = check_open_interval(self, "alpha", alpha, 0, 1)
        self.n_permutations = check_positive_int(self, "n_permutations", n_permutations, 1)
        self.method = check_choice(self, "method", method, METHODS)
        self.n_features = check_positive_int(self, "n_features", n_features, 1)
        self.max_rows = None if max_rows is None else check_positive_int(self, "max_rows",
                                                                         max_rows, 2)
        self.bandwidth = None if bandwidth is None else check_number(
            self, "bandwidth", bandwidth, 0, low_open=True)
        self.device = check_choice(self, "device", device, DEVICES)
        self.batch_size = check_positive_int(self, "batch_size", batch_size, 1)
        as_generator(seed, owner=self)
        self.seed = seed

    def fit(self, reference: Any) -> "MMDTest":
        """Keep the reference and its standardisation."""
        X, self.columns_ = numeric_matrix(reference, owner="MMDTest", role="reference",
                                          min_rows=self.min_rows)
        self.mean_, self.std_ = standardizer(X)
        self.reference_ = X
        self.fitted_ = True
        return self

    def _subsample(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.max_rows is None or len(X) <= self.max_rows:
            return X
        return X[np.sort(rng.choice(len(X), self.max_rows, replace=False))]

    def compare(self, current: Any) -> Finding:
        """MMD^2 and its permutation p-value for ``current`` against the reference."""
        self._require_fit()
        Y, _ = numeric_matrix(current, owner="MMDTest", role="current", columns=self.columns_,
                              min_rows=self.min_rows)
        rng = as_generator(self.seed)
        X = self._subsample(self.reference_, rng)
        Y = self._subsample(Y, rng)
        m, n = len(X), len(Y)
        Z = (np.vstack([X, Y]) - self.mean_) / self.std_
        N, P = m + n, self.n_permutations
        h = self.bandwidth or median_bandwidth(Z, rng)
        labels = np.zeros((N, P + 1), dtype=bool)
        labels[:m, 0] = True
        for j in range(1, P + 1):
            labels[rng.permutation(N)[:m], j] = True
        W = np.where(labels, 1.0 / m, -1.0 / n)
        obs = np.zeros((N, 2))
        obs[:m, 0] = 1.0
        obs[m:, 1] = 1.0
        method = self.method if self.method != "auto" else (
            "exact" if N <= MAX_EXACT else "rff")
        device = resolve_device(self.device, N) if method == "exact" else "cpu"
        if method == "exact":
            KW = kernel_times(Z, np.hstack([W, obs]), h, device=device,
                              block=self.batch_size).astype(np.float64)
            null = np.einsum("ij,ij->j", W, KW[:, :P + 1])
            Ka, Kb = KW[:, P + 1], KW[:, P + 2]
            diag = np.ones(N)
        else:
            F = random_features(Z, h, self.n_features, rng).astype(np.float64)
            proj = F.T @ np.hstack([W, obs])
            null = np.einsum("ij,ij->j", proj[:, :P + 1], proj[:, :P + 1])
            Ka, Kb = F @ proj[:, P + 1], F @ proj[:, P + 2]
            diag = np.einsum("ij,ij->i", F, F)
        value = _unbiased(float(Ka[:m].sum()), float(Kb[m:].sum()), float(Kb[:m].sum()),
                          float(diag[:m].sum()), float(diag[m:].sum()), m, n)
        exceed = int(np.sum(null[1:] >= null[0] - 1e-6 * abs(null[0])))
        p = (1 + exceed) / (1 + P)
        status = judge_test(p, self.alpha, None)
        verdict = "drift" if p < self.alpha else "no significant drift"
        message = (f"MMD over {len(self.columns_)} features: {verdict} (MMD^2={value:.3g}, "
                   f"p={p:.3g} from {P} permutations).")
        details = {"test": "MMD", "statistic_text": f"MMD^2={value:.3g}", "bandwidth": h,
                   "method": method, "device": device, "n_permutations": P,
                   "n_reference": m, "n_current": n, "features": self.columns_[:50],
                   "biased_observed": float(null[0]),
                   "biased_null_q95": float(np.quantile(null[1:], 0.95))}
        return make_finding(self, feature=None, value=value, p_value=p, status=status,
                            message=message, details=details)
