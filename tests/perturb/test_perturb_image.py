"""Image perturbations: layouts, value range, levels, and what each corruption promises."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from perturb_data import images
from shakeout.errors import ValidationError
from shakeout.perturb import ImageCorruption, SaltAndPepper
from shakeout.perturb.image import CORRUPTIONS

LEVELS = (1, 2, 3, 4, 5)


def digits() -> np.ndarray:
    """scikit-learn's 8x8 digits in [0, 1], (n, 1, 8, 8): real images with edges."""
    from sklearn.datasets import load_digits

    return (load_digits().images[:200] / 16.0)[:, None]


def smooth(n: int = 12, h: int = 16, w: int = 24) -> np.ndarray:
    """Low-frequency images: what JPEG compresses almost losslessly."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([0.5 + 0.3 * np.sin(2 * np.pi * (xx / w + k / 7)) * np.cos(2 * np.pi * yy / h)
                     for k in range(n)])[:, None]


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("level", LEVELS)
def test_every_corruption_and_level_stays_within_the_fitted_range(corruption, level):
    X = images(8, shape=(3, 13, 17)) * 0.8 + 0.1  # range [0.1, 0.9], odd sizes
    p = ImageCorruption(corruption=corruption).fit(X)
    out = p.apply(X, level, seed=0)
    assert out.shape == X.shape
    assert out.min() >= p.low_ and out.max() <= p.high_
    assert not np.array_equal(out, X)


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_layouts_give_the_same_corruption(corruption):
    X = images(5, shape=(3, 13, 17))  # channel-first, odd height and width
    first = ImageCorruption(corruption=corruption).fit(X).apply(X, 3, seed=1)
    X_last = np.moveaxis(X, 1, -1)  # (n, h, w, c)
    last = ImageCorruption(corruption=corruption, channels_last=True).fit(X_last).apply(
        X_last, 3, seed=1)
    assert last.shape == (5, 13, 17, 3)
    np.testing.assert_allclose(np.moveaxis(last, -1, 1), first, atol=1e-12)


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_grey_images_without_a_channel_axis_match_one_channel(corruption):
    X = images(5, shape=(1, 13, 17))
    with_channel = ImageCorruption(corruption=corruption).fit(X).apply(X, 2, seed=4)
    grey = X[:, 0]  # (n, h, w)
    out = ImageCorruption(corruption=corruption).fit(grey).apply(grey, 2, seed=4)
    assert out.shape == grey.shape
    np.testing.assert_allclose(out, with_channel[:, 0], atol=1e-12)


def test_salt_and_pepper_layouts_agree():
    X = images(4, shape=(3, 9, 11))
    first = SaltAndPepper().fit(X).apply(X, 0.2, seed=0)
    X_last = np.moveaxis(X, 1, -1)
    last = SaltAndPepper(channels_last=True).fit(X_last).apply(X_last, 0.2, seed=0)
    np.testing.assert_array_equal(np.moveaxis(last, -1, 1), first)


@pytest.mark.parametrize("severity", [1.5, 0.5, 4.999])
def test_severity_must_be_an_integer_level(severity):
    X = images()
    with pytest.raises(ValidationError, match=rf"severity is an integer level 1-5, got {severity}"):
        ImageCorruption(corruption="blur").fit(X).apply(X, severity, seed=0)


def test_integer_valued_float_levels_are_accepted():
    X = images()
    p = ImageCorruption(corruption="blur").fit(X)
    np.testing.assert_array_equal(p.apply(X, 2.0, seed=0), p.apply(X, 2, seed=0))


def test_images_need_three_or_four_dimensions():
    with pytest.raises(ValidationError, match=r"images must be \(n, h, w\) or \(n, c, h, w\), "
                                              r"got shape \(10, 64\)"):
        ImageCorruption().fit(np.random.default_rng(0).random((10, 64)))


def test_constant_images_are_refused():
    with pytest.raises(ValidationError, match="the images are constant"):
        SaltAndPepper().fit(np.ones((3, 1, 4, 4)))


@pytest.mark.parametrize("corruption", ["blur", "pixelate"])
@pytest.mark.parametrize("level", LEVELS)
def test_blur_and_pixelate_reduce_variance(corruption, level):
    X = images(20, shape=(1, 16, 16))
    out = ImageCorruption(corruption=corruption).fit(X).apply(X, level, seed=0)
    within = lambda a: a.var(axis=(-2, -1)).mean()  # noqa: E731 - variance inside each image
    assert within(out) < within(X)


def test_blur_preserves_each_images_mean():
    X = images(10, shape=(1, 16, 16)) * 0.6 + 0.2  # no clipping at this range
    out = ImageCorruption(corruption="blur").fit(X).apply(X, 5, seed=0)
    np.testing.assert_allclose(out.mean(axis=(-2, -1)), X.mean(axis=(-2, -1)), atol=1e-9)


def test_pixelate_is_piecewise_constant():
    X = images(3, shape=(1, 16, 16))
    out = ImageCorruption(corruption="pixelate").fit(X).apply(X, 5, seed=0)  # keep 0.65: 10 cells
    assert all(len(np.unique(out[i, 0].round(12))) <= 100 for i in range(3))


def test_brightness_and_contrast_are_exact():
    X = images(4, shape=(1, 8, 8)) * 0.5 + 0.25  # [0.25, 0.75]: fitted span 0.5
    p = ImageCorruption(corruption="brightness").fit(np.concatenate([X, [np.zeros_like(X[0])],
                                                              [np.ones_like(X[0])]]))
    np.testing.assert_allclose(p.apply(X, 1, seed=0), np.clip(X + 0.1, 0, 1))
    c = ImageCorruption(corruption="contrast").fit(X)
    out = c.apply(X, 2, seed=0)  # factor 0.5 around each image's mean
    mean = X.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (X - mean) * 0.5 + mean)


def test_gaussian_noise_level_sigma_is_a_fraction_of_the_range():
    X = np.full((200, 1, 16, 16), 0.5)
    ref = np.concatenate([X, np.zeros((1, 1, 16, 16)), np.ones((1, 1, 16, 16))])
    out = ImageCorruption(corruption="corruption_gaussian_noise").fit(ref).apply(X, 5, seed=0)  # sigma 0.10
    n = out.size
    lo, hi = np.sqrt(stats.chi2.ppf([0.0005, 0.9995], n - 1) / (n - 1))
    assert lo < (out - X).std() / 0.10 < hi  # 0.5 +- 5 sigma: clipping never bites


def test_jpeg_is_deterministic_at_a_level():
    X = digits()
    p = ImageCorruption(corruption="jpeg").fit(X)
    np.testing.assert_array_equal(p.apply(X, 3, seed=0), p.apply(X, 3, seed=123))


def test_jpeg_is_close_to_identity_for_smooth_images():
    X = smooth()
    p = ImageCorruption(corruption="jpeg").fit(X)
    grey_level = (p.high_ - p.low_) / 255  # JPEG works on 8-bit levels of the fitted range
    err = np.abs(p.apply(X, 1, seed=0) - X)
    assert err.max() < 8 * grey_level
    assert err.mean() < 2 * grey_level
    # ...while it is visibly lossy on images with edges (both in 8-bit levels of [0, 1])
    D = digits()
    q = ImageCorruption(corruption="jpeg").fit(D)
    assert np.abs(q.apply(D, 1, seed=0) - D).mean() > 4 * err.mean()


@pytest.mark.parametrize("corruption", ["corruption_gaussian_noise", "blur", "jpeg"])
def test_higher_level_means_more_error_on_average(corruption):
    X = digits()
    p = ImageCorruption(corruption=corruption).fit(X)
    mse = [float(np.mean((p.apply(X, level, seed=level) - X) ** 2)) for level in LEVELS]
    assert all(b > a for a, b in zip(mse, mse[1:])), mse


def test_salt_and_pepper_rate_is_within_the_binomial_band():
    X = np.full((100, 3, 16, 16), 0.5)
    ref = np.concatenate([X, np.zeros((1, 3, 16, 16)), np.ones((1, 3, 16, 16))])
    severity = 0.1
    out = SaltAndPepper().fit(ref).apply(X, severity, seed=0)
    hit = (out != 0.5).any(axis=1)  # a pixel is hit in every channel at once
    assert np.array_equal(hit, (out != 0.5).all(axis=1))
    n = hit.size
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, severity)
    assert lo <= hit.sum() <= hi
    # half salt, half pepper
    salt = int((out[:, 0] == 1.0).sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], int(hit.sum()), 0.5)
    assert lo <= salt <= hi
    assert set(np.unique(out).tolist()) == {0.0, 0.5, 1.0}


def test_the_clip_range_is_the_valid_range_inferred_from_the_reference():
    """Images in [0.1, 0.9] may take any value in [0, 1]: clip there, not at 0.1 and 0.9."""
    X = images(6, shape=(1, 8, 8)) * 0.8 + 0.1
    p = ImageCorruption(corruption="brightness").fit(X)
    assert (p.low_, p.high_) == (0.0, 1.0)
    out = p.apply(X, 5, seed=0)  # + 0.5 of the range [0, 1]
    np.testing.assert_allclose(out, np.clip(X + 0.5, 0, 1))
    assert out.max() == 1.0
    assert repr(p).endswith("clipped to [0, 1] (the valid range inferred from the reference)")
    salted = SaltAndPepper().fit(X).apply(X, 0.5, seed=0)
    assert {0.0, 1.0} <= set(np.unique(salted).tolist())


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_eight_bit_images_are_clipped_to_0_255(dtype):
    X = (images(6, shape=(1, 8, 8)) * 200).round().astype(dtype)  # whole numbers up to 200
    p = ImageCorruption(corruption="brightness").fit(X)
    assert (p.low_, p.high_) == (0.0, 255.0)
    out = p.apply(X, 1, seed=0)  # + 0.1 of 255
    np.testing.assert_allclose(out, np.clip(X.astype(np.float64) + 25.5, 0, 255))


def test_a_given_clip_range_is_used_and_said():
    X = images(6, shape=(1, 8, 8))
    p = ImageCorruption(corruption="brightness", clip=(0.0, 0.95)).fit(X)
    assert p.apply(X, 5, seed=0).max() == 0.95
    assert repr(p).endswith("clipped to [0, 0.95] (given)")


def test_the_old_name_of_the_corruption_noise_says_what_to_use():
    with pytest.raises(ValidationError, match=r"corruption 'gaussian_noise' is now "
                                              r"'corruption_gaussian_noise'.*perturbation "
                                              r"'gaussian_noise' with relative=False"):
        ImageCorruption(corruption="gaussian_noise")
    assert "gaussian_noise" not in CORRUPTIONS


def test_default_image_sweeps_clip_to_the_valid_range_and_the_run_says_so():
    from shakeout.models import wrap
    from shakeout.stress import run
    from shakeout.stress.defaults import default_sweeps

    X = images(30, shape=(1, 8, 8)) * 0.6 + 0.2  # observed [0.2, 0.8], valid [0, 1]
    y = (X.mean(axis=(1, 2, 3)) > 0.5).astype(int)

    def proba(batch):
        p = np.clip(np.asarray(batch).mean(axis=(1, 2, 3)), 0, 1)
        return np.column_stack([1 - p, p])

    model = wrap(proba, task="classification")
    sweeps = {s.label: s for s in default_sweeps(model, X)}
    assert sweeps["pixel_noise"].perturbation.clip == (0.0, 1.0)
    assert sweeps["pixel_noise"].severities[-1] == pytest.approx(0.3)
    assert "corruption_gaussian_noise" in sweeps and "gaussian_noise" not in sweeps
    result = run(model, X, y, n_bootstrap=20, repeats=1, sensitivity=False, seed=0)
    described = result.manifest.parameters["sweeps"]
    assert described["brightness"]["perturbation"].endswith(
        "clipped to [0, 1] (the valid range inferred from the reference)")
    assert "clip=(0.0, 1.0)" in described["pixel_noise"]["perturbation"]


def test_sigma_noise_on_images_stays_in_the_valid_range_unless_told():
    from shakeout.perturb import GaussianNoise

    images = np.random.default_rng(0).uniform(0, 1, (20, 8, 8))
    noise = GaussianNoise(relative=False).fit(images)
    out = noise.apply(images, 0.5, seed=1)
    assert out.min() == 0.0 and out.max() == 1.0  # clipped, and the clip binds
    assert "clipped to [0, 1] (the valid range inferred from the reference)" in repr(noise)
    table = images.reshape(20, -1)  # a table is never clipped unless clip is given
    wide = GaussianNoise(relative=False).fit(table).apply(table, 0.5, seed=1)
    assert wide.min() < 0 and wide.max() > 1
    given = GaussianNoise(relative=False, clip=(0.2, 0.8)).fit(images).apply(images, 0.5, seed=1)
    assert given.min() == 0.2 and given.max() == 0.8
