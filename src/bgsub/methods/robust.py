"""Noise-aware background: an exact lower envelope, lifted to the middle of the noise.

Every minimum-based method (rolling ball, opening) rests the background on the
*lowest* noisy pixels, a few noise standard deviations below the true level.
This method keeps the envelope's safety -- it can never take an object's light
where the envelope does not -- and removes that bias where it can be measured:

1. **Reduce.** The image is averaged over blocks of ``f`` pixels per axis,
   ``f`` about an eighth of the radius (1 for radii up to 12): the background
   is smooth at the scale of the radius, the block means are ``sqrt(f**ndim)``
   times less noisy, and every later step costs ``f**ndim`` times less.
2. **Noise.** The noise is measured on the full-resolution image
   (:func:`bgsub.methods._noise.estimate_noise`: Poisson-Gaussian, variance
   linear in the intensity), on at most a 512x512 crop per plane.
3. **Envelope.** The reduced image, smoothed over one cell, is opened by a
   dome (a paraboloid) that drops ``DOME`` noise standard deviations at one
   radius from its apex: the exact opening (:mod:`bgsub.kernels.parabola`)
   lies under every object of radius up to about a third of ``radius`` and
   follows any background bending less than the dome. Scaling the dome by the
   noise makes the result independent of the intensity unit (uint8, uint16,
   float).
4. **Lift.** Cells within ``threshold`` noise standard deviations of the
   envelope (above the mode of that residual) and more than ``grow`` pixels
   from any cell above it are background; the mean of the image above the
   envelope over the background cells, in a Gaussian window of ``smoothing``
   x ``radius``, is added back. Where a window holds few background cells the
   lift falls back towards its image-wide value (``PRIOR``), so a dense field
   degrades to the plain envelope plus the measured noise bias instead of
   extrapolating; a :class:`bgsub.BackgroundWarning` says so.
5. **Bound.** The result never rises above the smoothed block means plus
   ``threshold`` of their noise, nor below the envelope; it is carried back to
   every pixel by linear interpolation between block centres.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from bgsub._warnings import warn
from bgsub.kernels.parabola import paraboloid_opening
from bgsub.methods._localfit import local_polynomial_fit
from bgsub.methods._noise import NoiseModel, estimate_noise
from bgsub.methods._registry import Method, Parameter, register

CELLS_PER_RADIUS = 8.0  # the reduced grid has at least this many cells per radius
PRESMOOTH = 1.0  # Gaussian sigma, in cells, of the smoothing before the envelope
DOME = 2.0  # the dome drops this many pixel noise sds at one radius from its apex
PRIOR = 0.1  # weight, in full windows, of the image-wide lift in each window
OBJECT_WEIGHT = 0.1  # weight of an object cell (filled with envelope + lift) in the fit
FEW_BACKGROUND = 0.2  # warn below this fraction of background cells
NOISE_CROP = 512
MODE_BINS = 0.1  # histogram bin of the residual's mode, in noise sds


def robust_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    threshold: float = 3.0,
    smoothing: float = 0.25,
    grow: float = 2.0,
) -> np.ndarray:
    """Noise-aware background: the exact envelope lifted to the middle of the noise.

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    radius : tuple of float
        Per-axis size in pixels of the largest structure that is *not*
        background (as for a rolling ball: about 3x the object radius).
    threshold : float
        Background cells lie within this many noise standard deviations (of
        the smoothed block means) of the envelope's typical residual.
    smoothing : float
        Gaussian window (sigma) of the lift, as a fraction of ``radius``.
    grow : float
        Pixels by which the cells above the threshold (objects) are grown
        before the rest is taken as background.

    Returns
    -------
    ndarray
        The background, same shape and dtype as ``image``.

    Warns
    -----
    BackgroundWarning
        When fewer than 20 % of the image looks like background: the result
        is then close to the plain envelope (a rolling ball's), not the middle
        of the noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[0:128, 0:128]
    >>> truth = 500.0 + 2.0 * xx
    >>> image = rng.poisson(truth).astype(float)
    >>> image[40:50, 40:50] += 400.0
    >>> background = robust_background(image, (15.0, 15.0))
    >>> bool(np.sqrt(np.mean((background - truth) ** 2)) < 3.0)
    True
    """
    work = np.asarray(image, dtype=np.float64)
    factor = tuple(max(1, int(r / CELLS_PER_RADIUS)) for r in radius)
    cells = _block_mean(work, factor)
    model = estimate_noise(_crop(work))
    reduction = 1.0 / np.sqrt(float(np.prod(factor)))
    cell_radius = tuple(r / f for r, f in zip(radius, factor, strict=True))
    presmooth = tuple(PRESMOOTH * c / max(cell_radius) for c in cell_radius)
    smoothed = ndi.gaussian_filter(cells, presmooth, mode="nearest")
    gain = _smoothing_gain(presmooth)
    scale = max(float(model.sd(float(np.median(cells)))), _range_floor(cells))
    lowest = ndi.gaussian_filter(_block_min(work, factor), presmooth, mode="nearest")
    envelope = paraboloid_opening(lowest, tuple(DOME * scale / c**2 for c in cell_radius))
    sd_smoothed = model.sd(envelope) * reduction * gain
    background = _background_cells(smoothed - envelope, sd_smoothed, threshold,
                                   tuple(grow / f for f in factor))
    window = tuple(smoothing * c for c in cell_radius)
    lift = _lift(cells - envelope, background, window)
    filled = np.where(background, cells, envelope + lift)
    result = local_polynomial_fit(filled, np.where(background, 1.0, OBJECT_WEIGHT), window, 2)
    np.minimum(result, smoothed + threshold * sd_smoothed, out=result)
    np.maximum(result, envelope, out=result)
    return _upsample(result, factor, work.shape).astype(image.dtype, copy=False)


def _range_floor(values: np.ndarray) -> float:
    """A dome scale for (nearly) noise-free images: 0.5 % of the intensity range."""
    low, high = np.percentile(values, [1, 99])
    return max(0.005 * float(high - low), 1e-12)


def _background_cells(
    residual: np.ndarray, sd: np.ndarray, threshold: float, grow: tuple[float, ...]
) -> np.ndarray:
    """Cells whose residual above the envelope is within the noise of its mode."""
    score = residual / sd
    mode = _mode(score)
    below = mode - score[score < mode]
    spread = max(1.0, 1.4826 * float(np.median(below))) if below.size else 1.0
    objects = score > mode + threshold * spread
    if objects.any() and max(grow) >= 0.5:
        objects = ndi.binary_dilation(objects, structure=_ellipse(grow))
    return ~objects


def _mode(score: np.ndarray) -> float:
    """The most common value of ``score`` (histogram over 0-20, lightly smoothed)."""
    values = score.ravel()
    values = values[(values >= 0) & (values <= 20)]
    if values.size == 0:
        return 0.0
    counts, edges = np.histogram(values, bins=int(20 / MODE_BINS), range=(0.0, 20.0))
    counts = ndi.gaussian_filter1d(counts.astype(np.float64), 2.0, mode="constant")
    peak = int(np.argmax(counts))
    return float(0.5 * (edges[peak] + edges[peak + 1]))


def _lift(
    residual: np.ndarray, background: np.ndarray, sigma: tuple[float, ...]
) -> np.ndarray:
    """Windowed mean of ``residual`` over the background cells, shrunk to its global mean
    where the window holds few of them."""
    weights = background.astype(np.float64)
    count = float(weights.sum())
    fraction = count / weights.size
    if fraction < FEW_BACKGROUND:
        warn(f"only {100 * fraction:.0f} % of the pixels look like background; the estimate "
             "falls back towards the plain envelope (a rolling ball's) and may take object "
             "signal: use a larger radius or method='rolling_ball'")
    if count == 0:
        return np.zeros_like(residual)
    overall = float(np.sum(residual * weights) / count)
    total = ndi.gaussian_filter(residual * weights, sigma, mode="reflect")
    support = ndi.gaussian_filter(weights, sigma, mode="reflect")
    lift = (total + PRIOR * overall) / (support + PRIOR)
    return np.maximum(lift, 0.0, out=lift)


def _block_mean(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Means over blocks of ``factor`` pixels (the last block of an axis may be shorter)."""
    if all(f == 1 for f in factor):
        return image.copy()
    result = image
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        n = result.shape[axis]
        starts = np.arange(0, n, f)
        sums = np.add.reduceat(result, starts, axis=axis)
        counts = np.diff(np.append(starts, n)).astype(np.float64)
        shape = [1] * result.ndim
        shape[axis] = counts.size
        result = sums / counts.reshape(shape)
    return result


def _block_min(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Minimum over blocks of ``factor`` pixels of the image averaged over 2-pixel blocks."""
    pairs = tuple(2 if f % 2 == 0 else 1 for f in factor)
    result = _block_mean(image, pairs)
    for axis, (f, p) in enumerate(zip(factor, pairs, strict=True)):
        step = f // p
        if step <= 1:
            continue
        n = result.shape[axis]
        starts = np.arange(0, n, step)
        result = np.minimum.reduceat(result, starts, axis=axis)
    return result


def _upsample(cells: np.ndarray, factor: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Linear interpolation from block centres back to every pixel, axis by axis."""
    result = cells
    for axis, (f, n) in enumerate(zip(factor, shape, strict=True)):
        if f == 1:
            continue
        m = result.shape[axis]
        centres = np.minimum(np.arange(m) * f + (f - 1) / 2, (np.arange(m) * f + n - 1) / 2)
        position = np.interp(np.arange(n), centres, np.arange(m))
        low = np.floor(position).astype(np.intp)
        high = np.minimum(low + 1, m - 1)
        weight = position - low
        shape_w = [1] * result.ndim
        shape_w[axis] = n
        weight = weight.reshape(shape_w)
        result = (np.take(result, low, axis=axis) * (1 - weight)
                  + np.take(result, high, axis=axis) * weight)
    return result


def _crop(image: np.ndarray) -> np.ndarray:
    """The central ``NOISE_CROP`` pixels of each axis (the noise is measured there)."""
    slices = []
    for n in image.shape:
        start = max(0, (n - NOISE_CROP) // 2)
        slices.append(slice(start, start + NOISE_CROP))
    return image[tuple(slices)]


def _ellipse(radius: tuple[float, ...]) -> np.ndarray:
    reach = [int(np.floor(r)) for r in radius]
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in reach)]
    return sum((g / max(r, 1e-9)) ** 2 for g, r in zip(grids, radius, strict=True)) <= 1.0


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


def _halo(radius: tuple[float, ...], options: Mapping[str, Any]) -> tuple[int, ...]:
    # The noise model, the dome and the image-wide lift are measured on the whole block.
    return tuple(-1 for _ in radius)


__all__ = ["NoiseModel", "robust_background"]

register(
    Method(
        name="robust",
        summary="Noise-aware: the exact paraboloid envelope lifted by the measured noise bias "
        "(background through the middle of the noise, never above the data)",
        estimate=robust_background,
        parameters=(
            Parameter("threshold", 3.0, "background: within this many noise sds of the "
                      "envelope", minimum=0.0, allow_none=False),
            Parameter("smoothing", 0.25, "window of the lift (Gaussian sigma) as a fraction of "
                      "radius", minimum=0.0, allow_none=False),
            Parameter("grow", 2.0, "pixels by which objects are grown", minimum=0.0,
                      exclusive=False, allow_none=False),
        ),
        halo=_halo,
        aliases=("noise_aware",),
    )
)
