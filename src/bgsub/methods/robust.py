"""Noise-aware background: a smooth surface through the middle of the background's noise.

Minimum-based methods (rolling ball, opening, min-then-max) rest the background
on the *lowest* noisy pixels, so it sits a few noise standard deviations below
the true level and the foreground keeps an offset that grows with the local
noise. This method instead

1. measures the noise from the image (:func:`bgsub._noise.estimate_noise`:
   Poisson-Gaussian, variance linear in the intensity, when the data say so);
2. finds the objects: pixels whose lightly smoothed residual above a first
   estimate (an opening of the smoothed image) exceeds ``threshold`` noise
   standard deviations, grown by ``grow`` pixels;
3. fits a smooth surface through the remaining, background pixels by local
   quadratic regression in a Gaussian window
   (:func:`bgsub._localfit.local_polynomial_fit`) -- a least-squares fit, so
   it runs through the middle of the noise, and a quadratic one, so it follows
   vignetting and bridges the holes the objects leave without sagging. The
   window (0.25-1.4 x ``radius``) is chosen by generalised cross-validation:
   the best trade between averaging the noise away and following the
   background's shape;
4. repeats 2-3 against the new surface (``iterations`` fits in all);
5. keeps the result a lower envelope of the signal: it never rises more than
   ``2 * threshold`` standard deviations of the noise left after averaging
   over a couple of pixels above that average, so unmasked object light cannot
   lift it above the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from bgsub._localfit import local_polynomial_fit
from bgsub._noise import NoiseModel, estimate_noise, robust_centre_scale
from bgsub.kernels.flat import footprint_array as footprint
from bgsub.methods._registry import Extent, Method, Parameter, register

PRESMOOTH_SIGMA = 1.0
CAP_SIGMA = 2.0
WINDOW_RANGE = (0.2, 1.45)  # cross-validated windows, as fractions of the radius
WINDOW_START = 0.5
MIN_SCALE = 0.25  # measured residual spread never taken below this fraction of the model's


def robust_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    threshold: float = 3.0,
    smoothing: float | None = None,
    iterations: int = 3,
    order: int = 2,
    grow: float = 2.0,
) -> np.ndarray:
    """Noise-aware background: local quadratic fit through the background pixels.

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    radius : tuple of float
        Per-axis size in pixels of the largest structure that is *not*
        background (as for a rolling ball: about 3x the object radius). Sets
        the opening of the first estimate and the scale of the fit's window.
    threshold : float
        Objects are where the residual, smoothed over ~1 pixel, exceeds this
        many noise standard deviations.
    smoothing : float, optional
        The fit's Gaussian window (sigma) as a fraction of ``radius``. Smaller
        follows the background more closely but averages less noise and
        bridges smaller holes. ``None`` (default): each fit's window is chosen
        by generalised cross-validation among windows of ``sqrt(2) ** k``
        pixels between 0.2 and 1.45 x ``radius``, walking downhill from the
        one nearest 0.5 x ``radius``.
    iterations : int
        Number of fit / re-classify rounds.
    order : {0, 1, 2}
        Degree of the local polynomial (0: normalised Gaussian convolution).
    grow : float
        Radius in pixels by which the object mask is dilated (object edges
        fainter than the threshold).

    Returns
    -------
    ndarray
        The background, same shape and dtype as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[0:96, 0:96]
    >>> truth = 500.0 + 2.0 * xx
    >>> image = rng.poisson(truth).astype(float)
    >>> image[40:50, 40:50] += 400.0
    >>> background = robust_background(image, (15.0, 15.0))
    >>> bool(np.sqrt(np.mean((background - truth) ** 2)) < 3.0)
    True
    """
    work = np.asarray(image, dtype=np.float64)
    model = estimate_noise(work)
    presmooth = tuple(PRESMOOTH_SIGMA * r / max(radius) for r in radius)
    gain = _smoothing_gain(presmooth)
    smoothed = ndi.gaussian_filter(work, presmooth, mode="reflect")
    envelope = _opening(smoothed, radius)
    mask, _ = _objects(smoothed - envelope, model.sd(envelope) * gain, threshold, grow)
    step = None
    for round_ in range(int(iterations)):
        if smoothing is None:
            background, step = _cross_validated_fit(work, ~mask, radius, order, model, step)
        else:
            background = local_polynomial_fit(work, ~mask, tuple(smoothing * r for r in radius),
                                              order)
        if round_ + 1 < iterations:
            residual = ndi.gaussian_filter(work - background, presmooth, mode="reflect")
            mask, _ = _objects(residual, model.sd(background) * gain, threshold, grow)
    return _below_signal(background, work, model, threshold).astype(image.dtype, copy=False)


def _cross_validated_fit(
    image: np.ndarray,
    keep: np.ndarray,
    radius: tuple[float, ...],
    order: int,
    model: NoiseModel,
    start: int | None = None,
) -> tuple[np.ndarray, int]:
    """The fit whose window minimises the generalised cross-validation score.

    The windows are ``sqrt(2) ** k`` pixels (along the axis of the largest
    radius; the others in proportion) between ``WINDOW_RANGE`` times the
    radius: a ladder fixed in pixels, so that nearby radii choose among the
    same windows. Walks it from ``k = start`` (default: the window nearest
    ``WINDOW_START`` x radius) downhill in both directions; returns the fit
    and its ``k``.
    """
    largest = max(radius)
    ladder = range(int(np.ceil(2 * np.log2(WINDOW_RANGE[0] * largest))),
                   int(np.floor(2 * np.log2(WINDOW_RANGE[1] * largest))) + 1)
    if len(ladder) == 0:
        ladder = range(ladder.start, ladder.start + 1)
    if start is None:
        start = int(np.round(2 * np.log2(WINDOW_START * largest)))
    scores: dict[int, tuple[float, np.ndarray]] = {}

    def score(step: int) -> float:
        if step not in scores:
            size = np.sqrt(2.0) ** step
            window = tuple(size * r / largest for r in radius)
            fit, trace = local_polynomial_fit(image, keep, window, order, leverage=True)
            scores[step] = (_gcv(image, fit, trace, keep, model), fit)
        return scores[step][0]

    best = min(max(start, ladder.start), ladder.stop - 1)
    for direction in (-1, 1):
        step = best
        while step + direction in ladder and score(step + direction) < score(step):
            step += direction
        if score(step) < score(best):
            best = step
    return scores[best][1], best


def _gcv(
    image: np.ndarray, fit: np.ndarray, trace: float, keep: np.ndarray, model: NoiseModel
) -> float:
    """Generalised cross-validation score of a fit over the background pixels.

    The residuals are divided by the modelled noise so that bright, noisier
    regions do not dominate; the score penalises a window that follows the
    noise (its leverage) as much as one that misses the background's shape.
    """
    count = int(keep.sum())
    if count == 0:
        return float("inf")
    residual = (image - fit)[keep] / model.sd(fit[keep])
    dof = trace / count
    if dof >= 1.0:
        return float("inf")
    return float(np.mean(residual**2)) / (1.0 - dof) ** 2


def _below_signal(
    background: np.ndarray, image: np.ndarray, model: NoiseModel, threshold: float
) -> np.ndarray:
    """Cap the background at the denoised image plus twice ``threshold`` of its noise.

    The true background is never above the noise-free signal (objects add
    light), so wherever the fit rises above the locally averaged image by more
    than the noise allows, it was pulled up by unmasked object light there.
    The image is denoised by a local linear fit in a Gaussian window of 2
    pixels (a plain blur would bend a tilted background at the border); the
    margin is doubled because such a fit is noisier at the border.
    """
    sigma = (CAP_SIGMA,) * image.ndim
    denoised = local_polynomial_fit(image, np.ones(image.shape), sigma, 1, ridge=0.0)
    cap = denoised + 2 * threshold * model.sd(denoised) * _smoothing_gain(sigma)
    return np.minimum(background, cap)


def _smoothing_gain(sigma: tuple[float, ...]) -> float:
    """Factor by which the Gaussian of ``sigma`` shrinks white noise's sd."""
    gain = 1.0
    for s in sigma:
        reach = int(4 * s + 0.5)
        impulse = np.zeros(2 * reach + 1)
        impulse[reach] = 1.0
        kernel = ndi.gaussian_filter1d(impulse, s, mode="constant")
        gain *= float(np.sqrt(np.sum(kernel**2)))
    return gain


def _opening(image: np.ndarray, radius: tuple[float, ...]) -> np.ndarray:
    """Grey opening by a box of half-size ``radius`` (separable, any radius)."""
    size = tuple(2 * int(r) + 1 for r in radius)
    return ndi.maximum_filter(ndi.minimum_filter(image, size, mode="nearest"), size,
                              mode="nearest")


def _objects(
    residual: np.ndarray, sd: np.ndarray, threshold: float, grow: float
) -> tuple[np.ndarray, float]:
    """Object mask: residual beyond ``threshold`` robust sds of its own spread.

    The residual is divided by the modelled noise, then centred and scaled by
    its own clipped median and MAD, so a model off by a constant factor (or a
    first estimate offset below the noise) still gives the right threshold.
    Returns the mask and the threshold level in modelled-noise units.
    """
    score = residual / sd
    centre, scale = robust_centre_scale(score)
    scale = max(scale, MIN_SCALE)  # a noise-free image: trust the model's floor
    level = centre + threshold * scale
    mask = score > level
    diagonal = float(np.sqrt(sum(n * n for n in residual.shape)))
    if grow >= diagonal and mask.any():  # reaches every pixel: no footprint of grow**ndim
        mask = np.ones_like(mask)
    elif grow > 0 and mask.any():
        mask = ndi.binary_dilation(mask, structure=footprint((grow,) * residual.ndim))
    return mask, level


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    # The noise model and the object threshold are measured on the whole block.
    return extent.shape


register(
    Method(
        name="robust",
        summary="Noise-aware: local quadratic fit through the middle of the noise of the "
        "background pixels (objects masked from the measured noise)",
        estimate=robust_background,
        parameters=(
            Parameter("threshold", 3.0, "object threshold in noise standard deviations",
                      minimum=0.0, allow_none=False),
            Parameter("smoothing", None, "fit window (Gaussian sigma) as a fraction of radius "
                      "(None: chosen by cross-validation)", minimum=0.0),
            Parameter("iterations", 3, "fit / re-classify rounds", choices=(1, 2, 3, 4, 5),
                      allow_none=False),
            Parameter("order", 2, "degree of the local polynomial", choices=(0, 1, 2),
                      allow_none=False),
            Parameter("grow", 2.0, "pixels by which the object mask is dilated", minimum=0.0,
                      exclusive=False, allow_none=False),
        ),
        halo=_halo,
        aliases=("noise_aware",),
    )
)
