"""Noise-aware background: an exact lower envelope, lifted to the middle of the noise.

Every minimum-based method (rolling ball, opening) rests the background on the
*lowest* noisy pixels, a few noise standard deviations below the true level.
This method keeps the envelope's safety -- it can never take an object's light
where the envelope does not -- and removes that bias where it can be measured:

1. **Reduce.** The image is averaged over blocks of ``f`` pixels per axis,
   ``f`` about a twelfth of the radius (1 below 12 px, 2 from 16 to 24 px, where
   single pixels would cost four times the time and memory; between two block
   sizes the two results are blended, over at least 12 % of the radius, so the
   result varies smoothly with the radius; at either end of a blend the other
   size weighs nothing and is not computed); block minima of its 2-pixel
   moving average are kept too (so narrow gaps between crowded objects still
   count). Every later step costs ``f**ndim`` times less.
2. **Noise.** The noise is measured on the full-resolution image, on its
   central 512-pixel crop: one level for the whole image, the spread of the
   finest-scale residual pooled over the flat pixels
   (:func:`bgsub.methods._noise.estimate_noise` with ``uniform=True``). Not
   the Poisson-Gaussian model, whose variance follows the intensity: a smooth
   field added to the image that is not photons (stray light, an offset,
   shading added in processing) would change it where it hides or mimics a
   Poisson term, and with it every noise-scaled step below. Then dead (cold)
   camera pixels -- below all their neighbours but one by more than
   ``COLD_SDS`` noise sds and ``COLD_SPREAD`` times those neighbours' spread
   (:func:`bgsub.methods._noise.raise_cold_pixels`) -- are raised to that
   neighbour in the working copy, before the trend and the envelope rest on
   them (the data are not changed); so are bands of dead columns or rows, and
   clusters of pixels at one value far below the data.
3. **Envelope.** The block minima, smoothed over one cell (but never more than
   ``MINIMA_CAP`` of their spreads in the noise above the block's own minimum, so
   that the objects around a narrow gap do not fill it), less a polynomial
   trend (degree 4, moved towards 6 where it misses the background's large scale
   by more than the noise, or leaves the lower envelope of every cell far above the
   background where 6 takes that rise, and towards 8 and 10 likewise: see
   :func:`fit_trend`) fitted to the background cells of block minima on a grid
   that does not depend on the radius (``n // TREND_CELLS`` pixels a block,
   raised by their expected depth in the noise; smooth weights, at least
   ``TREND_LEAST`` of the cells: tilt and vignetting, no tilt offset, and the
   same trend at every radius), are opened by a
   dome (a paraboloid) that drops ``DOME`` noise standard deviations at one
   radius from its apex, or bends more than the background does (over a radius, and
   over half a radius where a steeper dome rests on the data -- read again on a steeper
   dome, the results blended near the threshold, where that reads much of its own
   bending; each at most an eighth of
   the side, the second a twelfth where the envelope leaves enough background cells),
   whichever is steeper: the exact opening (:mod:`bgsub.kernels.parabola`) lies under every
   object up to about a third of ``radius``. Its apex may lie up to a third of
   the radius beyond the image's edges, on the odd continuation of each edge
   row's own opening (never below it): a background that rises to an edge is
   followed up to it, an object cut by the edge is not climbed. Tied to the
   noise, not to grey levels, the result does not depend on the intensity unit.
4. **Lift.** Cells (block means as they are; single pixels smoothed over one
   pixel; blocks of 2 pixels, up to 20 px, by their most object-like pixel, so
   smoothed: a block mean dilutes a small object's faint edge; by their means from
   24 px, 4x cheaper, blended between) within ``threshold`` robust spreads of the
   residual's
   background peak (where the smoothed histogram first rises to a quarter of its
   highest, as objects may outnumber the background, taken as a smooth step and
   climbed by mean shift, so that it moves continuously with the data) and more
   than ``grow`` pixels from any cell above it are background (a smooth step of
   one spread either side of the threshold, not a hard cut); the envelope's
   rise on the object cells above its mean over the background cells around
   them (the dome resting on the background either side of an object rises
   into it), or above the far
   background's level where that is larger (``_far_rise``), is taken off, and
   the mean of the block means above the envelope over the background, in a
   Gaussian window of ``smoothing`` x ``radius``, is added back. Where a window
   holds few background cells the lift falls back towards its image-wide value
   (``PRIOR``), and it never exceeds what white noise of the measured sd
   explains (and the background's own slope across a block: a block's minimum lies
   that much lower still; and a bend of the background that the dome cuts under: how
   far it lies under the steeper dome, beyond that gap's image-wide median, which is
   the noise's and a texture's share), so a dense field degrades to the plain envelope
   instead of rising into the objects; a :class:`bgsub.BackgroundWarning` says so.
5. **Bound.** The result never rises above the smoothed block means plus
   ``threshold`` of their noise or the local maximum, nor sinks below the
   envelope (less that rise) or the local minimum within the radius (windows
   blended between whole cells, so they move continuously with the radius); it
   is carried back to every pixel by linear interpolation between block
   centres.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from bgsub._arrays import in_ordinary_unit
from bgsub._cancel import checkpoint
from bgsub._lazy import import_before_threads, lazy_module
from bgsub._warnings import warn
from bgsub.kernels.bins import MAD_TO_SD, median, median_below, percentiles, percentiles_of_parts
from bgsub.kernels.blocks import block_minima_less
from bgsub.kernels.flat import flat_dilation, flat_erosion
from bgsub.kernels.gaussian import (
    direct_gaussian_filter,
    direct_gaussian_filter1d,
    gaussian_filter_in_double,
)
from bgsub.kernels.parabola import paraboloid_opening
from bgsub.kernels.resample import upsample_centres, upsampled_strips
from bgsub.kernels.threads import limit_threads, num_threads
from bgsub.methods._noise import (
    ColdPixels,
    NoiseModel,
    NoiseShading,
    clip_outliers,
    estimate_noise,
    find_cold_pixels,
    lift_cold_pixels,
    noise_shading,
    raise_cold_pixels,
    robust_centre_scale,
)
from bgsub.methods._registry import Extent, Method, Parameter, register
from bgsub.methods._robust_blocks import (
    PRESMOOTH,
    block_coordinates,
    block_max,
    block_mean,
    block_min,
    minimum_depth,
    minimum_spread,
)
from bgsub.methods._robust_mode import lowest_peak
from bgsub.methods._robust_trend import Trend, fit_trend, smooth_step

ndi = lazy_module("scipy.ndimage")  # ~0.2 s to import: on the first estimate, not on import bgsub

CELLS_PER_RADIUS = 12.0  # the reduced grid has at least this many cells per radius ...
PAIRS_FROM = 16.0  # ... but from this radius on blocks are at least 2 pixels (8 cells a radius)
PAIRS_BLEND = 12.0  # ... blended in from single pixels from this radius
PAIRS_BY_PIXEL = (20.0, 24.0)  # blocks of 2 judged pixel by pixel up to the first radius, by
#                                their means from the second (4 times cheaper), blended between
DOME = 2.0  # the dome drops this many pixel noise sds at one radius from its apex
STEEP = 8.0  # a first, steeper dome measures how much the background bends locally
SATURATED = 0.1  # ... where that reads (near the data) this share of the steep dome's own
STEEPER = 4.0  # ... bending, it cut under the background's crests: read again on a dome this
STEEPER_ROUNDS = 2  # ... many times steeper, at most this many times
SATURATED_BAND = (0.75, 1.25)  # ... by a smooth step over these multiples of SATURATED (the
#                                envelopes with and without the steeper round blended by it)
FOLLOW = 2.5  # the dome bends at least this much more than the background (as measured)
BENDING_NEAR = 0.5  # ... also measured over this fraction of the radius where it rests on data
BENDING_MOST = 1.0 / 8.0  # ... each window at most this fraction of the side
NEAR_MOST = 1.0 / 12.0  # ... the near one at most this fraction of the side where the
NEAR_NARROWED = (0.22, 0.32)  # ... envelope leaves this share of background cells (in part
#                               from the first, wholly from the second; see _narrowed_near)
PRIOR = 0.1  # weight, in full windows, of the image-wide lift in each window
FAR_MARGIN = 0.15  # the far background: cells at least this fraction of the radius from objects
FAR_WINDOW = 0.5  # ... whose envelope, in a Gaussian window of this x the radius, levels the
# envelope's rise into the objects (the dome rises over about half a radius around each)
FAR_BLOCKS = 4.0  # ... summed on blocks of about 1 / this of the window (its sigma)
CEILING = 2.0  # the lift is at most this many times the block minima's expected depth
FEW_BACKGROUND = 0.2  # warn below this fraction of background cells
MIN_CELLS_TO_WARN = 256  # (on a smaller grid the fraction says little)
STRIP_CELLS = 1 << 14  # grid cells per strip where a step is taken a strip at a time (its
# temporaries and strips of 2^16 float64 cells weighed a sixth of an image buffer at 768x768)
HOLD_FROM = 3  # on blocks of this many pixels a side or more, a grid may be held to be reused
BLEND = 0.5  # between block sizes, results are blended over at least this middle part of
BLEND_SPAN = 0.12  # ... the step, and over at least this fraction of the radius (the whole
#                    step from blocks of 8 on: one block size is 1 / f of the radius apart)
SIDE_BY_SIDE_FROM = 3  # two blended estimates run side by side on blocks of at least this
NOISE_CROP = 512
MODE_WIDTH = 0.3  # the background cells' peak: a histogram smoothed over at least this many
# noise sds (the block means of photon-counting data take discrete values: a comb of narrow
# peaks; see lowest_peak)
MINIMA_CAP = 4.0  # smoothed block minima: at most this many of their spreads above the block's
EDGE_REACH = 1.0 / 3.0  # the dome's apex may lie this fraction of the radius beyond an edge
NOISE_MAP_SIDE = 256  # the noise's shading is measured on at most this many cells a side


#: :func:`prepare_robust`'s measurements: the noise model, the trend, the noise's shading, the
#: cold pixels.
Prepared = tuple[NoiseModel, Trend, "NoiseShading | None", ColdPixels]


def robust_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    threshold: float = 3.0,
    smoothing: float = 0.25,
    grow: float = 2.0,
    prepared: Prepared | None = None,
    follow: float = FOLLOW,
    steeper: int = STEEPER_ROUNDS,
    overwrite_input: bool = False,
    warn: bool = True,
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
    prepared : tuple, optional
        :func:`prepare_robust` of this same ``image`` (its noise model, trend, noise
        shading and cold pixels, which do not depend on the radius); measured here when
        omitted.
    follow : float
        The dome bends at least this many times more than the background's measured
        bending (``FOLLOW``), so that it follows a bend of the background instead of
        cutting under it. :func:`bgsub.auto.suggest_radius` flattens with a gentler dome.
    steeper : int
        Where the steep dome that measures the background's bending reads a large share of
        its own (``SATURATED``), it cut under the background's crests and read them too
        flat: the bending is read again on a dome ``STEEPER`` x steeper, at most this many
        times (``STEEPER_ROUNDS``; ``suggest_radius`` flattens with none). Near the
        threshold (``SATURATED_BAND``) the dome is made only part of that steeper and the
        envelopes with and without the steeper round are blended by that part, so that the
        result moves smoothly with the radius.
    overwrite_input : bool
        Whether a float ``image`` may be changed (divided by the noise's shading) in place
        instead of in a copy: one image-sized buffer less (the engine's own copy of a block).
    warn : bool
        Whether a field with little background is warned of (below). ``False`` where the
        caller expects one: a flattening for the automatic radius (thread-safe, unlike
        silencing the warning with :func:`warnings.catch_warnings`).

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
    >>> bool(np.sqrt(np.mean((background - truth) ** 2)) < 6.0)  # the noise's sd: ~27
    True
    """
    work, unit = in_ordinary_unit(_as_float(image))
    # (prepare_robust's steps, inline: its division by the shading would be a second copy)
    shading = _noise_shading(work) if prepared is None else prepared[2]
    # (the data's range, for the last clip, read before ``image`` may be divided in place)
    data_range = None if shading is None else (np.min(image), np.max(image))
    work = _in_units(work, shading, overwrite_input or work is not image)
    model = _noise_model(work) if prepared is None else prepared[0]
    # (a dead pixel would pull the envelope down around it; where prepared, they were found
    # in these same values)
    cold = find_cold_pixels(work, model, shading) if prepared is None else prepared[3]
    work = lift_cold_pixels(work, cold, overwrite_input or work is not image)
    trend = fit_trend(work, model) if prepared is None else prepared[1]
    checkpoint()
    options = dict(threshold=threshold, smoothing=smoothing, grow=grow, trend=trend,
                   follow=follow, steeper=steeper)
    (low, high), share = _blocks_used(radius)
    if share <= 0.0:
        result = _estimate(work, radius, low, model, warn_dense=warn, **options)
    elif share >= 1.0:
        result = _estimate(work, radius, high, model, warn_dense=warn, **options)
    else:  # between two block sizes: blend, so the result varies smoothly with the radius
        # the finer blocks judge how much is background (a coarser block straddling an
        # object's edge reads as background more often), so they alone may warn
        finer, coarser = _blended_pair(work, radius, (low, high), model, options, warn)
        result = _blend_on_pixels((finer, coarser), (low, high), share, work.shape)
        del finer, coarser
    if shading is not None:
        shading.apply(result, out=result)
    if unit != 1.0:
        result /= unit
    if shading is not None:
        # the local bounds hold in the noise's units; back in the data's, a bound at a
        # saturated pixel (its value over a lower shading) can rise past the saturation where
        # the shading is higher: never past the data's range (a uint8 field clipped at 255 on
        # an eighth of the plane: 7 % of it up to 0.8 grey levels above 255)
        np.clip(result, *data_range, out=result)
    return result.astype(image.dtype, copy=False)


def _blend_on_pixels(cells: tuple[np.ndarray, np.ndarray],
                     factors: tuple[tuple[int, ...], tuple[int, ...]], share: float,
                     shape: tuple[int, ...]) -> np.ndarray:
    """``(1 - share)`` x the finer estimate plus ``share`` x the coarser (``cells``: each on
    its blocks of ``factors``), each carried to every pixel a strip of rows at a time
    (:func:`bgsub.kernels.resample.upsampled_strips`): the values of carrying both to the
    pixels and then blending them, without the second image-sized array."""
    if max(factors[0]) == 1:  # (single pixels: already on the pixels, blended in place)
        result = cells[0]
        result *= 1.0 - share
    else:
        result = np.empty(shape, dtype=cells[0].dtype)
        for rows, strip in upsampled_strips(cells[0], factors[0], shape):
            np.multiply(strip, 1.0 - share, out=result[rows])
    for rows, strip in upsampled_strips(cells[1], factors[1], shape):
        strip *= share
        result[rows] += strip
    return result


def _blended_pair(work: np.ndarray, radius: tuple[float, ...],
                  factors: tuple[tuple[int, ...], tuple[int, ...]], model: NoiseModel,
                  options: dict[str, Any], warn: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The estimates on the finer and the coarser of ``factors`` (each on its blocks, in
    ``work``'s dtype: :func:`_blend_on_pixels` carries them to the pixels), to be blended;
    only the finer may warn (where ``warn``). They read ``work`` and write nothing shared, so
    they run side by side, one core each (their own steps side by side would crowd two cores), where
    both work on blocks of at least ``SIDE_BY_SIDE_FROM`` pixels: finer blocks hold
    image-sized buffers (blocks of 2 are judged pixel by pixel), and two of them at once would
    pass the 6-buffer peak (7.6 at 1024x1024)."""
    low, high = factors

    def alone(factor: tuple[int, ...], warn_dense: bool) -> np.ndarray:
        with limit_threads(1):
            return _estimate(work, radius, factor, model, warn_dense=warn_dense,
                             on_pixels=False, **options)

    if min(low) >= SIDE_BY_SIDE_FROM:
        return _side_by_side(lambda: alone(low, warn), lambda: alone(high, False))
    return (_estimate(work, radius, low, model, warn_dense=warn, on_pixels=False, **options),
            _estimate(work, radius, high, model, warn_dense=False, on_pixels=False, **options))


def prepare_robust(image: np.ndarray, *, shading: bool = True) -> Prepared:
    """What :func:`robust_background` measures on ``image`` whatever the radius: the noise's
    shading (:func:`_noise_shading`, None where flat), then, on the image in its units, the
    noise model (on the central crop), its cold pixels (dead camera pixels:
    :func:`bgsub.methods._noise.find_cold_pixels`) and, with those raised, the trend (on a
    grid fixed by the image's size). Returned as (model, trend, shading, cold pixels)."""
    work, _ = in_ordinary_unit(_as_float(image))
    measured = _noise_shading(work) if shading else None
    # (the noise on the crop in the noise's units first: its measurement's grids are freed
    # before a copy of the whole image in those units is made)
    model = _noise_model(work, measured)
    work = _in_units(work, measured, work is not image)
    cold = find_cold_pixels(work, model, measured)
    return model, fit_trend(lift_cold_pixels(work, cold, work is not image), model), measured, cold


def _noise_model(work: np.ndarray, shading: NoiseShading | None = None) -> NoiseModel:
    """The noise model of ``work``, measured on its central crop (divided by the noise's
    ``shading`` there, where given: the crop of :func:`_in_units`, the same values)."""
    where = _crop_slices(work.shape)
    crop = work[where]
    if shading is not None:
        crop = shading.apply(crop, divide=True, part=(work.shape, where))
    return estimate_noise(crop, uniform=True)


def _noise_shading(work: np.ndarray) -> NoiseShading | None:
    """The noise's smooth variation over a plane (:func:`bgsub.methods._noise.noise_shading`,
    on block means of at most ``NOISE_MAP_SIDE`` cells a side); None where it is flat, or for
    a volume."""
    if work.ndim != 2:
        return None
    step = max(1, -(-min(work.shape) // NOISE_MAP_SIDE))
    return noise_shading(block_mean(work, (step, step)))


def _in_units(work: np.ndarray, shading: NoiseShading | None, owned: bool) -> np.ndarray:
    """``work`` in units of the noise's ``shading`` (in place where ``owned``: a copy of the
    caller's image made here, so that no second image-sized buffer is held)."""
    if shading is None:
        return work
    return shading.apply(work, divide=True, out=work if owned else None)


def _factors(radius: tuple[float, ...]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], float]:
    """The block sizes either side of each radius's :func:`_position` and where between them
    the largest radius lies (0-1)."""
    positions = [_position(r) for r in radius]
    low = tuple(max(1, int(p)) for p in positions)
    high = tuple(int(p) + 1 if p >= 1 else 1 for p in positions)
    position = _position(max(radius))
    weight = position - int(position) if position >= 1 else 0.0
    return (low, high), weight


def _blocks_used(radius: tuple[float, ...]
                 ) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], float]:
    """The block sizes either side of ``radius`` (:func:`_factors`) and the coarser one's
    share of the result (0: the finer alone, 1: the coarser alone): a linear ramp over the
    middle ``BLEND`` of the step, widened to ``BLEND_SPAN`` of the radius where the step is
    narrower than that in the radius (the errors of neighbouring block sizes alone differed
    by up to 1.65x on the outside images: a narrow ramp passed most of that on between radii
    5 % apart)."""
    (low, high), weight = _factors(radius)
    width = min(1.0, max(BLEND, BLEND_SPAN * (max(low) + 0.5)))
    return (low, high), min(1.0, max(0.0, (weight - (0.5 - 0.5 * width)) / width))


class BlockSizes(NamedTuple):
    """The block sizes :func:`robust_background` averages an image over at a radius
    (:func:`blocks_used`)."""

    finer: tuple[int, ...]
    coarser: tuple[int, ...]
    share: float


def blocks_used(radius: float | tuple[float, ...], ndim: int = 2) -> BlockSizes:
    """The block sizes ``robust`` averages the image over at ``radius``, and how the two
    estimates either side of it are blended.

    ``robust`` works on blocks of about a twelfth of the radius a side (single pixels below
    12 px, pairs from 16 to 24 px). Where the radius falls between two block sizes it
    computes both estimates and blends them, so that the result varies smoothly with the
    radius; there it takes about a third more time than on one block size, up to twice.

    Parameters
    ----------
    radius : float or tuple of float
        The radius in pixels, one per axis, or one for all ``ndim`` axes (positive, finite).
    ndim : int, optional
        The image's number of axes, where ``radius`` is one number (2: a plane).

    Returns
    -------
    BlockSizes
        ``finer`` and ``coarser``, the block sizes per axis either side of the radius, and
        ``share``, the coarser blocks' share of the result: 0 where the finer ones alone are
        computed, 1 where the coarser ones alone are, both between.

    Examples
    --------
    >>> blocks_used(20.0)
    BlockSizes(finer=(2, 2), coarser=(3, 3), share=0.0)
    >>> used = blocks_used((42.5, 42.5))
    >>> used.finer, used.coarser, round(used.share, 2)
    ((3, 3), (4, 4), 0.58)
    """
    message = f"radius must be positive and finite, got {radius!r}"
    try:
        radii = tuple(float(r) for r in np.ravel(np.asarray(radius, dtype=np.float64)))
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if np.ndim(radius) == 0:
        radii *= ndim
    if not radii or not all(np.isfinite(r) and r > 0 for r in radii):
        raise ValueError(message)
    (finer, coarser), share = _blocks_used(radii)
    return BlockSizes(finer, coarser, share)


def _by_pixel(factor: tuple[int, ...], radius: float) -> float:
    """How far blocks of ``factor`` pixels are judged pixel by pixel (:func:`_pixel_background`)
    rather than by their means at ``radius``: blocks of 2 fully up to ``PAIRS_BY_PIXEL[0]``,
    not from ``PAIRS_BY_PIXEL[1]`` (a smooth step between); other blocks never."""
    if max(factor) != 2:
        return 0.0
    low, high = PAIRS_BY_PIXEL
    return 1.0 - smooth_step((radius - low) / (high - low))


def _position(radius: float) -> float:
    """Where ``radius`` lies among the block sizes: ``radius / CELLS_PER_RADIUS`` (a block
    size, or between two), but 2 from ``PAIRS_FROM`` up to twice ``CELLS_PER_RADIUS``, and
    moving from 1 to 2 between ``PAIRS_BLEND`` and ``PAIRS_FROM``: single pixels cost four
    times the time and memory of blocks of 2, and blocks of 2, their objects found pixel by
    pixel (:func:`_pixel_background`), are as close (at 8-12 cells a radius)."""
    if radius < PAIRS_BLEND or radius >= 2.0 * CELLS_PER_RADIUS:
        return radius / CELLS_PER_RADIUS
    if radius >= PAIRS_FROM:
        return 2.0
    return 1.0 + (radius - PAIRS_BLEND) / (PAIRS_FROM - PAIRS_BLEND)


def _estimate(
    work: np.ndarray,
    radius: tuple[float, ...],
    factor: tuple[int, ...],
    model: NoiseModel,
    *,
    threshold: float,
    smoothing: float,
    grow: float,
    trend: Trend,
    follow: float,
    steeper: int,
    warn_dense: bool = True,
    on_pixels: bool = True,
) -> np.ndarray:
    """Steps 1-5 on blocks of ``factor`` pixels; the background in ``work``'s dtype, carried
    to every pixel (or, unless ``on_pixels``, on the blocks).

    A cancel (:func:`bgsub._cancel.checkpoint`) is seen between the full-resolution stages,
    so that *Cancel* takes effect within a fraction of a second even on a large plane.
    """
    checkpoint()
    reduction = 1.0 / np.sqrt(float(np.prod(factor)))
    cell_radius = tuple(r / f for r, f in zip(radius, factor, strict=True))
    presmooth = tuple(PRESMOOTH * c / max(cell_radius) for c in cell_radius)

    # a block of one pixel is its own mean, minimum and maximum: the pixels themselves serve
    # all three (and one smoothing both smoothed grids) -- at full resolution each
    # image-sized float64 copy costs more than the arithmetic, and memory
    pixels = max(factor) == 1

    def means() -> tuple[np.ndarray | None, np.ndarray, float, np.ndarray | None]:
        cells = block_mean(work, factor).astype(np.float64, copy=False)
        scale = max(float(model.sd(float(median(cells)))), _range_floor(cells))
        smoothed = direct_gaussian_filter(cells, presmooth, mode="nearest")
        if pixels:  # (single pixels are their own means: read from ``work`` from here on)
            return None, smoothed, scale, None
        # (the block maxima here: the minima's side, with the slope's sinking, is the longer;
        # bounded at once, in the result's dtype (see below), and freed)
        return cells, smoothed, scale, _upper_bound(block_max(work, factor),
                                                    cell_radius).astype(work.dtype, copy=False)

    coordinates = block_coordinates(factor, work.shape)
    # a grid more may be held where blocks are of HOLD_FROM pixels or more (a float64 grid is
    # then at most 2/9 of a float32 image); on finer ones each grid is held no longer than
    # it is read
    hold = min(factor) >= HOLD_FROM
    held: list[np.ndarray] = []

    def on_grid() -> np.ndarray:
        """The trend at the block centres (a grid of the caller's own): made each time it is
        read (a few milliseconds), never held through the stages between, unless ``hold``
        (then made once, and copied)."""
        if not hold:
            return trend.at(coordinates)
        if not held:
            held.append(trend.at(coordinates))
        return held[0].copy()

    def extremes() -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        if pixels:
            return None, None, None
        minima = block_min(work, factor).astype(np.float64, copy=False)
        return minima, direct_gaussian_filter(minima, presmooth, mode="nearest"), \
            _sunk(work, factor, minima, on_grid())

    # the full-resolution passes (block means and maxima; block minima) side by side
    # (``highest``: the upper bound already; single pixels are bounded at the end)
    (cells, smoothed, scale, highest), (minima, lowest, sunk) = _side_by_side(
        means, extremes)
    # the result's bounds and cap enter only its last minima and maxima: each may be held in
    # the result's dtype (rounding to it commutes with a minimum or a maximum: the same
    # result), a float32 grid in place of a float64 one
    if pixels:  # (single pixels are the block means, which stay: bounded at the end)
        lowest = smoothed
    else:  # (the block minima, read for the last time, are freed before the openings)
        _cap_minima(lowest, minima, factor, model, trend)
        bounds = highest, _lower_bound(minima, cell_radius).astype(work.dtype, copy=False)
        del highest, minima
    checkpoint()
    gain = _smoothing_gain(presmooth)
    narrowing = None
    if _near_window_narrows(cell_radius, lowest.shape):
        narrowing = partial(_narrowed_by, smoothed if pixels else cells, model,
                            reduction * gain if pixels else reduction, threshold)
    envelope, missed = _envelope(lowest, on_grid, cell_radius, scale, trend, smoothed, follow,
                                 steeper, narrowing)
    del lowest, narrowing  # (the envelope's input)
    checkpoint()
    sd_envelope = model.sd(envelope)
    window = tuple(smoothing * c for c in cell_radius)
    # the lift's ceiling first: the slope's and the bend's grids are freed before the
    # objects are found (each grid held no longer than it is read)
    ceiling = _ceiling(envelope, sd_envelope, factor, threshold, reduction)
    # ... and what the background's own slope across a block sinks the block's minimum by
    # (a field twice the image's range: ~8 grey levels over a 16-pixel block)
    if sunk is not None:
        ceiling += direct_gaussian_filter(sunk, presmooth, mode="nearest")
    del sunk
    # ... and what the dome misses of a bend of the background: where it lies under the
    # steeper dome by more than it does across the image (there: the noise's and a texture's
    # share), averaged over the lift's window (a screenshot's nuclei under a wave twice their
    # range: the dome 13 grey levels under the field's crest, the lift held at 4-8)
    missed = direct_gaussian_filter(missed, window, mode="nearest")
    missed -= float(median(missed))
    ceiling += np.maximum(missed, 0.0, out=missed)
    del missed
    # blocks of several pixels are classified as they are: smoothing them over a cell would
    # spill the objects' light into the narrow gaps of a confluent field (a pixel is smoothed);
    # blocks of 2 pixel by pixel (a block's mean dilutes a small object's faint edge, which
    # then lifts the background into it: spots of radius 2-3 kept 85-92 % of their light)
    if max(factor) > 1:  # (in the block means' buffer: they are not read again)
        residual = np.subtract(cells, envelope, out=cells)
    else:
        residual = smoothed - envelope
    # the result's cap, ahead (the smoothed data are not needed beyond it): the noise
    # allowance above the smoothed data (the smoothed pixels' noise: sd x reduction x gain,
    # in that order), within the ceiling; in the result's dtype (see the bounds)
    cap = np.multiply(sd_envelope, reduction)
    cap *= gain
    cap *= threshold
    np.add(smoothed, cap, out=cap)
    np.minimum(cap, ceiling, out=cap)
    cap = cap.astype(work.dtype, copy=False)
    del smoothed
    by_pixel = _by_pixel(factor, max(radius))
    if by_pixel > 0.0:
        # (a block already reaches (f - 1) / 2 pixels beyond a pixel in it, on average: the
        # rest of the growth; with the whole of it the objects' surround was lost to the
        # lift, which then missed by 1.1-1.5x more on the benchmark's cases at 16-28 px)
        grown = tuple(max(0.0, grow - 0.5 * (f - 1)) / f for f in factor)
        background = _pixel_background(work, envelope, sd_envelope, factor,
                                       tuple(PRESMOOTH * r / max(radius) for r in radius),
                                       threshold, grown, warn_dense)
    if by_pixel < 1.0:
        # (the block means' noise; single pixels are smoothed: times the smoothing's gain)
        sd_residual = sd_envelope * reduction
        if max(factor) == 1:
            sd_residual *= gain
        by_means = _background_cells(residual, sd_residual, threshold,
                                     tuple(grow / f for f in factor),
                                     warn_dense and by_pixel == 0.0)
        del sd_residual
        if by_pixel > 0.0:
            by_means *= 1.0 - by_pixel
            background *= by_pixel
            background += by_means
        else:
            background = by_means
        del by_means
    if max(factor) == 1:  # (the lift's residual: of the block means, here the pixels)
        np.subtract(work, envelope, out=residual)
    del sd_envelope
    # the ceiling less the envelope: the lift's headroom
    headroom = np.subtract(ceiling, envelope, out=ceiling)
    # the windowed means of the lift, then of the dome's rise (one after the other: the
    # residual is freed before the rise's windows). Under an object the dome rests on the
    # background either side and rises into it; the background around it says how high it
    # really is there
    lift = _lift(residual, background, window)
    del residual, cells  # (blocks: the residual's buffer)
    # result = max(lower, min(upper, max(floor, min(floor + min(lift, headroom), cap))))
    np.minimum(lift, headroom, out=lift)
    del headroom, ceiling  # (one buffer)
    less_trend = on_grid()
    held.clear()  # (the trend is not read again)
    np.subtract(envelope, less_trend, out=less_trend)
    near = _dome_rise(less_trend, background, window)
    far = _far_cells(background, cell_radius)
    del background  # (the far cells say all the rise reads of it)
    rise = _far_rise(less_trend, far, near, window, cell_radius, hold)
    del far, less_trend
    # (single pixels: their own maxima and minima, bounded on a float64 copy made only now:
    # the compiled windows, and the fraction's blend in float64)
    upper, lower = _local_bounds(*(work.astype(np.float64, copy=False),) * 2, cell_radius) \
        if pixels else bounds
    floor = np.subtract(envelope, rise, out=rise)
    result = np.add(floor, lift, out=lift)
    np.minimum(result, cap, out=result)
    np.maximum(result, floor, out=result)
    np.minimum(result, upper, out=result)
    np.maximum(result, lower, out=result)
    checkpoint()
    result = result.astype(work.dtype)
    return upsample_centres(result, factor, work.shape) if on_pixels else result


def _local_bounds(maxima: np.ndarray, minima: np.ndarray, cell_radius: tuple[float, ...]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The result's local bounds: never above the data's local maximum (the noise allowance
    above the smoothed data could lift it there on a nearly noise-free image), and never
    under the local minimum (the trend may carry the envelope below the data): over the
    radius less half a cell, and less a cell and a half below (the cell that interpolation
    reaches across)."""
    return _side_by_side(lambda: _upper_bound(maxima, cell_radius),
                         lambda: _lower_bound(minima, cell_radius))


def _upper_bound(maxima: np.ndarray, cell_radius: tuple[float, ...]) -> np.ndarray:
    """The upper of :func:`_local_bounds`."""
    return _window_filter(ndi.maximum_filter, maxima, tuple(c - 0.5 for c in cell_radius))


def _lower_bound(minima: np.ndarray, cell_radius: tuple[float, ...]) -> np.ndarray:
    """The lower of :func:`_local_bounds`."""
    return _window_filter(ndi.minimum_filter, minima, tuple(c - 1.5 for c in cell_radius))


def _ceiling(envelope: np.ndarray, sd: np.ndarray, factor: tuple[int, ...], threshold: float,
             reduction: float) -> np.ndarray:
    """The lift's ceiling before the slope's and the bend's shares: the envelope plus
    ``CEILING`` x the block minima's expected depth and ``threshold`` x the noise of the block
    means (``sd``: the noise at the envelope) -- what the noise explains, so that a dense
    field's misread cells cannot raise the background into the objects."""
    ceiling = np.multiply(sd, minimum_depth(factor))
    ceiling *= CEILING
    np.add(envelope, ceiling, out=ceiling)
    noise = np.multiply(sd, threshold)
    noise *= reduction
    ceiling += noise
    return ceiling


def _sunk(work: np.ndarray, factor: tuple[int, ...], minima: np.ndarray, level: np.ndarray
          ) -> np.ndarray | None:
    """How far the background's slope across each block (the trend's, ``level`` at the block
    centres, interpolated between them) sinks its minimum (``minima``, of ``work`` on blocks of
    ``factor`` pixels) below where it lies on the data less that slope: measured, not
    modelled, so that where noise or texture dominates the block's minimum the slope moves
    it little, and the ceiling of the lift with it. None for single pixels."""
    if max(factor) == 1:
        return None
    if work.ndim == 2 and min(factor) > 1 and work.dtype in (np.float32, np.float64):
        # (the same values, without the interpolated plane in memory: one pass, not three)
        lowest = block_minima_less(work, level.astype(work.dtype), factor)
    else:
        plane = upsample_centres(level.astype(work.dtype), factor, work.shape)
        np.subtract(work, plane, out=plane)
        lowest = block_min(plane, factor)
    sunk = lowest.astype(np.float64, copy=False) + level
    sunk -= minima
    return np.maximum(sunk, 0.0, out=sunk)


def _as_float(image: np.ndarray) -> np.ndarray:
    """``image`` itself when float32/float64 (full-resolution steps stay in its dtype)."""
    image = np.asarray(image)
    return image if image.dtype in (np.float32, np.float64) else image.astype(np.float64)


def _cap_minima(lowest: np.ndarray, minima: np.ndarray, factor: tuple[int, ...],
                model: NoiseModel, trend: Trend) -> None:
    """The smoothed block minima ``lowest`` (changed), never more than ``MINIMA_CAP``
    spreads (in the noise; in the texture, on a background with texture of its own: there
    the minima's scatter is the texture's) above the block's own minimum (``minima``): the
    objects around a narrow gap do not fill it."""
    noise = float(model.sd(float(median(lowest)))) * trend.texture
    np.minimum(lowest, minima + MINIMA_CAP * minimum_spread(factor) * noise, out=lowest)


def _envelope(lowest: np.ndarray, on_grid: Callable[[], np.ndarray],
              cell_radius: tuple[float, ...], scale: float, trend: Trend, means: np.ndarray,
              follow: float, steeper: int,
              narrowing: Callable[[np.ndarray], float] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Opening, by a dome dropping ``DOME * scale`` at one radius (or bending more than
    the background, measured on a steeper dome's opening), of the smoothed block minima
    ``lowest`` (blocks of several pixels: capped by :func:`_cap_minima`; changed here)
    less the ``trend`` (``on_grid()``: evaluated at the block centres, each time it is
    read). ``means``: the smoothed block means. Also returned: how far the opening lies
    under the steeper dome's (which follows a bend of the background that it cuts under).
    ``steeper``: how many times the steep dome may be made steeper where it reads a large
    share of its own bending (a tall wave's crests, which it cut under); where that share
    lies in ``SATURATED_BAND``, part of the way, and the envelopes without and with the
    steeper round are blended by that part (the first one held meanwhile: two grids more,
    6.6 image buffers at the default's peak on blocks of 2 at 2048 px). ``narrowing``:
    where the near window narrows (:func:`_near_window_narrows`), how much of the way to
    read the bending near the data over the narrower window, given the envelope
    (:func:`_narrowed_near`); the opening is then made again with that reading."""
    coeff = np.array([DOME * scale / c**2 for c in cell_radius])
    # the dome rests on what the trend leaves: no tilt offset (in the minima's buffer, where
    # they are not the smoothed data, which stay)
    flat = np.subtract(lowest, on_grid(), out=None if lowest is means else lowest)
    narrows = narrowing is not None

    def less(values: np.ndarray) -> np.ndarray:
        """The block means less the trend (single pixels: ``flat``), less ``values``: made
        when read, not held through the rounds."""
        if lowest is means:
            return flat - values
        above = on_grid()
        np.subtract(means, above, out=above)
        return np.subtract(above, values, out=above)

    def finished(first: np.ndarray, everywhere: np.ndarray,
                 readings: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The opening by the dome that follows the bending read, and how far it lies under
        the steep one (``first``, made into that)."""
        # ... and over half a radius where the steep dome rests on the data (the lower half
        # of its gap under the block means: not on the objects, which it cuts under). Over a
        # whole radius a bump of the background as wide as the radius reads 0.35x as curved
        # (a Gaussian bump of width s smoothed by w: (s**2 / (s**2 + w**2))**1.5), over half
        # a radius 0.72x, so that the dome (``follow`` x) still follows it (a narrow
        # vignetting). A wave of period 4 radii reads 0.29x as curved over a radius and
        # 0.73x over half (exp(-2 (pi w / period)**2)): at 1.5x the dome cut under the crests
        # of half-side waves on real images (outside.py's probe: 18 of its 57 cases lost to
        # Fiji's ball), at 2.5x 12
        bent = np.maximum(coeff, follow * everywhere)
        opened = _edge_opening(flat, tuple(np.maximum(bent, follow * _read_near(readings, 0.0))),
                               cell_radius)
        if narrowing is not None:
            share = narrowing(opened + on_grid())
            if share > 0.0:
                opened = _edge_opening(flat, tuple(np.maximum(
                    bent, follow * _read_near(readings, share))), cell_radius)
        np.subtract(first, opened, out=first)
        return opened, np.maximum(first, 0.0, out=first)

    # the rounds, each on a steeper dome than the last where its reading calls for it; the
    # envelope of a round whose reading lies in the band is blended with what follows. (A
    # loop, not a recursive closure: a closure that refers to itself is a reference cycle,
    # which held this function's grids until the garbage collector ran, an image-sized
    # buffer more at the estimate's peak.)
    blends: list[tuple[tuple[np.ndarray, np.ndarray] | None, float]] = []
    steep = STEEP * coeff
    quiet = None
    for round_ in range(1 + steeper):
        first, everywhere, resting = _steep_bending(flat, steep, less, cell_radius, narrows)
        readings = [resting]
        if round_ > 0:
            # ... and on a steepened dome, also over the quiet blocks (their means in the
            # lower half above their minima: no object in them), which keep the crests
            # that the lower half of its gap leaves out (where it cut under, it is widest)
            if quiet is None:
                spread = less(flat)
                quiet = spread <= median(spread)
                del spread
            readings.append(_near_bending(first, cell_radius, quiet, narrows))
        # (the narrower window's reading bends the dome, but never decides a steeper round:
        # a decision that flips between neighbouring radii)
        saturated = _saturation(_read_near(readings, 0.0), steep)
        onward = float(saturated.max())
        if round_ == steeper or onward == 0.0:
            result = finished(first, everywhere, readings)
            break
        # (a wave 50 noise sds tall, of period 4 radii: the steep dome, 0.2 of its crests'
        # bending, read 0.14 of its own near the data, and the dome cut 65 grey levels
        # under its crests; on images without such a bend the reading is 0.01-0.05)
        blends.append((finished(first, everywhere, readings) if onward < 1.0 else None,
                       onward))
        del first, everywhere, resting, readings
        steep = steep * STEEPER**saturated
    for here, onward in reversed(blends):
        if here is not None:
            # (read a little past the threshold, the dome is made a little steeper: the two
            # results blended by how far, so that neighbouring radii get nearly the same one)
            for mine, theirs in zip(here, result, strict=True):
                mine *= 1.0 - onward
                mine += onward * theirs
            result = here
    opened, missed = result
    opened += on_grid()
    return opened, missed


def _saturation(near: np.ndarray, steep: np.ndarray) -> np.ndarray:
    """How far (0-1, per axis) a steep dome bending ``steep`` that reads ``near`` near the data
    is steepened: a smooth step in their ratio over ``SATURATED`` x ``SATURATED_BAND``, so that
    neighbouring radii, reading nearly the same share, get nearly the same dome (none where
    nothing is read, wholly where a flat dome reads a bending)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.nan_to_num(np.divide(near, steep), nan=0.0, posinf=np.inf)
    low, high = (SATURATED * b for b in SATURATED_BAND)
    if not high > low:
        return (share > SATURATED).astype(np.float64)
    return np.array([smooth_step((s - low) / (high - low)) for s in np.ravel(share)])


def _read_near(readings: list[tuple[np.ndarray, np.ndarray]], share: float) -> np.ndarray:
    """The larger of the near bendings ``readings`` (:func:`_near_bending`'s pairs), each
    moved by ``share`` (0-1) from its reading over the near window to the narrower one."""
    moved = [near + share * (narrow - near) if share > 0.0 else near
             for near, narrow in readings]
    return moved[0] if len(moved) == 1 else np.maximum(*moved)


def _steep_bending(flat: np.ndarray, steep: np.ndarray,
                   less: Callable[[np.ndarray], np.ndarray], cell_radius: tuple[float, ...],
                   narrows: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The opening of ``flat`` by the steep dome of ``steep``, and the background's bending
    measured on it (:func:`_local_bending`): over a radius, and over half a radius where it
    rests on the data (the lower half of its gap under the block means less the trend:
    ``less(opening)``; :func:`_near_bending`'s pair)."""
    first = _edge_opening(flat, tuple(steep), cell_radius)
    gap = less(first)
    resting = gap <= median(gap)
    del gap  # (before the two bendings' windows)
    everywhere = _local_bending(first, cell_radius)
    return first, everywhere, _near_bending(first, cell_radius, resting, narrows)


def _near_bending(surface: np.ndarray, cell_radius: tuple[float, ...], where: np.ndarray,
                  narrows: bool) -> tuple[np.ndarray, np.ndarray]:
    """The bending of ``surface`` near the data (over ``where``): over ``BENDING_NEAR`` x the
    radius, at most an eighth of the side; and (where ``narrows``; else the same) over at
    most ``NEAR_MOST`` of the side."""
    near = _local_bending(surface, cell_radius, BENDING_NEAR, where)
    if not narrows:
        return near, near
    return near, _local_bending(surface, cell_radius, BENDING_NEAR, where, NEAR_MOST)


def _near_window_narrows(cell_radius: tuple[float, ...], shape: tuple[int, ...]) -> bool:
    """Whether ``NEAR_MOST`` of the side is narrower than the near window on some axis (a
    radius over a sixth of the side)."""
    return any(BENDING_NEAR * c > NEAR_MOST * n
               for c, n in zip(cell_radius, shape, strict=True))


def _narrowed_by(values: np.ndarray, model: NoiseModel, reduction: float, threshold: float,
                 envelope: np.ndarray) -> float:
    """:func:`_narrowed_near` of ``values`` (their noise: ``model``'s at the envelope, times
    ``reduction``)."""
    return _narrowed_near(values, envelope, model.sd(envelope) * reduction, threshold)


def _narrowed_near(values: np.ndarray, envelope: np.ndarray, sd: np.ndarray,
                   threshold: float) -> float:
    """How much the bending near the data is read over the narrower window (0-1): by the share
    of background cells that ``envelope`` leaves under ``values`` (their noise ``sd``), none
    below ``NEAR_NARROWED[0]``, all from ``NEAR_NARROWED[1]``.

    At a radius over a sixth of the side, an eighth of the side smooths a background's wave
    of period about two radii to a fraction of its bending (a third at a period of 2.2
    radii: ``exp(-2 (pi w / period)**2)``), and the dome cut under its crests (the
    generated `histo` s106: 1.61x Fiji's error, 1.01x over a twelfth). But where objects fill
    most of the field, the steep dome rests in the gaps between them and arcs under each:
    over a narrower window the arcs read as the background's bend, and the dome rose into
    the objects (1.3-2.1x further off). The envelope's own segmentation tells them apart:
    0.09-0.20 of the cells are background in such fields, 0.35-0.72 under the waves of
    docs/accuracy.md's Session 53."""
    score = np.subtract(values, envelope)
    score /= sd
    share = _background_peak(score, threshold)[2]
    low, high = NEAR_NARROWED
    return min(1.0, max(0.0, (share - low) / (high - low)))


def _edge_opening(flat: np.ndarray, coeff: tuple[float, ...], cell_radius: tuple[float, ...]
                  ) -> np.ndarray:
    """The opening of ``flat`` by the dome of ``coeff``, its apexes free to lie up to a third
    of the radius (``EDGE_REACH``) beyond the image's edges, where the background goes on
    rising as it rises towards the edge.

    Inside the image alone a dome rests on a background that rises towards an edge (a steep
    shading the trend misses there) only a margin in from it, and cuts under the rise there
    (by ``slope**2 / (4 coeff)``: a linear ramp is lost where it climbs to the edge). Beyond
    each edge, the rows are continued by the odd reflection (``2 * edge - mirror``) of their
    own openings along the edge (:func:`_continue_rows`): a rise of the background continues, an
    object cut by the edge does not (the rows' openings pass under it, as the dome does).
    Never below the edge row's opening: the continuation only lets the dome follow a rise,
    it never pulls the opening down where the background falls towards the edge (there a dome
    resting on the edge already follows it)."""
    reach = tuple(min(int(np.ceil(EDGE_REACH * c)), n - 1) if n > 1 else 0
                  for c, n in zip(cell_radius, flat.shape, strict=True))
    if not any(reach):
        return paraboloid_opening(flat, coeff)
    inner = tuple(slice(k, k + n) for k, n in zip(reach, flat.shape, strict=True))
    padded = np.empty(tuple(n + 2 * k for k, n in zip(reach, flat.shape, strict=True)))
    padded[inner] = flat
    for axis, k in enumerate(reach):
        if k:  # (axes before this one are padded already: the corners are continued too)
            before = (slice(None),) * axis
            _continue_rows(np.moveaxis(padded[(*before, slice(None), *inner[axis + 1:])],
                                       axis, 0), k, coeff[:axis] + coeff[axis + 1:])
    # (contiguous: the bendings' windows read it without a copy each)
    return np.ascontiguousarray(paraboloid_opening(padded, coeff)[inner])


def _continue_rows(lines: np.ndarray, k: int, along: tuple[float, ...]) -> None:
    """Fill the ``k`` rows at each end of ``lines`` (a view, rows along its first axis, the
    ``k`` pad rows either side of the data's) with the odd reflection about the edge row of
    the ``k + 1`` data rows at that end, each opened along its own axes (by ``along``), never
    below the edge row's opening."""
    n = lines.shape[0] - 2 * k
    ends = np.concatenate([lines[k:2 * k + 1], lines[n - 1:n + k]])
    # all rows in one opening: a dome steeper across the rows than their range keeps each to
    # itself (a neighbouring row never wins the minimum or the maximum: exactly row by row)
    apart = 2.0 * (float(np.ptp(ends)) + 1.0)
    opened = paraboloid_opening(ends, (apart, *along))
    low, high = opened[:k + 1], opened[k + 1:]
    np.maximum(2.0 * low[0] - low[k:0:-1], low[0], out=lines[:k])
    np.maximum(2.0 * high[-1] - high[-2::-1], high[-1], out=lines[n + k:])


def _side_by_side(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """``(first(), second())``, the second on another thread where bgsub may use two: NumPy's
    and SciPy's loops release the GIL, so two independent steps take the time of one where a
    core is free (the same values either way). The second runs in a copy of the caller's
    context, so that it sees the caller's cancel flag and NumPy error state."""
    if num_threads() < 2:
        return first(), second()
    import_before_threads("scipy.ndimage")  # not on both threads at once
    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(contextvars.copy_context().run, second)
        return first(), later.result()


def _local_bending(surface: np.ndarray, cell_radius: tuple[float, ...], window: float = 1.0,
                   where: np.ndarray | None = None, most: float = BENDING_MOST
                   ) -> np.ndarray:
    """Per axis, the strong (90th percentile, over the cells ``where`` is true; all by
    default) downward curvature of ``surface`` smoothed over ``window`` x the radius (at most
    ``most`` of the image's side), halved: a dome's coefficient."""
    sigma = tuple(min(window * c, most * n) for c, n in zip(cell_radius, surface.shape,
                                                           strict=True))
    smooth = direct_gaussian_filter(surface, sigma, mode="nearest")
    result = []
    for axis in range(surface.ndim):
        if surface.shape[axis] < 3 or (where is not None and not _inner(where, axis).any()):
            result.append(0.0)
            continue
        # (the downward curvatures a strip at a time, twice: never a grid-sized copy)
        strong = percentiles_of_parts(
            lambda axis=axis: (np.negative(second, out=second)
                               for second in _second_differences(smooth, axis, where)),
            [90])[0]
        result.append(0.5 * max(0.0, float(strong)))
    return np.asarray(result)


def _inner(values: np.ndarray, axis: int) -> np.ndarray:
    """``values`` less the first and the last cell along ``axis``: where the second
    differences along it are centred."""
    inner = [slice(None)] * values.ndim
    inner[axis] = slice(1, -1)
    return values[tuple(inner)]


def _second_differences(values: np.ndarray, axis: int, where: np.ndarray | None
                        ) -> Iterator[np.ndarray]:
    """``np.diff(values, 2, axis)`` (flattened), only where ``where`` holds at the middle
    cell, the same values in the same order: in strips of about ``STRIP_CELLS`` each, so
    that neither the first differences, the mask's selection nor the result is ever a
    grid-sized array."""
    selected = None if where is None else _inner(where, axis)
    rows = values.shape[0] - (2 if axis == 0 else 0)  # (the output's rows)
    step = _strip_rows(values)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        second = np.diff(values[start:stop + (2 if axis == 0 else 0)], 2, axis=axis)
        yield np.ravel(second if selected is None else second[selected[start:stop]])


def _range_floor(values: np.ndarray) -> float:
    """A dome scale for (nearly) noise-free images: 0.5 % of the intensity range."""
    low, high = percentiles(values, [1, 99])
    return max(0.005 * float(high - low), 1e-12)


def _background_cells(
    residual: np.ndarray, sd: np.ndarray, threshold: float, grow: tuple[float, ...],
    warn_dense: bool = True,
) -> np.ndarray:
    """How much each cell is background (0-1): 1 where its residual above the envelope is
    within ``threshold - 1`` spreads of the mode, 0 from ``threshold + 1`` spreads and within
    ``grow`` of such a cell, a smooth (cosine) step between -- so that the lift does not
    jump when a cell crosses the threshold between neighbouring radii or images."""
    objectness, found = _objectness(residual / sd, threshold, warn_dense)
    return _background_around(objectness, found, grow)


def _objectness(score: np.ndarray, threshold: float, warn_dense: bool
                ) -> tuple[np.ndarray, bool]:
    """How much each cell of ``score`` (its residual in noise sds; changed) is an object
    (:func:`_soft_step` about the background's peak: :func:`_peak_and_spread`), and whether
    any is beyond the threshold."""
    mode, spread, found = _peak_and_spread(score, threshold, warn_dense, stacklevel=6)
    return _soft_step(score, mode, spread, threshold), found


def _peak_and_spread(score: np.ndarray, threshold: float, warn_dense: bool, stacklevel: int
                     ) -> tuple[float, float, bool]:
    """The background's peak of ``score`` (:func:`lowest_peak`), its robust spread below the peak
    (at least 1), and whether any score lies ``threshold`` spreads beyond; a warning where
    fewer than ``FEW_BACKGROUND`` of them do not (``stacklevel``: pointing at
    :func:`robust_background`)."""
    mode, spread, fraction = _background_peak(score, threshold)
    if warn_dense and fraction < FEW_BACKGROUND and score.size >= MIN_CELLS_TO_WARN:
        warn(f"only {100 * fraction:.0f} % of the pixels look like background; the estimate "
             "falls back towards the plain envelope (a rolling ball's) and may take object "
             "signal: use a larger radius or method='rolling_ball' (and where the objects are "
             "darker than their background, light_background=True: --light)",
             stacklevel=stacklevel)
    return mode, spread, fraction < 1.0


def _background_peak(score: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """The background's peak of ``score`` (:func:`lowest_peak`), its robust spread below the
    peak (at least 1), and the share of scores within ``threshold`` spreads above it."""
    mode = lowest_peak(score, MODE_WIDTH)
    below = median_below(score, mode)
    spread = 1.0 if below is None else max(1.0, MAD_TO_SD * float(below))
    return mode, spread, float(np.mean(score <= mode + threshold * spread))


def _background_around(objectness: np.ndarray, found: bool, grow: tuple[float, ...]
                       ) -> np.ndarray:
    """1 less ``objectness`` grown by ``grow`` cells (``found``: some cell is beyond the
    threshold), in its buffer where it is not grown."""
    diagonal = float(np.sqrt(sum(n * n for n in objectness.shape)))
    if found and min(grow) >= diagonal:  # reaches every cell: no footprint of grow**n
        objectness = np.ones_like(objectness)
    elif objectness.any() and max(grow) >= 0.5:
        objectness = _grown(objectness, grow)
    return np.subtract(1.0, objectness, out=objectness)


def _pixel_background(work: np.ndarray, envelope: np.ndarray, sd: np.ndarray,
                      factor: tuple[int, ...], sigma: tuple[float, ...], threshold: float,
                      grow: tuple[float, ...], warn_dense: bool) -> np.ndarray:
    """:func:`_background_cells` of blocks of ``factor`` pixels judged pixel by pixel, as
    single pixels are: the pixels smoothed over ``sigma``, less the ``envelope`` (of the
    blocks, carried to every pixel), in units of the noise there (``sd``: a pixel's, at the
    envelope, on the blocks; times the smoothing's gain); the background's peak and
    spread are those of every pixel's score, and a block is as much an object as its most
    object-like pixel (the step is monotonic: the step of the block's largest score), grown
    by ``grow`` cells from there. (The peak measured on one pixel a block instead, 4x
    cheaper, moved with the smaller sample: a retina's recovered field 1.1-1.9x as far off.)"""
    # (smoothed in float64, read from the float32 pixels without a float64 copy of them)
    score = gaussian_filter_in_double(work, sigma, mode="nearest")
    # (the grids carried to the pixels a strip at a time: no image-sized copy of either)
    _by_strips(np.subtract, score, envelope.astype(work.dtype, copy=False), factor)
    spread = np.multiply(sd, _smoothing_gain(sigma)).astype(work.dtype, copy=False)
    _by_strips(np.divide, score, spread, factor)
    del spread
    mode, width, found = _peak_and_spread(score, threshold, warn_dense, stacklevel=5)
    highest = block_max(score, factor)
    del score  # (before the objects are grown)
    return _background_around(_soft_step(highest, mode, width, threshold), found, grow)


def _by_strips(ufunc: np.ufunc, values: np.ndarray, cells: np.ndarray,
               factor: tuple[int, ...]) -> None:
    """``values = ufunc(values, cells carried to every pixel)``, in ``values``, a strip of
    rows at a time (:func:`bgsub.kernels.resample.upsampled_strips`): no image-sized copy of
    the grid, and its strips' buffer freed on return."""
    for rows, strip in upsampled_strips(cells, factor, values.shape):
        ufunc(values[rows], strip, out=values[rows])


def _soft_step(score: np.ndarray, mode: float, spread: float, threshold: float) -> np.ndarray:
    """``0.5 - 0.5 cos(pi step)``, ``step = clip(((score - mode) / spread - (threshold - 1))
    / 2, 0, 1)``: computed in ``score``'s buffer (changed), in that order."""
    step = np.subtract(score, mode, out=score)
    step /= spread
    step -= threshold - 1.0
    step /= 2.0
    np.clip(step, 0.0, 1.0, out=step)
    step *= np.pi
    np.cos(step, out=step)
    step *= 0.5
    return np.subtract(0.5, step, out=step)


def _grown(objectness: np.ndarray, grow: tuple[float, ...]) -> np.ndarray:
    """Grey dilation of ``objectness`` by the ellipse of ``grow`` (``mode="nearest"``): the
    compiled flat dilation on a 2D or 3D grid (the same values: clamping a point beyond the
    edge moves it into the ellipse's window), SciPy's elsewhere."""
    if objectness.ndim in (2, 3) and objectness.dtype == np.float64:
        return flat_dilation(objectness, grow, "disk")
    return ndi.grey_dilation(objectness, footprint=_ellipse(grow), mode="nearest")


def _window_filter(fn: Any, values: np.ndarray, reach: tuple[float, ...]) -> np.ndarray:
    """``fn`` (a min or max filter) over a window reaching ``reach`` cells (a fraction
    included) either side: the two whole-cell windows around it, blended by the fraction,
    so that the bound moves continuously with the radius."""
    reach = tuple(max(0.0, r) for r in reach)
    inner = tuple(int(r) for r in reach)
    fraction = max(reach) - int(max(reach))
    result = _box_filter(fn, values, inner)
    if fraction > 0 and result.ndim and result.size:
        _blend_wider(result, np.maximum if fn is ndi.maximum_filter else np.minimum, fraction)
    return result


def _box_filter(fn: Any, values: np.ndarray, inner: tuple[int, ...]) -> np.ndarray:
    """``fn(values, size=2 * inner + 1, mode="nearest")``: on a 2D or 3D float64 grid the
    compiled box erosion or dilation (:mod:`bgsub.kernels.flat`: pixels outside ignored, the
    nearest mode's values; about 10x faster) where the values are the same whatever the
    order of the comparisons (no NaN, no negative zero)."""
    box = {ndi.maximum_filter: flat_dilation, ndi.minimum_filter: flat_erosion}.get(fn)
    if box is not None and values.ndim in (2, 3) and values.dtype == np.float64 \
            and values.size and not (np.isnan(values).any()
                                     or (np.signbit(values) & (values == 0)).any()):
        return box(values, inner, "box")
    return fn(values, size=tuple(2 * k + 1 for k in inner), mode="nearest")


def _blend_wider(filtered: np.ndarray, ufunc: np.ufunc, fraction: float) -> None:
    """``filtered`` (a min or max ``ufunc`` filter's result, ``mode="nearest"``; changed) moved
    ``fraction`` of the way to its result over windows one cell wider either side
    (:func:`_wider_strips`), a strip of rows at a time: no grid-sized array."""
    for rows, outer in _wider_strips(filtered, ufunc):
        here = filtered[rows]
        outer -= here
        outer *= fraction
        here += outer


def _wider_strips(filtered: np.ndarray, ufunc: np.ufunc
                  ) -> Iterator[tuple[slice, np.ndarray]]:
    """A min or max ``ufunc`` filter's result (``mode="nearest"``) over windows one cell
    wider either side along every axis, from its result ``filtered`` over the narrower
    windows, a strip of rows at a time (the rows, and the strip's values: an array of its
    own): each wider window is the union of the narrower ones one cell before, at and after
    it (at an edge, the edge cell's own window stands in for the one beyond it: a subset of
    the wider window) -- the same values as filtering again, at a fraction of the cost. Each
    strip is read with the row either side as they were when the strips began (the one above
    kept aside), so the caller may change a strip's rows once it has it."""
    n = filtered.shape[0]
    step = _strip_rows(filtered)
    above = None  # (the row above the strip, as it was)
    for start in range(0, n, step):
        stop = min(start + step, n)
        rows = filtered[start:min(stop + 1, n)]
        part = rows if above is None else np.concatenate([above, rows])
        for axis in range(filtered.ndim):
            part = _widen_axis(part, axis, ufunc)
        first = 0 if above is None else 1
        above = filtered[stop - 1:stop].copy()
        yield slice(start, stop), part[first:first + stop - start].copy()


def _strip_rows(values: np.ndarray) -> int:
    """How many rows of ``values`` (along its first axis) make a strip of about
    ``STRIP_CELLS`` cells: at least one."""
    return max(1, STRIP_CELLS // max(1, values.size // max(1, values.shape[0])))


def _widen_axis(values: np.ndarray, axis: int, ufunc: np.ufunc) -> np.ndarray:
    """:func:`_wider_strips` along one ``axis`` (``values`` itself where it is shorter than
    2)."""
    if values.shape[axis] < 2:
        return values
    lines = np.moveaxis(values, axis, 0)
    wider = np.empty_like(lines)
    ufunc(lines[:-2], lines[1:-1], out=wider[1:-1])
    ufunc(wider[1:-1], lines[2:], out=wider[1:-1])
    ufunc(lines[0], lines[1], out=wider[0])
    ufunc(lines[-2], lines[-1], out=wider[-1])
    return np.moveaxis(wider, 0, axis)


def _dome_rise(envelope: np.ndarray, background: np.ndarray, sigma: tuple[float, ...]
               ) -> np.ndarray:
    """How far the ``envelope`` (less the trend: no tilt to extrapolate) rises, on the object
    cells, above its own windowed mean over the background cells around them (0 on
    background cells; less where a window holds few background cells)."""
    weights = np.asarray(background, dtype=np.float64)
    if not weights.any() or weights.all():
        return np.zeros_like(envelope)
    support = direct_gaussian_filter(weights, sigma, mode="reflect")
    spare = np.multiply(envelope, weights)
    level = direct_gaussian_filter(spare, sigma, mode="reflect")
    level /= np.maximum(support, 1e-12, out=spare)
    rise = np.clip(np.subtract(envelope, level, out=level), 0.0, None, out=level)
    rise *= _shrunk(support, spare)
    rise *= np.subtract(1.0, weights, out=spare)
    return rise


def _shrunk(support: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``support / (support + PRIOR)``, in ``out``: how far a window's own mean is trusted
    against the image-wide prior."""
    np.add(support, PRIOR, out=out)
    return np.divide(support, out, out=out)


def _far_cells(background: np.ndarray, cell_radius: tuple[float, ...]) -> np.ndarray:
    """The *far* background of :func:`_far_rise`: the ``background`` cells (a weight, 0-1) at
    least ``FAR_MARGIN`` of the radius from the objects (the objects grown by that much)."""
    reach = tuple(FAR_MARGIN * c for c in cell_radius)
    if max(reach) < 0.5:
        return np.asarray(background, dtype=np.float64)
    far = _grown(np.subtract(1.0, background, dtype=np.float64), reach)
    return np.subtract(1.0, far, out=far)


def _far_rise(envelope: np.ndarray, far: np.ndarray, rise: np.ndarray,
              window: tuple[float, ...], cell_radius: tuple[float, ...], hold: bool = False
              ) -> np.ndarray:
    """The envelope's rise into the objects (``rise``: :func:`_dome_rise`, changed here),
    also measured against the *far* background (``far``: :func:`_far_cells`): the dome
    resting on the background either side of an object rises over about half a radius
    around it, so the background cells right beside an object (those within ``FAR_MARGIN``
    of the radius) hold a raised envelope, and the level they give the object is raised with
    them (dim objects kept 0.1-0.3 noise sds less a pixel). The far cells' level, in a window
    of ``FAR_WINDOW`` x the radius (wider: fewer cells), less that window's own bias (the
    envelope's bending over it: the level less the envelope on the far cells, carried into
    the objects the same way); the larger of the two rises. ``hold``: whether a grid more may
    be held (blocks of ``HOLD_FROM`` pixels or more)."""
    if not far.any() or far.all():
        return rise
    sigma = tuple(max(w, FAR_WINDOW * c) for w, c in zip(window, cell_radius, strict=True))
    # the level is smooth over its window: its sums are taken on blocks of about a
    # FAR_BLOCKS-th of the window (single cells on a coarse grid; on a grid of single pixels,
    # 3.5x fewer operations at r = 20) and carried back by linear interpolation
    step = tuple(max(1, min(int(s / FAR_BLOCKS), n)) for s, n in zip(sigma, far.shape,
                                                                     strict=True))
    shape = far.shape

    def windowed(values: np.ndarray) -> np.ndarray:
        """The windowed sums of ``values``, on the blocks (see :func:`carried`)."""
        if max(step) == 1:
            return direct_gaussian_filter(values, sigma, mode="reflect")
        return direct_gaussian_filter(block_mean(values, step),
                                      tuple(s / k for s, k in zip(sigma, step, strict=True)),
                                      mode="reflect")

    def carried(sums: np.ndarray) -> np.ndarray:
        """The windowed sums, from the blocks to every cell."""
        return sums if max(step) == 1 else upsample_centres(sums, step, shape)

    # (each grid the window reads is freed as soon as its block sums are taken; on single
    # cells, where the window's sums are a grid made while its input is held, the support
    # is made again after the bias's rather than held through it, unless ``hold``: a few
    # milliseconds)
    held = max(step) > 1 or hold  # (the support, through the bias's window)
    support = carried(windowed(far))
    level = carried(windowed(np.multiply(envelope, far)))
    _over_support(level, support)
    if not held:
        del support
    spare = np.subtract(level, envelope)
    spare *= far
    bias = windowed(spare)
    del spare
    bias = carried(bias)
    if not held:
        support = windowed(far)
    _over_support(bias, support)
    level -= bias
    del bias
    np.subtract(envelope, level, out=level)
    np.clip(level, 0.0, None, out=level)
    spare = np.empty_like(level)
    level *= _shrunk(support, spare)
    level *= np.subtract(1.0, far, out=spare)
    # near an edge the window is reflected: a background rising to the edge reads as lower
    # there than the correction carries (an empty well under a steep field lost 30 % of its
    # accuracy), so the far level takes over only a window in from the edges
    for axis, (s, n) in enumerate(zip(sigma, level.shape, strict=True)):
        inward = np.minimum(np.arange(n), np.arange(n)[::-1]) / max(s, 1e-12)
        shape = [1] * level.ndim
        shape[axis] = n
        level *= np.clip(inward, 0.0, 1.0).reshape(shape)
    return np.maximum(rise, level, out=rise)


def _over_support(values: np.ndarray, support: np.ndarray) -> None:
    """``values /= np.maximum(support, 1e-12)``, a strip of rows at a time: the same
    values, without the floored support as a grid-sized copy."""
    step = _strip_rows(values)
    for start in range(0, values.shape[0], step):
        rows = slice(start, start + step)
        values[rows] /= np.maximum(support[rows], 1e-12)


def _lift(
    residual: np.ndarray, background: np.ndarray, sigma: tuple[float, ...]
) -> np.ndarray:
    """Windowed mean of ``residual`` over the background cells, shrunk to its global mean
    where the window holds few of them."""
    weights = np.asarray(background, dtype=np.float64)
    count = float(weights.sum())
    if count == 0:
        return np.zeros_like(residual)
    weighted = np.multiply(residual, weights)
    overall = float(np.sum(weighted) / count)
    total = direct_gaussian_filter(weighted, sigma, mode="reflect")
    del weighted
    support = direct_gaussian_filter(weights, sigma, mode="reflect")
    total += PRIOR * overall
    support += PRIOR
    total /= support
    return np.maximum(total, 0.0, out=total)


def _crop_slices(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The central ``NOISE_CROP`` pixels of each axis of ``shape`` (the noise is measured
    there)."""
    starts = (max(0, (n - NOISE_CROP) // 2) for n in shape)
    return tuple(slice(start, start + NOISE_CROP) for start in starts)


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
        kernel = direct_gaussian_filter1d(impulse, s, mode="constant")
        gain *= float(np.sqrt(np.sum(kernel**2)))
    return gain


#: An upper bound on the memory of one estimate, in float32 copies of the block, by the finest
#: block size it uses (1, 2, more): measured 18.1-20.1, 7.1-10.5 and 4.0-7.6 on uint16,
#: float32 and float64 images of 1024x1024, the call through the API included (7.6: float64
#: at 40-44 px, two blended estimates side by side)
#: (``test_the_declared_peak_memory_bounds_the_measured_one``).
PEAK_BUFFERS = (26.0, 13.0, 8.0)


def _peak_buffers(radius: tuple[float, ...]) -> float:
    """:data:`PEAK_BUFFERS` for the finest block size ``radius`` uses."""
    (low, _), _ = _factors(radius)
    return PEAK_BUFFERS[min(min(low), len(PEAK_BUFFERS)) - 1]


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    # The noise model, the dome and the image-wide lift are measured on the whole block.
    return extent.shape


# the noise model is public through this module (auto.py measures objects with it, and raises
# the cold pixels of its cells)
__all__ = ["MAD_TO_SD", "BlockSizes", "NoiseModel", "Prepared", "blocks_used", "clip_outliers",
           "estimate_noise", "prepare_robust", "raise_cold_pixels", "robust_background",
           "robust_centre_scale"]

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
        prepare=prepare_robust,
        peak_buffers=_peak_buffers,
        overwrites_input=True,
    )
)
