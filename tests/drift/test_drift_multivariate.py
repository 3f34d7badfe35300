"""MMD, domain classifier and projection tests: level, power, permutation p-values."""

import numpy as np
import pytest
from scipy import stats

from shakeout.drift import ClassifierTest, MMDTest, ProjectionTest
from shakeout.errors import NotFittedError, ValidationError


def _correlated(rng, n, rho):
    z = rng.normal(size=(n, 2))
    return np.c_[z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho ** 2) * z[:, 1]]


def test_mmd_p_value_counts_the_observed_statistic():
    rng = np.random.default_rng(1)
    f = MMDTest(n_permutations=19, device="cpu").fit(rng.normal(size=(100, 3))).compare(
        rng.normal(size=(100, 3)) + 3.0)
    assert f.p_value == pytest.approx(1 / 20)  # never zero: (0 + 1) / (19 + 1)
    grid = np.arange(1, 21) / 20
    g = MMDTest(n_permutations=19, device="cpu").fit(rng.normal(size=(50, 3)))
    assert np.isclose(g.compare(rng.normal(size=(50, 3))).p_value, grid).any()


def test_mmd_detects_a_correlation_only_change():
    rng = np.random.default_rng(2)
    hits = sum(MMDTest(seed=i, device="cpu").fit(_correlated(rng, 300, 0.0))
               .compare(_correlated(rng, 300, 0.8)).p_value < 0.05 for i in range(20))
    assert hits >= 18


def test_mmd_random_features_detect_a_shift_and_keep_level():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(3000, 4))
    shifted = MMDTest(method="rff", device="cpu").fit(ref).compare(
        rng.normal(size=(3000, 4)) + [0.2, 0, 0, 0])
    assert shifted.p_value < 0.05 and shifted.details["method"] == "rff"
    p = [MMDTest(method="rff", n_permutations=49, seed=i, n_features=64)
         .fit(rng.normal(size=(60, 2))).compare(rng.normal(size=(60, 2))).p_value
         for i in range(200)]
    assert 2 <= sum(q < 0.05 for q in p) <= 21  # 99.9% band for 200 trials


def test_mmd_same_seed_same_numbers_and_exact_unbiased_value():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    a = MMDTest(bandwidth=1.0, device="cpu").fit(X).compare(Y)
    b = MMDTest(bandwidth=1.0, device="cpu").fit(X).compare(Y)
    assert (a.value, a.p_value) == (b.value, b.p_value)
    mean, std = X.mean(0), X.std(0)
    Z = (np.vstack([X, Y]) - mean) / std
    K = np.exp(-((Z[:, None] - Z[None]) ** 2).sum(-1) / 2)
    m, n = 40, 30
    kxx, kyy, kxy = K[:m, :m], K[m:, m:], K[:m, m:]
    expected = ((kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - n) / (n * (n - 1))
                - 2 * kxy.mean())
    assert a.value == pytest.approx(expected, abs=1e-5)


def test_mmd_bad_input():
    with pytest.raises(NotFittedError):
        MMDTest().compare(np.zeros((3, 2)))
    with pytest.raises(ValidationError, match="n_permutations"):
        MMDTest(n_permutations=0)
    with pytest.raises(ValidationError, match="NaN or inf in 1 rows"):
        MMDTest().fit(np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]))
    with pytest.raises(ValidationError, match="lacks columns"):
        import pandas as pd

        MMDTest().fit(pd.DataFrame({"a": [1.0, 2, 3], "b": [1.0, 2, 3]})).compare(
            pd.DataFrame({"a": [1.0, 2, 3]}))
    with pytest.raises(ValidationError, match="needs at least 2"):
        MMDTest().fit(np.zeros((5, 2))).compare(np.zeros((1, 2)))
    with pytest.raises(ValidationError, match=r"1 columns the reference lacks \(\['x2'\]\)"):
        MMDTest().fit(np.zeros((5, 2))).compare(np.zeros((5, 3)))  # never silently the first two


def test_classifier_level_and_power():
    rng = np.random.default_rng(5)
    null = [ClassifierTest(max_iter=5, seed=i).fit(rng.normal(size=(60, 2)))
            .compare(rng.normal(size=(60, 2))).p_value for i in range(40)]
    assert sum(p < 0.05 for p in null) <= 8  # 99.9% band for 40 trials at 0.05: [0, 8]
    f = ClassifierTest().fit(_correlated(rng, 400, 0.0)).compare(_correlated(rng, 400, 0.9))
    assert f.p_value < 0.05 and f.value > 0.6 and f.ci[0] < f.value < f.ci[1]
    assert f.details["n_test_reference"] == f.details["n_test_current"] == 200


def test_classifier_level_and_coverage_at_200_rows_5_features():
    # pooled out-of-fold scores rejected 13% of no-drift windows and their AUC interval
    # covered 0.5 in 83.5%; held-out scores keep the level
    rng = np.random.default_rng(8)
    rejected = covered = 0
    for i in range(200):
        f = ClassifierTest(max_iter=30, seed=i).fit(rng.normal(size=(200, 5))).compare(
            rng.normal(size=(200, 5)))
        rejected += f.p_value < 0.05
        covered += f.ci[0] <= 0.5 <= f.ci[1]
    assert 2 <= rejected <= 21      # 99.9% band for 200 trials at 0.05
    assert 179 <= covered <= 198    # 99.9% band for 200 trials at 0.95


def test_auc_interval_never_collapses():
    from shakeout.drift.classifier import auc_interval

    for auc, n in ((1.0, 15), (0.0, 3), (1.0, 1)):
        lo, hi = auc_interval(auc, n, n)
        assert hi - lo > 0.1 and lo <= auc <= hi
    lo, hi = auc_interval(0.5, 100, 100)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)


def test_classifier_takes_categories_and_nan():
    import pandas as pd

    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"c": rng.choice(["a", "b"], 300), "x": rng.normal(size=300)})
    cur = pd.DataFrame({"c": rng.choice(["a", "b", "new"], 300), "x": rng.normal(size=300)})
    cur.loc[:10, "x"] = np.nan
    assert ClassifierTest().fit(ref).compare(cur).p_value < 0.05
    with pytest.raises(ValidationError, match="current has 1 rows; the test needs at least 2"):
        ClassifierTest().fit(ref).compare(cur.iloc[:1])
    with pytest.raises(ValidationError, match="test_fraction must be in"):
        ClassifierTest(test_fraction=1.0)


def test_projection_on_images_and_embeddings():
    rng = np.random.default_rng(7)
    imgs = rng.uniform(size=(400, 1, 8, 8))
    test = ProjectionTest(n_components=5).fit(imgs)
    assert test.compare(rng.uniform(size=(400, 1, 8, 8)) * 0.8).p_value < 0.05
    assert len(test.compare(imgs).details["component_p"]) == 5
    embed = ProjectionTest(embed=lambda X: np.asarray(X).reshape(len(X), -1)[:, :4]).fit(imgs)
    assert embed.compare(imgs).details["embedding"] is True
    null = [ProjectionTest(n_components=4).fit(rng.normal(size=(80, 10)))
            .compare(rng.normal(size=(80, 10))).p_value < 0.05 for _ in range(200)]
    assert sum(null) <= 21  # Bonferroni is conservative: only the upper end of [2, 21]
    with pytest.raises(ValidationError, match="features per row"):
        test.compare(rng.uniform(size=(10, 1, 4, 4)))


@pytest.mark.parametrize("shape", [(50,), (1, 8, 8)])
def test_projection_keeps_its_level_on_wide_inputs(shape):
    # axes fitted on the reference rejected 37% (50 features) and 60-80% (8x8 images, the
    # docstring's case) of no-drift windows at a nominal 5%; pooled axes keep the level
    rng = np.random.default_rng(13)
    rejected = sum(ProjectionTest().fit(rng.uniform(size=(200, *shape))).compare(
        rng.uniform(size=(200, *shape))).p_value < 0.05 for _ in range(100))
    assert rejected <= 13   # 99.9% band for 100 trials at 0.05 is [0, 13]


@pytest.mark.parametrize("shape", [(400, 50), (30, 200)])
def test_principal_scores_match_scikit_learn(shape):
    from sklearn.decomposition import PCA

    from shakeout.drift.projection import principal_scores

    rng = np.random.default_rng(0)
    X = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1]))
    Z, share = principal_scores(X, 5)
    pca = PCA(5).fit(X)
    np.testing.assert_allclose(share, pca.explained_variance_ratio_, rtol=1e-8)
    np.testing.assert_allclose(np.abs(Z), np.abs(pca.transform(X)), rtol=1e-6, atol=1e-8)
