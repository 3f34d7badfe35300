"""Sobol indices and Morris screening against analytic answers."""

import numpy as np
import pandas as pd

from shakeout import wrap
from shakeout.stress import morris, sobol

A, B = 7.0, 0.1
# Analytic indices of the Ishigami function (Ishigami & Homma 1990) on [-pi, pi]^3.
V1 = 0.5 * (1 + B * np.pi**4 / 5) ** 2
V2 = A**2 / 8
V13 = B**2 * np.pi**8 * (1 / 18 - 1 / 50)
V = A**2 / 8 + B * np.pi**4 / 5 + B**2 * np.pi**8 / 18 + 0.5
S1 = np.array([V1 / V, V2 / V, 0.0])
ST = np.array([(V1 + V13) / V, V2 / V, V13 / V])


def ishigami(X):
    X = np.asarray(X)
    return np.sin(X[:, 0]) + A * np.sin(X[:, 1]) ** 2 + B * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_ishigami_indices_within_0_02_of_analytic_values():
    found = sobol(wrap(ishigami, task="regression"), bounds=[(-np.pi, np.pi)] * 3, n=8192, seed=1)
    s1 = np.array([f.value for f in found if f.metric == "sobol_s1"])
    st = np.array([f.value for f in found if f.metric == "sobol_st"])
    np.testing.assert_allclose(s1, S1, atol=0.02)
    np.testing.assert_allclose(st, ST, atol=0.02)
    assert all(f.ci[0] <= f.value <= f.ci[1] for f in found)


def test_sobol_warns_when_too_few_samples():
    found = sobol(wrap(ishigami, task="regression"), bounds=[(-np.pi, np.pi)] * 3, n=8, seed=0)
    assert any(f.status == "warn" and "increase n" in f.message for f in found)


def test_sobol_on_a_classifier_uses_data_marginals():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"strong": rng.normal(size=500), "weak": rng.normal(size=500),
                      "none": rng.normal(size=500)})
    y = (3 * X["strong"] + 0.5 * X["weak"] + rng.normal(0, 0.5, 500) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    found = {f.feature: f.value for f in sobol(clf, X, n=1024, seed=0) if f.metric == "sobol_st"}
    assert found["strong"] > 0.8 > found["weak"] > found["none"]


def test_morris_ranks_a_linear_model_exactly():
    model = wrap(lambda X: 5 * X[:, 0] - 2 * X[:, 1] + 0 * X[:, 2], task="regression")
    found = morris(model, bounds=[(0, 1)] * 3, trajectories=20, seed=3)
    mu = [f.value for f in found]
    np.testing.assert_allclose(mu, [5, 2, 0], atol=1e-9)


def test_same_seed_same_indices():
    model = wrap(ishigami, task="regression")
    a = sobol(model, bounds=[(-np.pi, np.pi)] * 3, n=256, seed=9)
    b = sobol(model, bounds=[(-np.pi, np.pi)] * 3, n=256, seed=9)
    assert [f.value for f in a] == [f.value for f in b]
