"""The scores of one plane behind :func:`bgsub.auto.quality`: how much of the objects the
background copies, how far it is raised under them, and how uneven and how offset the
corrected background is, each in noise standard deviations (see ``quality``'s docstring for
what each measures and why). ``quality`` validates its input, picks the planes and averages
their scores; :func:`plane_quality` scores one float64 plane in an ordinary unit."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from bgsub.kernels.bins import MAD_TO_SD, median, percentiles
from bgsub.kernels.blocks import plane_block_means
from bgsub.kernels.gaussian import direct_gaussian_filter, direct_gaussian_filter1d
from bgsub.methods.robust import estimate_noise, robust_centre_scale

TILES = 8  # the corrected background's levels: on at most this many tiles per axis
PEAK_SMOOTHING = 0.1  # noise sds: the background peak's histogram is smoothed over this
LOCAL_SCALE = 2.0  # x the detail scale: quality()'s objects stand out of this much around
OBJECT_LEVEL = 5.0  # noise sds above the background peak: an object however wide
SMOOTHED_NOISE = 0.5 / np.sqrt(np.pi)  # a unit white noise's sd after a sigma-1 Gaussian (2D)
MIN_KEPT = 0.1  # a tile counts in quality() when at least this fraction of it is background
MIN_TILE = 8  # pixels: a tile's smallest side in quality()

# a tile whose background pixels vary from pixel to pixel this many times more (variance)
# than the background peak's own pixels do shows a specimen's texture, not the background
TEXTURE_LIMIT = 16.0


#: The scores of :func:`plane_quality`, in the order ``quality`` reports them.
SCORES = ("object_signal_in_background", "copied_level", "raised_under_objects",
          "unevenness", "offset")


def plane_quality(image: np.ndarray, background: np.ndarray, object_radius: float,
                   valid: np.ndarray | None = None) -> dict[str, float] | None:
    """The scores of one plane (see :func:`bgsub.auto.quality`); None where fewer than a tile's
    (``MIN_TILE`` squared) pixels of it are data (``valid``: where they are, all by default),
    or where its data are one value (a blank plane: no noise to measure the scores in)."""
    if valid is not None:
        if np.count_nonzero(valid) < MIN_TILE * MIN_TILE:
            return None
        image = np.where(valid, image, background)  # (no foreground where no data)
    data = image if valid is None else image[valid]
    if not np.ptp(data) > 0:
        return None
    model = estimate_noise(image, where=valid)
    foreground = image - background
    sd = model.sd(background)
    noise = float(median(sd if valid is None else sd[valid]))
    detail_scale = max(2.0 * object_radius, 1.0)
    score = foreground / sd
    smoothed = direct_gaussian_filter(score, 1.0, mode="reflect")
    centre, spread = _background_peak(smoothed if valid is None else smoothed[valid])
    # an object is bright *and* brighter than its surroundings at a few object radii (or
    # far above the background): a wide region where the background is too low is no
    # object, and its level must count
    bright = smoothed - centre > 3.0 * spread
    local = _detail(smoothed, LOCAL_SCALE * detail_scale) > 3.0 * spread
    # ... in the background's own noise where that is less than the noise model's (which a
    # specimen's texture inflates: tissue covering most of a histology slide is no
    # background too low, however wide)
    bright &= local | (smoothed - centre > OBJECT_LEVEL * min(1.0, spread / SMOOTHED_NOISE))
    # dark halos (bright field, phase contrast) are no background either: far below the
    # background's peak they would pull its level down and hide a background too low
    objects = ndi.binary_dilation(bright | (smoothed - centre < -3.0 * spread), iterations=2)
    if valid is not None:
        objects &= valid
    keep = ~objects if valid is None else ~objects & valid
    # ... and faint, broad structure (tissue in bright field) whose level is no error either:
    # told by its texture, pixel to pixel, against the background peak's own pixels
    roughness, own = _roughness(score, keep, np.abs(smoothed - centre) <= spread)
    levels, sampling = _tile_levels(score, keep, roughness, TEXTURE_LIMIT * own)
    reference, reached = _fill_from(image, keep, detail_scale)
    # the objects' own light: the image over the background its surroundings show, so that
    # the true background's variation is no part of it
    object_detail = _flat_detail(direct_gaussian_filter(image, 1.0, mode="reflect") - reference,
                                 detail_scale)
    if valid is not None:
        object_detail[~valid] = 0.0
    copied = _copied_fraction(object_detail, _flat_detail(background, detail_scale))
    return {
        "object_signal_in_background": copied,
        "copied_level": copied * float(np.sqrt(np.mean(object_detail**2))) / noise,
        "raised_under_objects": _raised_under(background - reference, objects & reached)
        / noise,
        "unevenness": _unevenness(levels, sampling),
        "offset": float(np.mean(levels)) if levels.size else float("nan"),
    }


def _fill_from(image: np.ndarray, keep: np.ndarray, scale: float) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The image's level seen from its kept (background) pixels alone: their Gaussian-
    weighted mean at ``scale`` (a normalised convolution), and where it reaches (some kept
    pixel within a few ``scale``); the image itself beyond."""
    weight = _blur(keep.astype(np.float64), scale)
    reached = weight > 1e-3
    filled = _blur(np.where(keep, image, 0.0), scale) / np.maximum(weight, 1e-3)
    return np.where(reached, filled, image), reached


def _raised_under(difference: np.ndarray, under: np.ndarray) -> float:
    """How far the background sits above (or below) what the background around the objects
    shows: the mean of ``difference`` over the objects, weighted by the square root of
    their share of the image (its part of an RMS error over the whole image). A mean, not
    an RMS: the objects' texture and the reference's noise average out, a background
    raised under the objects does not."""
    if not under.any():
        return 0.0
    return abs(float(np.mean(difference[under]))) * float(np.sqrt(under.mean()))


def _copied_fraction(object_detail: np.ndarray, background_detail: np.ndarray) -> float:
    """How much of the objects' detail the background's detail repeats, 0-1: the RMS of the
    background's detail explained by the objects' bright and dark detail (a least-squares
    fit on each, so a background that follows bright objects and one that dips under them
    into dark halos both count), less what the same fit explains by chance (on the objects'
    detail flipped, which keeps its texture and loses its place), over the RMS of the
    objects' detail."""
    total = float(np.sqrt(np.mean(object_detail**2)))
    if not total > 0:
        return 0.0
    parts = np.stack([np.maximum(object_detail, 0.0), np.minimum(object_detail, 0.0)])
    gram = np.einsum("iyx,jyx->ij", parts, parts)
    # flipping the objects' detail is flipping the background's: the same sums, no copies
    explained, *chance = (_explained_square(parts, gram, target) for target in (
        background_detail, background_detail[::-1], background_detail[:, ::-1],
        background_detail[::-1, ::-1]))
    excess = explained - float(np.mean(chance))
    return float(np.clip(np.sqrt(max(excess, 0.0)) / total, 0.0, 1.0))


def _explained_square(parts: np.ndarray, gram: np.ndarray, target: np.ndarray) -> float:
    """Mean square of ``target`` explained by a least-squares fit on ``parts`` (whose Gram
    matrix is ``gram``): the normal equations, two unknowns."""
    moments = np.einsum("iyx,yx->i", parts, target)
    weights = np.linalg.lstsq(gram, moments, rcond=None)[0]
    return float(weights @ gram @ weights) / target.size


def _unevenness(levels: np.ndarray, sampling: np.ndarray) -> float:
    """Spread of the tiles' levels beyond what their own noise explains: the variance of
    the levels less the mean variance of a tile's mean (each tile's pixels' variance over
    their count), so that a flat background scores about 0 at any noise or tile size."""
    if levels.size < 2:
        return float("nan")
    excess = float(np.var(levels, ddof=1)) - float(np.mean(sampling))
    return float(np.sqrt(max(excess, 0.0)))


def _background_peak(values: np.ndarray) -> tuple[float, float]:
    """Centre and spread of the background's values: the lowest histogram peak at least
    a quarter as high as the highest (objects may outnumber the background), and the
    spread of the values below it."""
    values = values.ravel()
    low, high = percentiles(values, [0.5, 99])
    if not high > low:
        return robust_centre_scale(values)
    counts, edges = np.histogram(values, bins=400, range=(float(low), float(high)))
    # smoothed over a tenth of a noise sd at least (the values are in noise sds), so that
    # the histogram's own sampling wiggles on a peak's flank are no peaks
    width = max(2.0, PEAK_SMOOTHING / float(edges[1] - edges[0]))
    counts = direct_gaussian_filter1d(counts.astype(np.float64), width, mode="constant")
    peaks = (counts >= np.maximum(np.r_[0.0, counts[:-1]], np.r_[counts[1:], 0.0])) & (
        counts >= 0.25 * counts.max())
    index = int(np.flatnonzero(peaks)[0])
    centre = float(0.5 * (edges[index] + edges[index + 1]))
    below = centre - values[values < centre]
    spread = MAD_TO_SD * float(median(below)) if below.size else 0.0
    return centre, max(spread, 1e-12)


def _detail(values: np.ndarray, scale: float) -> np.ndarray:
    return values - _blur(values, scale)


def _flat_detail(values: np.ndarray, scale: float) -> np.ndarray:
    """The detail of the detail at ``scale`` (``values - 2 G values + G G values``): a
    second-order Gaussian high-pass, 0 on a curved (quadratic) surface as on a plane. One
    high-pass leaves about half the scale squared times the surface's curvature: on a
    vignetted field, a background that follows the field exactly keeps that smooth
    residue, which correlates with the objects by chance (the flips of
    :func:`_copied_fraction` do not cancel it where the field is off centre) and counted
    as copied signal."""
    return values - _blur(values, scale, twiced=True)


def _blur(values: np.ndarray, sigma: float, twiced: bool = False) -> np.ndarray:
    """Gaussian blur; a wide one on block means (a quarter sigma a side) interpolated back,
    which differs from the full one by a small fraction of its detail and takes a fraction
    of its time on large planes. ``twiced``: ``2 G - G G`` instead of ``G`` (Tukey's
    twicing), the second blur on the block means too, so that it costs about one blur."""
    step = int(sigma // 4)
    if step < 2 or min(values.shape) < 4 * step:
        return _twice(direct_gaussian_filter(values, sigma, mode="reflect"), sigma, twiced)
    small = _twice(direct_gaussian_filter(plane_block_means(values, step), sigma / step,
                                       mode="reflect"), sigma / step, twiced)
    # block centres sit at (i + 0.5) * step - 0.5 in pixels; interpolate linearly between
    # them (and hold the edge values beyond the last one), one axis at a time
    between_rows = _linear(small, values.shape[0], step, axis=0)
    return _linear(between_rows, values.shape[1], step, axis=1)


def _twice(blurred: np.ndarray, sigma: float, twiced: bool) -> np.ndarray:
    """``blurred`` (``G values``) itself, or ``2 G values - G G values`` when ``twiced``."""
    if not twiced:
        return blurred
    return 2.0 * blurred - direct_gaussian_filter(blurred, sigma, mode="reflect")


def _linear(small: np.ndarray, size: int, step: int, axis: int) -> np.ndarray:
    """Linear interpolation of block means (``step`` pixels a block) back to ``size``
    pixels along ``axis``, the edge values held beyond the first and last block centre."""
    position = np.clip((np.arange(size) + 0.5) / step - 0.5, 0, small.shape[axis] - 1)
    below = np.minimum(position.astype(np.intp), small.shape[axis] - 1)
    above = np.minimum(below + 1, small.shape[axis] - 1)
    shape = [1, 1]
    shape[axis] = size
    weight = (position - below).reshape(shape)
    return (np.take(small, below, axis=axis) * (1.0 - weight)
            + np.take(small, above, axis=axis) * weight)


def _tile_levels(score: np.ndarray, keep: np.ndarray,
                 roughness: tuple[np.ndarray, np.ndarray] | None = None,
                 limit: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``score`` over the kept pixels of each tile of an 8x8 grid (fewer, at least
    ``MIN_TILE`` pixels a side, on a small image; tiles less than a tenth kept are skipped),
    and each mean's sampling variance. Means, not medians: on photon-counting images the
    values are a few discrete steps and a median jumps between them.

    With ``roughness`` (:func:`_roughness`'s squares and pairs), a tile whose kept pixels'
    pixel-to-pixel variance exceeds ``limit`` is skipped too: its "background" is a
    specimen's texture (faint tissue), whose level says nothing of the background's
    error."""
    levels, sampling = [], []
    for r in _tile_slices(score.shape[0]):
        for c in _tile_slices(score.shape[1]):
            tile_keep = keep[r, c]
            if not (tile_keep.mean() >= MIN_KEPT and tile_keep.sum() >= 4):
                continue
            if roughness is not None:
                pairs = float(np.sum(roughness[1][r, c]))
                if pairs > 0 and float(np.sum(roughness[0][r, c])) / pairs > limit:
                    continue
            values = score[r, c][tile_keep]
            levels.append(float(np.mean(values)))
            sampling.append(float(np.var(values, ddof=1)) / values.size)
    return np.asarray(levels), np.asarray(sampling)


def _tile_slices(side: int) -> list[slice]:
    """The tiles' extents along one axis (``np.array_split``'s: the first ones a pixel
    longer)."""
    count = _tile_count(side)
    bounds = np.cumsum([0] + [side // count + (i < side % count) for i in range(count)])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _roughness(score: np.ndarray, keep: np.ndarray,
               core: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """The squared difference of each pixel and its right-hand neighbour where both are
    kept (0 elsewhere; one column fewer than ``score``) and where that is: summed over a
    region and divided, twice the kept pixels' variance from pixel to pixel, which a smooth
    error does not raise and a texture does. And the same mean over the ``core`` pixels
    (the background peak's own), inf when no two of them are neighbours or they never
    differ (a noise-free image: no texture can be told)."""
    squares = np.subtract(score[:, 1:], score[:, :-1])
    squares *= squares
    pairs = keep[:, 1:] & keep[:, :-1]
    core_pairs = pairs & core[:, 1:] & core[:, :-1]
    count = int(np.count_nonzero(core_pairs))
    own = float(np.sum(squares * core_pairs)) / count if count else 0.0
    own = own if own > 0 else np.inf
    np.multiply(squares, pairs, out=squares)
    return (squares, pairs), own


def _tile_count(side: int) -> int:
    return int(np.clip(side // MIN_TILE, 1, TILES))
