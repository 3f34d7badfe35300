"""Image corruptions at five severities, in the spirit of the common-corruptions benchmarks.

Images are arrays ``(n, h, w)`` or channel-first ``(n, c, h, w)`` (``channels_last=True`` for
``(n, h, w, c)``). Results are clipped to the images' valid range: ``clip`` when given, else
the range inferred from the reference at ``fit`` (:func:`valid_range`: [0, 1], [-1, 1],
[0, 255] or the observed range), and the perturbation's description says which. Severity
is the integer level 1-5 (0 leaves images unchanged). Levels follow Hendrycks & Dietterich
(ICLR 2019), CIFAR-10-C settings, with sizes in pixels scaled by ``min(h, w) / 32`` so they apply to any image size.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

from shakeout._validation import check_choice
from shakeout.errors import ValidationError
from shakeout.perturb._base import Perturbation, check_clip, clip_note, register

CORRUPTIONS = ("corruption_gaussian_noise", "blur", "brightness", "contrast", "pixelate", "jpeg")
RENAMED = {"gaussian_noise": "corruption_gaussian_noise"}
"""Former corruption names and their names now: ``gaussian_noise`` is the sigma-based perturbation."""
LEVELS = {  # value at severity 1..5
    "corruption_gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # sigma, fraction of range
    "blur": (0.4, 0.6, 0.7, 0.8, 1.0),                  # Gaussian sigma in pixels at 32x32
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),            # added, fraction of value range
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),            # factor around each image's mean
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),          # resolution kept, CIFAR-C scale
    "jpeg": (80, 65, 58, 50, 40),                       # JPEG quality
}
# The JPEG standard's luminance quantisation table (ITU-T T.81, Annex K).
JPEG_TABLE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64).reshape(8, 8)


def valid_range(X: np.ndarray) -> tuple[float, float]:
    """The range pixel values may take, inferred from reference images.

    [0, 1] when every value lies in it; [-1, 1] when every value lies in that and some are
    negative; [0, 255] for whole numbers in [0, 255] whose largest exceeds 127 (8-bit
    images); otherwise the observed [min, max] (standardised images, or 8-bit images all
    darker than half scale, whose true range the data cannot tell: pass ``clip``).

    >>> valid_range(np.array([[0.2, 0.7]])), valid_range(np.array([[-0.5, 0.5]]))
    ((0.0, 1.0), (-1.0, 1.0))
    >>> valid_range(np.array([[3.0, 200.0]])), valid_range(np.array([[-2.1, 3.4]]))
    ((0.0, 255.0), (-2.1, 3.4))
    """
    low, high = float(np.min(X)), float(np.max(X))
    if 0 <= low and high <= 1:
        return (0.0, 1.0)
    if -1 <= low and high <= 1:
        return (-1.0, 1.0)
    if 0 <= low and 127 < high <= 255 and np.array_equal(X, np.round(X)):
        return (0.0, 255.0)
    return (low, high)


class _ImagePerturbation(Perturbation):
    """Shared plumbing: valid range at fit, channel-first view of the batch."""

    def __init__(self, *, channels_last: bool = False, clip: tuple[float, float] | None = None):
        self.channels_last = bool(check_choice(self, "channels_last", channels_last,
                                               (True, False)))
        self.clip = check_clip(self, clip)

    def _fit_array(self, X: np.ndarray) -> None:
        if X.ndim not in (3, 4):
            raise ValidationError(
                f"{type(self).__name__}: images must be (n, h, w) or (n, c, h, w), got shape "
                f"{X.shape}."
            )
        if np.max(X) <= np.min(X):
            raise ValidationError(f"{type(self).__name__}: the images are constant.")
        self.low_, self.high_ = self.clip or valid_range(X)

    def __repr__(self) -> str:
        text = super().__repr__()
        if not hasattr(self, "low_"):
            return text
        return f"{text} {clip_note((self.low_, self.high_), given=bool(self.clip))}"

    def _to_nchw(self, X: np.ndarray) -> np.ndarray:
        if X.ndim == 3:
            return X[:, None]
        return np.moveaxis(X, -1, 1) if self.channels_last else X

    def _from_nchw(self, out: np.ndarray, like: np.ndarray) -> np.ndarray:
        if like.ndim == 3:
            return out[:, 0]
        return np.moveaxis(out, 1, -1) if self.channels_last else out

    def _apply_array(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        out = self._corrupt(self._to_nchw(X), severity, rng)
        return np.clip(self._from_nchw(out, X), self.low_, self.high_)

    def _corrupt(self, X: np.ndarray, severity: float,
                 rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@register
class SaltAndPepper(_ImagePerturbation):
    """Set a fraction ``severity`` of pixels to the lowest or highest valid value (half each).

    ``clip`` (low, high) gives the valid range; by default it is inferred at ``fit``
    (:func:`valid_range`).

    >>> X = np.full((100, 1, 16, 16), 0.5)
    >>> out = SaltAndPepper().fit(np.concatenate([X, X * 0, X * 2])).apply(X, 0.1, seed=0)
    >>> round(float((out != 0.5).mean()), 2), sorted(set(np.unique(out).tolist()))
    (0.1, [0.0, 0.5, 1.0])
    """

    name = "salt_and_pepper"
    unit = "fraction of pixels"
    default_severities = (0.0, 0.02, 0.05, 0.1, 0.2)
    max_severity = 1.0

    def _corrupt(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        n, c, h, w = X.shape
        u = rng.random((n, 1, h, w))  # a pixel is hit in every channel at once
        out = np.where(u < severity / 2, self.low_, X)
        return np.where((u >= severity / 2) & (u < severity), self.high_, out)


@register
class ImageCorruption(_ImagePerturbation):
    """One common corruption of images at integer severity 1-5.

    Parameters
    ----------
    corruption : {"corruption_gaussian_noise", "blur", "brightness", "contrast", "pixelate", "jpeg"}
        Which corruption (this parameter was called ``kind``, a name that now says what a
        perturbation acts on: ``Perturbation.kind``).
        ``corruption_gaussian_noise`` adds noise whose sigma is a fraction of the valid range
        (0.04 to 0.10 at levels 1-5); it was called ``gaussian_noise`` before, a name that
        now belongs only to the sigma-based :class:`~shakeout.perturb.GaussianNoise`.
        ``jpeg`` runs JPEG's lossy step for real: 8x8 block DCT, quantisation with the
        standard luminance table at the level's quality, inverse DCT (per channel).
    channels_last : bool, default=False
        Images are ``(n, h, w, c)`` instead of ``(n, c, h, w)``.
    clip : (low, high) or None, default=None
        The images' valid range: results are clipped to it and relative levels are fractions
        of it. None infers it from the reference at ``fit`` (:func:`valid_range`: [0, 1] for
        data in [0, 1], [0, 255] for 8-bit data...); the description says which was used.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((4, 1, 8, 8))
    >>> blur = ImageCorruption(corruption="blur").fit(X)
    >>> blur.apply(X, 3, seed=0).shape, bool(blur.apply(X, 3, seed=0).std() < X.std())
    ((4, 1, 8, 8), True)
    >>> name, how = repr(blur).split(") ")
    >>> name, how
    ("ImageCorruption(channels_last=False, clip=None, corruption='blur'", 'clipped to [0, 1] (the valid \
range inferred from the reference)')
    """

    name = "image_corruption"
    unit = "level (1-5)"
    default_severities = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    max_severity = 5.0

    def __init__(self, *, corruption: str = "corruption_gaussian_noise",
                 channels_last: bool = False, clip: tuple[float, float] | None = None):
        super().__init__(channels_last=channels_last, clip=clip)
        if corruption in RENAMED:
            raise ValidationError(
                f"ImageCorruption: corruption {corruption!r} is now {RENAMED[corruption]!r} "
                "(noise at the common-corruption levels 1-5); for Gaussian noise with sigma in "
                "pixel units use the perturbation 'gaussian_noise' with relative=False.")
        self.corruption = check_choice(self, "corruption", corruption, CORRUPTIONS)

    def _level(self, severity: float) -> float:
        if float(severity) != int(severity):
            raise ValidationError(
                f"ImageCorruption: severity is an integer level 1-5, got {severity!r}."
            )
        return LEVELS[self.corruption][int(severity) - 1]

    def _corrupt(self, X: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
        level = self._level(severity)
        span = self.high_ - self.low_
        size = min(X.shape[-2:])
        if self.corruption == "corruption_gaussian_noise":
            return X + level * span * rng.standard_normal(X.shape)
        if self.corruption == "brightness":
            return X + level * span
        if self.corruption == "contrast":
            mean = X.mean(axis=(1, 2, 3), keepdims=True)
            return (X - mean) * level + mean
        if self.corruption == "blur":
            sigma = level * max(1.0, size / 32)
            return ndimage.gaussian_filter(X, sigma=(0, 0, sigma, sigma), mode="reflect")
        if self.corruption == "pixelate":
            return _pixelate(X, level)
        return _jpeg(X, level, self.low_, span)


def _cells(size: int, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """Averaging matrix (cells x size) and the cell of each pixel, for one axis."""
    cells = max(1, int(round(size * keep)))
    if cells == size and keep < 1:
        cells -= 1
    cell_of = np.minimum(np.arange(size) * cells // size, cells - 1)
    avg = np.zeros((cells, size))
    avg[cell_of, np.arange(size)] = 1.0
    avg /= avg.sum(axis=1, keepdims=True)
    return avg, cell_of


def _pixelate(X: np.ndarray, keep: float) -> np.ndarray:
    """Average over a coarser grid, then blow each cell back up (box down, nearest up)."""
    ah, cell_h = _cells(X.shape[-2], keep)
    aw, cell_w = _cells(X.shape[-1], keep)
    small = np.einsum("ih,nchw,jw->ncij", ah, X, aw)
    return small[:, :, cell_h][:, :, :, cell_w]


def _jpeg(X: np.ndarray, quality: float, low: float, span: float) -> np.ndarray:
    """JPEG's lossy core on 8x8 blocks: DCT, quantise, dequantise, inverse DCT."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    table = np.clip(np.floor((JPEG_TABLE * scale + 50) / 100), 1, 255)
    n, c, h, w = X.shape
    ph, pw = -h % 8, -w % 8
    pixels = (X - low) / span * 255.0 - 128.0
    pixels = np.pad(pixels, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
    H, W = pixels.shape[-2:]
    blocks = pixels.reshape(n, c, H // 8, 8, W // 8, 8).swapaxes(3, 4)
    coeffs = fft.dctn(blocks, type=2, axes=(-2, -1), norm="ortho")
    coeffs = np.round(coeffs / table) * table
    blocks = fft.idctn(coeffs, type=2, axes=(-2, -1), norm="ortho")
    pixels = blocks.swapaxes(3, 4).reshape(n, c, H, W)[:, :, :h, :w]
    return (np.clip(np.round(pixels + 128.0), 0, 255)) / 255.0 * span + low
