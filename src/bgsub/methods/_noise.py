"""How noisy is an image? A Poisson-Gaussian noise model measured from the image itself."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from bgsub._lazy import lazy_module
from bgsub._padding import PADDING_SHARE, fill_from_nearest, padding_share
from bgsub.kernels.bins import MAD_TO_SD, mad, median, percentiles
from bgsub.kernels.gaussian import direct_gaussian_filter
from bgsub.kernels.outliers import cold_pixels, gradient_magnitude

ndi = lazy_module("scipy.ndimage")  # imported on first use, not on import bgsub

__all__ = ["ColdPixels", "NoiseModel", "NoiseShading", "clip_outliers", "difference_noise",
           "estimate_noise", "find_cold_pixels", "lift_cold_pixels", "noise_shading",
           "raise_cold_pixels", "robust_centre_scale"]

BINS = 16
MIN_PER_BIN = 64
EDGE_FACTOR = 2.0
MAX_SAMPLES = 1 << 16
NEGATIVE_SHARE = 0.01  # more local means below zero than this: no photon counts
CLIP = 3.0  # the robust spread clips deviations at this many MAD-based sds ...
WINSORISED_SD = 0.9975  # ... which leaves this much of a Gaussian's sd
# the noise's shading (noise_shading): its spread measured on SHADING_TILES x SHADING_TILES
# tiles of a grid of block means, on the background's side of each tile's flat cells
SHADING_TILES = 8
SHADING_LEAST = 32  # cells a tile needs to count
SHADING_FEWEST = 12  # tiles that must count
# taken where the fitted map varies (max / min - 1) by more than the first (fully from the
# second) ...
SHADING_VARIES = (0.1, 0.2)
# ... and the tiles' log-spreads lie about it within what sampling explains (texture --
# tissue, phase, a specimen's own -- scatters them further): fully up to the first, not from
# the second
SHADING_TEXTURE = (0.09, 0.12)
OUTLIER_SPANS = 10.0  # cells beyond this many 1st-99th percentile spans outside it are
# clipped to there first (clip_outliers): a hot or absurd pixel's block (a division by a
# flat-field's zeros) would otherwise move the smoothed level, and the spreads, of every
# tile around it
SHADING_GRID = 65  # the map's variation is read on this many points a side
SHADING_ABOVE = 1.0  # values are scaled about 0, or (further above it) this many spans below
# the background
COLD_SDS = 6.0  # a pixel this many noise sds below all its neighbours but one, and this many
COLD_SPREAD = 1.0  # times their spread above that one, is a dead or cold camera pixel, where
COLD_REACH = 3  # it lies COLD_SDS below by the noise measured this many pixels around it too
COLD_LINE_SAMPLES = 128  # a band of dead columns (rows): each dips below both live ones
# beside it by COLD_SDS noise sds on over half of this many rows (columns) over the plane
COLD_BAND = 8  # ... in bands up to this many wide (wider: a region, not a line)
COLD_RUN = 1 / 8  # ... or on this share of those rows in one run, at least COLD_RUN_ROWS
COLD_RUN_ROWS = 4  # of them and COLD_RUN_PIXELS of the plane: a CCD column dead from its
COLD_RUN_PIXELS = 64  # defect to the readout (a shorter dark streak may be a gap in the data)
# dead pixels the rules above leave (clusters, short or wide bands): clusters of pixels at
# the plane's lowest value, COLD_SDS noise sds below the pixels around them, on DEAD_LEAST
# pixels to DEAD_MOST of the plane (more than the padding rule's PADDING_SHARE: not where
# the engine finds padding, which it warns of -- the user marks it missing)
DEAD_LEAST = 3  # (fewer: the lowest of a noisy plane, or a pair the rules above judge)
DEAD_MOST = 0.1
LOWEST_STRIP = 64  # rows read at a time in looking for them under a shading (float64)
CONFIRM_AT_ONCE = 1024  # cold candidates confirmed at a time (7x7 windows: about 3 MB)


@dataclass(frozen=True)
class NoiseModel:
    """Noise variance linear in the intensity: ``variance = gain * I + offset``.

    Camera noise is Poisson (variance proportional to the signal, through the
    gain) plus Gaussian read noise (constant); ``gain == 0`` is pure Gaussian
    noise of constant variance.

    Attributes
    ----------
    gain : float
        Variance per grey level of intensity (0 when the data show no trend).
    offset : float
        Variance at zero intensity.
    floor : float
        Smallest standard deviation returned (keeps noise-free images usable).
    """

    gain: float
    offset: float
    floor: float

    def sd(self, intensity: np.ndarray | float) -> np.ndarray:
        """Noise standard deviation at ``intensity`` (array or scalar).

        Examples
        --------
        >>> NoiseModel(gain=1.0, offset=0.0, floor=1.0).sd(np.array([0.0, 100.0]))
        array([ 1., 10.])
        """
        values = np.asarray(intensity, dtype=np.float64)
        # (in place: one image-sized buffer, not five; ``[()]``: a scalar for a scalar)
        variance = np.multiply(values, self.gain, out=np.empty_like(values))
        variance += self.offset
        np.clip(variance, 0.0, None, out=variance)
        np.sqrt(variance, out=variance)
        return np.maximum(variance, self.floor, out=variance)[()]


def estimate_noise(image: np.ndarray, *, uniform: bool = False,
                   where: np.ndarray | None = None) -> NoiseModel:
    """Measure the noise of ``image`` from its finest-scale residual.

    Each pixel is compared with the mean of its neighbours (a high-pass that a
    smooth background and the inside of objects pass as ~0); the residual's
    spread is measured robustly (median absolute deviation) in bins of local
    intensity, and a straight line ``variance = gain * I + offset`` is fitted
    through the bins by Theil-Sen (robust to the few bins that object edges
    inflate). The Poisson term is kept only where the data say so: a positive
    slope that changes the variance by at least 20 % over the intensities
    seen, on non-negative intensities (at most 1 % of the local means below zero: a
    negated light-background image's noise cannot grow with the negated value, that is
    texture, and an image with values below zero -- a reconstruction, an offset already
    subtracted -- holds no raw photon counts); otherwise the noise
    is taken as constant. Pixels on edges (a
    gradient well above the typical, noise-made one) are left out.

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    uniform : bool
        One noise level for the whole image: the pooled spread over every flat
        pixel (the constant the model falls back to), no Poisson term. The
        Poisson term follows the intensity, so a smooth field added to the
        image that is not made of photons (stray light, an offset, shading
        added in processing) changes it, and with it every noise-scaled step
        of a method; the pooled spread barely moves.
    where : ndarray of bool, optional
        The pixels that are data (all by default): the noise is measured on
        those whose neighbours are data too, whatever the others hold.

    Returns
    -------
    NoiseModel

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = 100 + rng.normal(0, 5, (128, 128))
    >>> model = estimate_noise(flat)
    >>> model.gain, round(float(model.sd(100.0)), 0)
    (0.0, 5.0)
    """
    precision = _precision(np.asarray(image).dtype)
    image = np.asarray(image, dtype=np.float64)
    floor = _floor(image, precision)
    inside = None if where is None else _inside(where)
    flat = _flat_pixels(image, inside)  # (before the residual: their temporaries never meet)
    residual = _highpass(image)
    flat_residual = residual[flat]
    if uniform and _surely_binned(flat_residual.size, flat_residual):  # (no bins, no levels)
        return NoiseModel(0.0, _spread(flat_residual) ** 2, floor)
    level = ndi.uniform_filter(image, 3, mode="reflect")[flat]  # (the flat pixels' only)
    if _bins(level.size) < 2:
        return _mad_model(residual, inside, floor)
    # pooled over every flat pixel, not a median over intensity bins: a smooth field added to
    # the image reorders the bins (a textured image's bins differ) but not the pixels
    constant = _spread(flat_residual) ** 2  # (in the pixels' order, before they are sorted)
    # photon counts are not negative: on a negated (light-background) image a variance that
    # grows with the value grows where there is *less* light -- texture, not shot noise; and
    # an image whose local means dip below zero (a reconstruction such as a tomogram, an
    # offset or background already subtracted) holds no raw counts either: a smooth field
    # added to it would otherwise switch the Poisson term on where it lifts the values
    negated = float(np.mean(level < 0)) > NEGATIVE_SHARE
    del residual  # (made again for the rare model below)
    # (sorted by level one array at a time, each unsorted one freed as it is replaced)
    order = _stable_argsort(level)
    level = level[order]
    flat_residual = flat_residual[order]
    del order
    centres, variances = _binned_variance(level, flat_residual)
    if centres.size == 0:  # (no bin with a spread)
        return _mad_model(_highpass(image), inside, floor)
    if uniform:
        return NoiseModel(0.0, constant, floor)
    gain, offset = _theil_sen(centres, variances)
    predicted = gain * centres + offset
    if negated or gain <= 0 or predicted.min() <= 0 or predicted.max() < 1.2 * predicted.min():
        return NoiseModel(0.0, constant, floor)
    return NoiseModel(float(gain), float(offset), floor)


@dataclass(frozen=True)
class NoiseShading:
    """The noise's smooth variation over a plane: ``exp`` of a quadratic along each axis of
    the plane (each axis -1 to 1; a vignetting's circular fall-off has no cross term), ``share``
    of it taken (see :func:`noise_shading`), its geometric mean over the plane 1; and the
    ``level`` about which values are scaled by it.

    Attributes
    ----------
    coeffs : ndarray
        The log-map's coefficients: 1, y, x, y^2, x^2.
    share : float
        The power the map is raised to (0-1): it is phased in between clearly flat and
        clearly shaded.
    level : float
        The value the map leaves where it is: values are scaled about it, ``level + (value -
        level) * map``, so that an offset added to the plane moves the result by the same
        offset (scaled about 0, a plane raised by 1e5 became a bowl of 20,000 grey levels
        for a map varying by 20 %).
    """

    coeffs: np.ndarray
    share: float
    level: float = 0.0

    def at(self, shape: tuple[int, int], dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The map on a plane of ``shape`` pixels.

        Examples
        --------
        >>> shading = NoiseShading(np.array([0.0, 0.0, 0.5, 0.0, 0.0]), 1.0)
        >>> values = shading.at((2, 3))
        >>> [round(float(v), 3) for v in values[0]]
        [0.607, 1.0, 1.649]
        """
        rows, columns = self.factors(shape)
        return np.multiply.outer(rows, columns).astype(dtype, copy=False)

    def apply(self, values: np.ndarray, *, divide: bool = False,
              out: np.ndarray | None = None,
              part: tuple[tuple[int, int], tuple[slice, slice]] | None = None) -> np.ndarray:
        """``values`` scaled about ``level`` by the map, ``level + (values - level) * map``
        (divided by it where ``divide``), into ``out`` (which may be ``values``) or a new
        array: the map is a product of one factor per row and one per column, so no
        image-sized map is made. ``part``: ``values`` is the part (a row and a column slice)
        of a plane of that shape, and gets the plane's map there (the values of applying it to
        the whole plane, then cutting the part out).

        Examples
        --------
        >>> shading = NoiseShading(np.array([0.0, 0.3, 0.5, 0.0, 0.1]), 1.0, level=7.0)
        >>> plane = np.arange(20.0).reshape(4, 5)
        >>> where = (slice(1, 3), slice(2, 5))
        >>> bool((shading.apply(plane[where], part=(plane.shape, where))
        ...       == shading.apply(plane)[where]).all())
        True
        >>> bool(np.allclose(shading.apply(shading.apply(plane), divide=True), plane))
        True
        """
        shape, where = part if part is not None else (values.shape, (slice(None),) * 2)
        rows, columns = (np.exp(-f if divide else f).astype(values.dtype, copy=False)[cut]
                         for f, cut in zip(self._logs(shape[0], shape[1]), where, strict=True))
        level = np.asarray(self.level, dtype=values.dtype)
        if self.level:
            out = np.subtract(values, level, out=out)
            values = out
        out = np.multiply(values, rows[:, None], out=out)
        out *= columns[None, :]
        if self.level:
            out += level
        return out

    def factors(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The map on a plane of ``shape`` pixels as its two factors (float64): one per row
        and one per column, their outer product the map.

        Examples
        --------
        >>> shading = NoiseShading(np.array([0.0, 0.0, 0.5, 0.0, 0.0]), 1.0)
        >>> rows, columns = shading.factors((2, 3))
        >>> [round(float(v), 3) for v in rows], [round(float(v), 3) for v in columns]
        ([1.0, 1.0], [0.607, 1.0, 1.649])
        """
        return tuple(np.exp(f) for f in self._logs(*shape))

    def variation(self) -> float:
        """How much the map varies over the plane: its max / min - 1."""
        rows, columns = self._logs(SHADING_GRID, SHADING_GRID)
        return float(np.expm1(np.ptp(rows) + np.ptp(columns)))

    def _logs(self, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
        """The log-map's row and column parts on a plane of ``ny`` x ``nx`` pixels, each of
        mean 0 over the plane's extent (the constant left out)."""
        c = [float(v) * self.share for v in self.coeffs]
        grid = np.linspace(-1.0, 1.0, SHADING_GRID)
        y, x = np.linspace(-1.0, 1.0, ny), np.linspace(-1.0, 1.0, nx)
        rows = y * (c[1] + c[3] * y) - float(np.mean(grid * (c[1] + c[3] * grid)))
        columns = x * (c[2] + c[4] * x) - float(np.mean(grid * (c[2] + c[4] * grid)))
        return rows, columns


def noise_shading(cells: np.ndarray) -> NoiseShading | None:
    """The noise's smooth variation over a 2D grid of block means, or None where it is flat.

    A multiplicative shading (vignetting, uneven illumination) scales the noise with the
    light, so one noise level for the whole plane over-reads it in the dim parts and
    under-reads it in the bright ones. Each cell less the mean of its neighbours is measured
    on ``SHADING_TILES`` x ``SHADING_TILES`` tiles, on the flat cells on the background's side
    (at or below the tile's median), both judged on the cells less their mean over half a
    tile, so that a smooth field added to the plane moves neither; a quadratic along each axis
    is fitted to the tiles' log-spreads (three rounds, misfits beyond 3 robust sds left out).
    It is taken where it varies by more than ``SHADING_VARIES`` over the plane, and only where
    the tiles scatter about it within ``SHADING_TEXTURE`` (the log-spread's robust sd): a
    background with texture of its own -- tissue, phase, a specimen -- scatters them further,
    and its "noise" is not the camera's. Both are phased in linearly.

    Parameters
    ----------
    cells : ndarray
        2D float grid (block means of the plane: their noise scales as the pixels').

    Returns
    -------
    NoiseShading or None

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> gain = np.linspace(0.5, 1.0, 256)[None, :]
    >>> cells = 100 + rng.normal(0, 5, (256, 256)) * gain
    >>> shading = noise_shading(cells)
    >>> map_ = shading.at(cells.shape)
    >>> round(float(map_[128, -1] / map_[128, 0]), 1)
    2.0
    >>> noise_shading(100 + rng.normal(0, 5, (256, 256))) is None
    True
    """
    cells = np.asarray(cells, dtype=np.float64)
    if cells.ndim != 2 or min(cells.shape) < 4 * SHADING_TILES:
        return None
    tiles = _tile_log_spreads(clip_outliers(cells))
    if tiles.shape[0] < SHADING_FEWEST:
        return None
    coeffs, scatter = _fit_log_quadratic(tiles[:, :3])
    shading = NoiseShading(coeffs, 1.0)
    share = _ramp(shading.variation(), SHADING_VARIES) * (1.0 - _ramp(scatter, SHADING_TEXTURE))
    return NoiseShading(coeffs, share, _scaled_about(cells, tiles[:, 3])) if share > 0.0 else None


def _scaled_about(cells: np.ndarray, levels: np.ndarray) -> float:
    """The level the noise's shading scales values about: 0, the dark level of counts, about
    which a vignetting scales the light and its noise alike (so that the map undoes it),
    while the background's level (the median of the tiles' ``levels``) lies within
    ``SHADING_ABOVE`` spans of ``cells`` (1st to 99th percentile) above 0 -- every ordinary
    image; beyond, that far below the background, a level that moves with an offset added to
    the plane. Scaled about 0, an offset of 1e5 on a span of 2,000 became a bowl of 20 % of it
    that the trend had to follow to the noise: the background missed by 63 grey levels
    instead of 6.4 (451 at 1e6; 765 instead of 3.8 on a 256x256 plane at 1e7)."""
    low, high = percentiles(cells, [1, 99])
    return max(0.0, float(median(levels)) - SHADING_ABOVE * float(high - low))


def clip_outliers(values: np.ndarray) -> np.ndarray:
    """``values`` clipped to ``OUTLIER_SPANS`` spans of their 1st to 99th percentiles beyond
    them: a few absurd values no longer weigh on what is smoothed or thresholded around them.
    ``values`` itself where none lies there (the same array, the same values).

    Examples
    --------
    >>> values = np.r_[np.arange(1000.0), 1e30]
    >>> float(clip_outliers(values)[-1])  # 99th percentile + 10 x (99th - 1st)
    10790.0
    >>> ordinary = np.arange(1000.0)
    >>> clip_outliers(ordinary) is ordinary
    True
    """
    low, high = percentiles(values, [1, 99])
    reach = OUTLIER_SPANS * float(high - low)
    low, high = float(low) - reach, float(high) + reach
    if not (high > low) or (float(values.min()) >= low and float(values.max()) <= high):
        return values
    return np.clip(values, low, high)


def raise_cold_pixels(values: np.ndarray, model: NoiseModel | None = None, owned: bool = False
                      ) -> np.ndarray:
    """``values`` with its cold pixels raised to their second lowest neighbour: in place
    where ``owned``, else in a copy, made only where there are some (``values`` itself where
    there are none).

    Cold: below all their neighbours but one by more than ``COLD_SDS`` of ``model``'s sds
    (None: one level from the neighbouring differences, :func:`difference_noise`) and
    ``COLD_SPREAD`` times those neighbours' spread, each Y-X plane on its own
    (:func:`bgsub.kernels.outliers.cold_pixels`), and by ``COLD_SDS`` of the noise around
    them (:func:`_confirmed`): dead or stuck-low camera pixels; the pixels of a band of
    dead columns or rows up to ``COLD_BAND`` wide (:func:`_cold_lines`); and, in clusters
    and bands of any shape these leave, pixels at one value far below the data
    (:func:`_dead_valued`: raised to the nearest other pixel's value). A minimum-based
    envelope rests on the lowest pixels, so a dead pixel pulls it down over a radius around
    it: 0.02 % of the pixels at 0 in a background of about 1000 (209 on 1024 x 1024) lowered
    ``robust``'s background by 85-100 grey levels over most of the field. Two side by side
    are found (each is beside one). The neighbours' spread and the noise around keep a steep flank
    and the shot noise of bright objects, where a model of one noise level is too low,
    from counting. A pixel below a plateau of clipped (saturated) values counts: its
    neighbours do not spread.

    Examples
    --------
    >>> values = 100.0 + np.random.default_rng(0).normal(0.0, 1.0, (6, 6))
    >>> values[2, 3] = 0.0
    >>> raised = raise_cold_pixels(values)  # (its noise from the differences)
    >>> bool(raised[2, 3] > 98.0), float(values[2, 3])  # (raised in a copy: not ``owned``)
    (True, 0.0)
    """
    return lift_cold_pixels(values, find_cold_pixels(values, model), owned)


#: Where each Y-X plane's cold pixels are (by the plane's index) and what they are raised to.
ColdPixels = dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]]


def find_cold_pixels(values: np.ndarray, model: NoiseModel | None = None,
                     shading: NoiseShading | None = None) -> ColdPixels:
    """:func:`raise_cold_pixels`' search alone: per Y-X plane of ``values``, the rows,
    columns and raised values of its cold pixels (to be lifted by :func:`lift_cold_pixels`,
    in these same values). ``shading``: the noise's shading ``values`` were divided by
    (pixels that read one value before it are told by that value)."""
    if model is None:
        model = difference_noise(values)
    return {index: _cold_in_plane(values[index], model, shading)
            for index in np.ndindex(values.shape[:-2])}


def lift_cold_pixels(values: np.ndarray, found: ColdPixels, owned: bool = False) -> np.ndarray:
    """``values`` with the cold pixels ``found`` in them (:func:`find_cold_pixels`) raised:
    in place where ``owned``, else in a copy made only where there are some."""
    if not any(rows.size for rows, _, _ in found.values()):
        return values
    if not owned:
        values = values.copy()
    for index, (rows, cols, lifted) in found.items():
        values[index][rows, cols] = lifted
    return values


def _cold_in_plane(plane: np.ndarray, model: NoiseModel, shading: NoiseShading | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cold pixels of a plane and what they are raised to: those of dead columns and
    rows (:func:`_cold_lines`), the others (:func:`bgsub.kernels.outliers.cold_pixels`,
    :func:`_confirmed`), and those at one dead value that these leave (:func:`_dead_valued`)."""
    points = _confirmed(plane, *cold_pixels(plane, model.gain, model.offset, model.floor,
                                            COLD_SDS, COLD_SPREAD))
    # (the noise at the plane's typical level: one level where the model has no Poisson term)
    sd = float(model.sd(0.0 if model.gain == 0 else float(
        median(plane[:: max(1, plane.shape[0] // COLD_LINE_SAMPLES)]))))
    columns = _cold_lines(plane, sd)
    # (rows on the plane with its dead columns raised: where a dead row crosses a dead band
    # of columns, the lines either side of each are dead there, and neither pass alone would
    # raise the crossing)
    if columns[0].size:
        lifted = plane.copy()
        lifted[columns[0], columns[1]] = columns[2]
    else:
        lifted = plane
    rows = _cold_lines(lifted.T, sd)
    found = (np.concatenate([points[0], columns[0], rows[1]]),
             np.concatenate([points[1], columns[1], rows[0]]),
             np.concatenate([points[2], columns[2], rows[2]]))
    rest = _dead_valued(plane, model, found, shading)
    return tuple(np.concatenate(parts) for parts in zip(found, rest, strict=True))


def _dead_valued(plane: np.ndarray, model: NoiseModel,
                 found: tuple[np.ndarray, np.ndarray, np.ndarray], shading: NoiseShading | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dead pixels of a plane that the other rules leave (``found``: theirs) and what
    they are raised to: the clusters of pixels that read the plane's lowest value (before
    the noise's ``shading``) and lie ``COLD_SDS`` noise sds below the pixels around them
    (:func:`_raised_to_nearest`), ``DEAD_LEAST`` pixels to ``DEAD_MOST`` of the plane in all
    (more than ``PADDING_SHARE``: not where it is padding, which the engine warns of), where
    that value is not negative (a camera's 0 or offset). A camera's dead pixels read one
    value in clusters and bands of any shape: 3 columns dead over 16 rows of a 1024 px
    field set the default's background 364 grey levels off (its radius 53 -> 256 px)."""
    none = (np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, plane.dtype))
    # (a light background reaches the estimate negated: its lowest value is its saturation,
    # the glass clipped in holes of the tissue -- background, not dead; measured raised on
    # outside.py's H&E images: 0.25 -> 0.39 under an added spot, others moved by 1-13 %)
    lowest = np.min(plane)
    if lowest < 0 and shading is None:
        return none
    at = _at_lowest(plane, lowest, shading, DEAD_MOST * plane.size)
    if at is None or at.size < DEAD_LEAST or _read_below_zero(plane, int(at[0]), shading):
        return none
    # (padding_share finds none under its PADDING_SHARE: not asked there)
    if at.size > PADDING_SHARE * plane.size and padding_share(plane)[0] > 0:
        return none
    rows, cols = np.divmod(at, plane.shape[1])
    box = (slice(max(0, rows.min() - 1), min(plane.shape[0], rows.max() + 2)),
           slice(max(0, cols.min() - 1), min(plane.shape[1], cols.max() + 2)))
    invalid = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), dtype=bool)
    invalid[rows - box[0].start, cols - box[1].start] = True
    chosen = invalid.copy()
    taken = ((found[0] >= box[0].start) & (found[0] < box[0].stop)
             & (found[1] >= box[1].start) & (found[1] < box[1].stop))
    chosen[found[0][taken] - box[0].start, found[1][taken] - box[1].start] = False
    rows, cols, values = _raised_to_nearest(plane[box], chosen, invalid, model)
    return rows + box[0].start, cols + box[1].start, values


def _read_below_zero(plane: np.ndarray, index: int, shading: NoiseShading | None) -> bool:
    """Whether the pixel at flat ``index`` of ``plane`` read a negative value before it was
    divided by ``shading`` (beyond the roundings of the division and of its undoing)."""
    if shading is None:
        return bool(plane.flat[index] < 0)
    row, column = divmod(index, plane.shape[1])
    where = (slice(row, row + 1), slice(column, column + 1))
    before = float(shading.apply(plane[where].astype(np.float64), part=(plane.shape, where))[0, 0])
    eps = np.finfo(np.result_type(plane.dtype, np.float32)).eps
    return before < -2 * abs(shading.level) * 8 * eps


def _at_lowest(plane: np.ndarray, lowest: float, shading: NoiseShading | None,
               most: float) -> np.ndarray | None:
    """The flat indices of the pixels of ``plane`` (whose lowest value is ``lowest``) that
    read its lowest value before it was divided by ``shading`` (to within the roundings of
    the division and of its undoing), or None where there are more than ``most`` (counted
    before they are gathered: half a plane of padding would take a plane's worth of
    indices)."""
    if shading is None:
        at = np.ravel(plane) == lowest
        return np.flatnonzero(at) if np.count_nonzero(at) <= most else None
    row_scale, column_scale = shading.factors(plane.shape)
    eps = np.finfo(np.result_type(plane.dtype, np.float32)).eps
    level = shading.level  # (the values read less it: scaled by the map, as read before)
    # (only rows whose least read value can reach the plane's: in a vignetted plane most of
    # its rows are passed over, and those read are read in strips, the reads never held whole)
    row_at = np.argmin(plane, axis=1)
    row_lows = (plane[np.arange(plane.shape[0]), row_at].astype(np.float64) - level) * row_scale
    least = float(np.min(row_lows * column_scale[row_at]))
    reach = row_lows * np.where(row_lows >= 0, np.min(column_scale), np.max(column_scale))
    rows = np.flatnonzero(reach <= least + (abs(least) + 2 * abs(level)) * 8 * eps)
    strips = [rows[start:start + LOWEST_STRIP] for start in range(0, rows.size, LOWEST_STRIP)]

    def read(strip: np.ndarray) -> np.ndarray:
        values = plane[strip].astype(np.float64)
        values -= level
        values *= row_scale[strip, None]
        values *= column_scale
        return values

    lows = [float(np.min(read(strip))) for strip in strips]
    least = min(lows)
    bound = least + (abs(least) + 2 * abs(level)) * 8 * eps
    found, count = [], 0
    for strip in (strip for strip, low in zip(strips, lows, strict=True) if low <= bound):
        at = np.flatnonzero(read(strip) <= bound)
        count += at.size
        if count > most:
            return None
        found.append(strip[at // plane.shape[1]] * plane.shape[1] + at % plane.shape[1])
    return np.concatenate(found)


def _raised_to_nearest(plane: np.ndarray, chosen: np.ndarray, invalid: np.ndarray,
                       model: NoiseModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``chosen`` pixels of ``plane`` (among the ``invalid`` ones, at one value) in
    clusters that lie ``COLD_SDS`` noise sds (``model``'s) below the median of the pixels
    around them, and the value of the nearest pixel not ``invalid`` to each, found in a
    window around each cluster (the whole plane where a window holds no valid pixel). A
    background clipped at the value reads the values just above it beside it (a light
    background's saturated glass, inverted: 0, then 1, 2, 3 ...), so it is left."""
    labels, count = ndi.label(chosen, structure=np.ones((3, 3), dtype=bool))
    found = []
    possible = _possibly_below(plane, labels, count, invalid, model)
    for label, window in enumerate(ndi.find_objects(labels), start=1):
        if not possible[label - 1]:
            continue
        window = tuple(slice(max(0, w.start - 1), w.stop + 1) for w in window)
        cluster = labels[window] == label
        ring = ndi.binary_dilation(cluster, np.ones((3, 3), dtype=bool)) & ~invalid[window]
        if ring.any():
            around = float(np.median(plane[window][ring]))
            if not around - float(np.max(plane[window][cluster])) > COLD_SDS * float(
                    model.sd(around)):
                continue
        if invalid[window].all():
            window = (slice(0, plane.shape[0]), slice(0, plane.shape[1]))
            if invalid.all():
                continue
            cluster = labels == label
        rows, cols = np.nonzero(cluster)
        values = fill_from_nearest(plane[window], invalid[window])[rows, cols]
        found.append((rows + window[0].start, cols + window[1].start, values))
    if not found:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, plane.dtype)
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _possibly_below(plane: np.ndarray, labels: np.ndarray, count: int, invalid: np.ndarray,
                    model: NoiseModel) -> np.ndarray:
    """Per cluster of ``labels`` (1 to ``count``), whether :func:`_raised_to_nearest` may
    raise it, told for all of them at once: the median of the pixels around a cluster is at
    most their largest, and the noise sd is not below its value at the cluster's (it does
    not fall with the intensity), so a cluster whose largest valid neighbour rises less than
    ``COLD_SDS`` sds above it stays; so does one with no valid neighbour (it is looked at).
    The scattered 0s of a dim 8-bit frame (8,000 one-pixel clusters in a 511x511 time-lapse
    frame, each looked at in turn: 1.2 s a frame) are passed over without a loop. Read at
    the clusters' pixels and their neighbours only: no array of the plane's size."""
    if count == 0 or model.gain < 0:
        return np.ones(count, dtype=bool)
    rows, cols = np.nonzero(labels)
    index = labels[rows, cols] - 1
    highest = np.full(count, -np.inf)
    for dy, dx in itertools.product((-1, 0, 1), repeat=2):
        r, c = rows + dy, cols + dx
        inside = (r >= 0) & (r < plane.shape[0]) & (c >= 0) & (c < plane.shape[1])
        r, c = r[inside], c[inside]
        valid = ~invalid[r, c]
        np.maximum.at(highest, index[inside][valid], plane[r[valid], c[valid]])
    top = np.full(count, -np.inf)
    np.maximum.at(top, index, plane[rows, cols])
    return ~np.isfinite(highest) | (highest - top > COLD_SDS * model.sd(top))


def _cold_lines(plane: np.ndarray, sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of a plane's dead columns (a bad CCD column, a sensor's dead line) and what
    they are raised to: bands of up to ``COLD_BAND`` columns (not the first or last) that dip
    below both columns beside them by ``COLD_SDS`` noise sds (``sd``) or more, and below the
    straight line between those two by as much, on over half of ``COLD_LINE_SAMPLES`` rows
    spread over the plane or on an eighth of them in one run over at least
    ``COLD_RUN_PIXELS`` (:func:`_dead_columns`, :func:`_often`: a CCD column dead from its
    defect on); their pixels that dip that far below the line, raised to it (one column: its
    two neighbours' mean). Below *both* sides: the dark
    side of a step (an edge along the plane, a mosaic's padding) dips below the line but not
    below its own side. Rows: the transposed plane (rows and columns come back swapped)."""
    none = (np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0))
    if plane.shape[1] < 3 or plane.shape[0] < 8:
        return none
    # (in float32 where that holds the values exactly: half the memory to compare)
    step = max(1, plane.shape[0] // COLD_LINE_SAMPLES)
    # (contiguous: the rows' pass reads a transposed plane, whose sampled rows would
    # otherwise keep its column-major layout, 3x slower to compare along them)
    sample = np.ascontiguousarray(plane[::step], np.result_type(plane.dtype, np.float32))
    run = max(COLD_RUN_ROWS, math.ceil(COLD_RUN * sample.shape[0]),
              math.ceil(COLD_RUN_PIXELS / step))
    dead = _dead_columns(sample, COLD_SDS * sd, run)
    if not dead.any():
        return none
    # each run of dead columns is raised to the line between the live columns either side
    # (the first and last columns are never dead: both exist)
    found = []
    for first, stop in zip(*_runs(dead), strict=True):
        line = _line_between(plane[:, first - 1].astype(np.float64),
                             plane[:, stop].astype(np.float64), stop - first)
        rows, which = np.nonzero(plane[:, first:stop] < line - COLD_SDS * sd)
        found.append((rows, first + which, line[rows, which]))
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _dead_columns(sample: np.ndarray, depth: float, run: int) -> np.ndarray:
    """Which columns of ``sample`` (rows spread over a plane) lie in a band of 1 to
    ``COLD_BAND`` columns whose every column, on over half of the rows or on ``run`` of them
    one after another (:func:`_often`), dips more than ``depth`` below both columns beside
    the band and below the straight line between them."""
    n = sample.shape[1]
    dead = np.zeros(n, dtype=bool)
    reach = min(COLD_BAND, n - 2)
    # a column of such a band lies below the highest column within ``reach`` on either side
    # (the band's live neighbours are among them): only bands of such columns are tried
    below = np.full_like(sample, -np.inf)
    below[:, 1:] = _highest_ending(sample, reach)[:, :-1]
    below[:, :-1] = np.minimum(below[:, :-1], _highest_ending(sample[:, ::-1], reach)[:, -2::-1])
    below -= depth
    candidate = _often(sample < below, run)
    candidate[[0, -1]] = False
    if not candidate.any():
        return dead
    for width in range(1, reach + 1):
        for start in np.flatnonzero(candidate[1: n - width]) + 1:
            if candidate[start: start + width].all() and _dips(sample, start, width, depth,
                                                               run):
                dead[start: start + width] = True
    return dead


def _highest_ending(values: np.ndarray, reach: int) -> np.ndarray:
    """The highest of ``values`` over the ``reach`` columns ending at each column (fewer at
    the start): windows doubled, then one shift to the full width."""
    highest, width = values.copy(), 1
    while 2 * width <= reach:
        highest[:, width:] = np.maximum(highest[:, width:], highest[:, :-width])
        width *= 2
    if width < reach:
        rest = reach - width
        highest[:, rest:] = np.maximum(highest[:, rest:], highest[:, :-rest])
    return highest


def _dips(sample: np.ndarray, start: int, width: int, depth: float, run: int) -> bool:
    """Whether the band of ``width`` columns from ``start`` dips more than ``depth`` below both
    columns beside it and below the straight line between them, on over half of the rows or
    on ``run`` of them one after another (:func:`_often`)."""
    left, right = sample[:, start - 1], sample[:, start + width]
    band = sample[:, start: start + width]
    deep = ((band < np.minimum(left, right)[:, None] - depth)
            & (band < _line_between(left, right, width) - depth))
    return bool(_often(deep.all(axis=1)[:, None], run)[0])


def _line_between(left: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """The straight line from the column ``left`` to the column ``right`` across the
    ``width`` columns between them, row by row (one column: the two's mean, exactly)."""
    share = np.arange(1, width + 1) / (width + 1)
    return (1.0 - share)[None, :] * left[:, None] + share[None, :] * right[:, None]


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of true ``flags`` starts, and where it stops (one past its end)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.view(np.int8), [0]))))
    return edges[::2], edges[1::2]


def _often(deep: np.ndarray, run: int) -> np.ndarray:
    """Which columns of ``deep`` (rows spread over a plane) are true on over half of the
    rows, or on ``run`` of them one after another."""
    counts = np.count_nonzero(deep, axis=0)
    often = 2 * counts > deep.shape[0]
    maybe = np.flatnonzero(~often & (counts >= run))
    if maybe.size:
        often[maybe] = _longest_runs(deep[:, maybe]) >= run
    return often


def _longest_runs(flags: np.ndarray) -> np.ndarray:
    """The longest run of true ``flags`` down each column."""
    rows = np.arange(1, flags.shape[0] + 1)[:, None]
    # (each flag's run so far: its row less the last false row above it)
    last_false = np.where(flags, 0, rows)
    np.maximum.accumulate(last_false, axis=0, out=last_false)
    return np.max(rows - last_false, axis=0, initial=0)


def _confirmed(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray, lifted: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cold pixels of ``plane`` found by one noise level that lie ``COLD_SDS`` below
    their neighbour by the noise around them too: the spread of the neighbouring
    differences, about their median (a slope's step), in a window of ``COLD_REACH`` pixels
    either side (the window's pixels repeated at the edges). A model of one level, measured
    on the background, is far under the shot noise of bright objects, whose darkest pixels
    passed for dead (a dim time-lapse frame: 50 of 261,000 at twice the spread; the background
    moved by up to 11 grey levels at a radius of 8 px, under the cells)."""
    if not rows.size:
        return rows, cols, lifted
    # (a thousand candidates at a time: each takes 84 float64 steps and their copies, and
    # a salt-and-pepper or padded plane has tens of thousands -- 3.7 copies of a 2048x2048
    # float32 plane at once)
    keep = np.concatenate([_above_local_noise(plane, rows[i:i + CONFIRM_AT_ONCE],
                                              cols[i:i + CONFIRM_AT_ONCE],
                                              lifted[i:i + CONFIRM_AT_ONCE])
                           for i in range(0, rows.size, CONFIRM_AT_ONCE)])
    return rows[keep], cols[keep], lifted[keep]


def _above_local_noise(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                       lifted: np.ndarray) -> np.ndarray:
    """:func:`_confirmed`'s test of each of these candidates: whether it lies ``COLD_SDS``
    noise sds, measured around it, below ``lifted``."""
    span = np.arange(-COLD_REACH, COLD_REACH + 1)
    window = plane[np.clip(rows[:, None, None] + span[None, :, None], 0, plane.shape[0] - 1),
                   np.clip(cols[:, None, None] + span[None, None, :], 0, plane.shape[1] - 1)]
    window = window.astype(np.float64)
    steps = np.concatenate([np.diff(window, axis=1).reshape(rows.size, -1),
                            np.diff(window, axis=2).reshape(rows.size, -1)], axis=1)
    steps -= np.median(steps, axis=1, keepdims=True)
    local = MAD_TO_SD * np.median(np.abs(steps), axis=1) / np.sqrt(2.0)
    return lifted - plane[rows, cols] > COLD_SDS * local


def difference_noise(values: np.ndarray) -> NoiseModel:
    """One noise level for a plane, from the median absolute difference of neighbours along
    its rows (a white noise's sd times sqrt 2; from their mean where most are 0): a few
    milliseconds where :func:`estimate_noise` takes tens, for :func:`raise_cold_pixels` on a
    grid of block means (objects' edges raise it a little: fewer pixels are cold, none more).

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(0.0, 3.0, (200, 200))
    >>> round(float(difference_noise(noise).sd(0.0)), 1)
    3.0
    """
    steps = np.abs(np.diff(values, axis=-1))
    if not steps.size:
        return NoiseModel(0.0, 0.0, 1e-300)
    typical = float(median(steps))
    # (most steps 0 -- a quantised, nearly noise-free plane: from their mean, sd sqrt(2 / pi))
    sd = MAD_TO_SD * typical if typical > 0 else float(np.mean(steps)) * np.sqrt(np.pi / 2.0)
    sd /= np.sqrt(2.0)
    return NoiseModel(0.0, sd**2, max(1e-12 * sd, 1e-300))


def _tile_log_spreads(cells: np.ndarray) -> np.ndarray:
    """(y, x, log spread, level) of each tile that counts: the tile's centre in -1..1, the
    spread and the median of its flat cells on the background's side."""
    residual = _highpass(cells)
    detail = cells - direct_gaussian_filter(cells, min(cells.shape) / (2.0 * SHADING_TILES),
                                            mode="nearest")
    level = ndi.uniform_filter(detail, 3, mode="reflect")
    flat = _flat_pixels(detail)
    edges = [np.linspace(0, n, SHADING_TILES + 1).astype(int) for n in cells.shape]
    rows = []
    for i in range(SHADING_TILES):
        for j in range(SHADING_TILES):
            tile = (slice(edges[0][i], edges[0][i + 1]), slice(edges[1][j], edges[1][j + 1]))
            keep = flat[tile]
            levels = level[tile][keep]
            if levels.size < 2 * SHADING_LEAST:
                continue
            below = levels <= median(levels)
            chosen = residual[tile][keep][below]
            spread = _spread(chosen)
            if chosen.size < SHADING_LEAST or not spread > 0:
                continue
            rows.append(((edges[0][i] + edges[0][i + 1]) / cells.shape[0] - 1.0,
                         (edges[1][j] + edges[1][j + 1]) / cells.shape[1] - 1.0,
                         np.log(spread), float(median(cells[tile][keep][below]))))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def _fit_log_quadratic(tiles: np.ndarray) -> tuple[np.ndarray, float]:
    """A quadratic fitted to the tiles' log-spreads, and their robust sd about it."""
    y, x, values = tiles.T
    design = np.stack([np.ones_like(y), y, x, y * y, x * x], axis=1)
    weights = np.ones_like(values)
    for _ in range(3):
        coeffs = np.linalg.lstsq(design * weights[:, None], values * weights, rcond=None)[0]
        misfit = values - design @ coeffs
        scatter = MAD_TO_SD * mad(misfit)
        weights = (np.abs(misfit) <= CLIP * max(scatter, 1e-3)).astype(np.float64)
    return coeffs, scatter


def _ramp(value: float, span: tuple[float, float]) -> float:
    """0 up to ``span[0]``, 1 from ``span[1]``, linear between."""
    return min(1.0, max(0.0, (value - span[0]) / (span[1] - span[0])))


def robust_centre_scale(values: np.ndarray, clip: float = 3.0, rounds: int = 5) -> tuple[float,
                                                                                          float]:
    """Median and MAD-based standard deviation after iterative sigma clipping.

    Examples
    --------
    >>> values = np.r_[np.random.default_rng(1).normal(10, 2, 5000), np.full(500, 90.0)]
    >>> centre, scale = robust_centre_scale(values)
    >>> round(centre), round(scale)
    (10, 2)
    """
    values = _subsample(np.asarray(values, dtype=np.float64).ravel())
    centre = float(median(values))
    scale = MAD_TO_SD * mad(values)
    for _ in range(rounds):
        kept = values[np.abs(values - centre) <= clip * scale] if scale > 0 else values
        if kept.size == 0:
            break
        centre = float(median(kept))
        scale = MAD_TO_SD * mad(kept)
    return centre, scale


def _subsample(values: np.ndarray) -> np.ndarray:
    """At most ``MAX_SAMPLES`` values, evenly strided (robust statistics barely change)."""
    stride = -(-values.size // MAX_SAMPLES)
    return values[::stride] if stride > 1 else values


def _highpass(image: np.ndarray) -> np.ndarray:
    """Pixel minus the mean of its neighbours, scaled to the noise's own variance."""
    kernel = np.ones((3,) * image.ndim)
    kernel.flat[kernel.size // 2] = 0.0
    count = kernel.sum()
    kernel /= count
    residual = ndi.correlate(image, kernel, mode="reflect")
    np.subtract(image, residual, out=residual)
    residual /= np.sqrt(1.0 + 1.0 / count)
    return residual


def _inside(where: np.ndarray) -> np.ndarray:
    """The pixels of ``where`` whose neighbours (the high-pass's) are all in it too."""
    return ndi.binary_erosion(where, np.ones((3,) * where.ndim, dtype=bool), border_value=1)


def _flat_pixels(image: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Pixels away from edges: a gradient no larger than noise typically makes (among those
    ``where`` is true, all by default)."""
    if min(image.shape) < 2:
        return np.ones(image.shape, dtype=bool) if where is None else where.copy()
    smooth = direct_gaussian_filter(image, 1.0, mode="reflect")
    if smooth.ndim == 2 and smooth.dtype == np.float64:
        magnitude = gradient_magnitude(smooth)  # (the values below, in one pass)
    else:
        gradients = np.gradient(smooth)
        magnitude = gradients[0]  # the sum of the squares, in place (as sum(g**2) adds them)
        magnitude *= magnitude
        for g in gradients[1:]:
            g *= g
            magnitude += g
        np.sqrt(magnitude, out=magnitude)
    del smooth
    if where is None:
        return magnitude <= EDGE_FACTOR * median(magnitude)
    if not where.any():
        return where.copy()
    return (magnitude <= EDGE_FACTOR * median(magnitude[where])) & where


def _spread(values: np.ndarray) -> float:
    """Robust standard deviation: the RMS of ``values`` about their median, each clipped at
    ``CLIP`` MAD-based sds (consistent for Gaussian noise). Unlike the MAD alone it does not
    jump in steps on quantised (integer) data."""
    values = _subsample(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    centre = float(median(values))
    deviation = values - centre
    sd = MAD_TO_SD * float(median(np.abs(deviation)))  # (mad(), its median reused)
    limit = CLIP * sd if sd > 0 else float(np.max(np.abs(deviation)))
    if not limit > 0:
        return 0.0
    clipped = np.clip(deviation, -limit, limit)
    return float(np.sqrt(np.mean(clipped**2)) / WINSORISED_SD)


def _floor(image: np.ndarray, precision: float) -> float:
    """A tiny positive noise level relative to the image's range, and to its magnitude times
    ``precision`` (the rounding of its values' dtype: both of its 1st to 99th percentiles, so
    that a few hot or absurd pixels -- a division by a flat-field's zeros -- do not set the
    noise of the rest)."""
    low, high = percentiles(image, [1, 99])
    magnitude = max(abs(float(low)), abs(float(high)))
    return max(1e-4 * float(high - low), precision * magnitude, 1e-12)


def _precision(dtype: np.dtype) -> float:
    """How finely ``dtype`` holds a value, relative to it: 1e-6 for float32 (about 8 of its
    steps), as many steps of another float (2e-15 for float64: with float32's 1e-6, a float64
    plane 1e9 above zero with a noise of 30 had a floor of 1,000, and no object stood out of
    it), 0 for integers (exact)."""
    if not np.issubdtype(dtype, np.floating):
        return 0.0
    return 1e-6 * float(np.finfo(dtype).eps) / float(np.finfo(np.float32).eps)


def _surely_binned(size: int, residual: np.ndarray) -> bool:
    """Whether :func:`_binned_variance` of ``size`` pixels of ``residual`` surely finds a bin
    of non-zero spread, told without sorting them by intensity: ``uniform`` needs only that.

    True when more distinct values than bins lie among the first pixels (so some bin holds two
    of them: its spread is not zero) and no non-zero residual is tiny enough for a square to
    underflow (every difference of two values is then at least 2**-386); the bins are not
    subsampled. False (not known: sort and see) otherwise."""
    bins = min(BINS, size // MIN_PER_BIN)
    if bins < 2 or size // bins + 1 > MAX_SAMPLES:
        return False
    first = residual[:16 * BINS]
    if not np.isfinite(first).all() or np.unique(first).size <= bins:
        return False
    magnitude = np.abs(residual)
    least = float(np.min(magnitude, where=magnitude > 0, initial=np.inf))
    return bool(float(magnitude.max()) < 1e300 and least >= 1e-100)  # (False on a NaN)


def _mad_model(residual: np.ndarray, inside: np.ndarray | None, floor: float) -> NoiseModel:
    """One noise level for the image: the MAD of the high-pass ``residual`` (of its pixels
    ``inside``, all by default)."""
    spread = MAD_TO_SD * mad(residual.ravel() if inside is None else residual[inside])
    return NoiseModel(0.0, spread**2, floor)


def _bins(size: int) -> int:
    """How many intensity bins :func:`_binned_variance` makes of ``size`` pixels."""
    return min(BINS, size // MIN_PER_BIN)


def _binned_variance(level: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust noise variance in bins of equal pixel count along the intensity (``level``
    sorted, ties in the pixels' order: :func:`_stable_argsort`; ``residual`` in its order;
    at least two bins' pixels, :func:`_bins`: the caller checks)."""
    bins = _bins(level.size)
    centres, variances = [], []
    # the bins of np.array_split: the first n % bins one longer
    size, longer = divmod(level.size, bins)
    stops = np.cumsum([size + 1 if i < longer else size for i in range(bins)])
    for start, stop in zip(np.r_[0, stops[:-1]], stops, strict=True):
        spread = _spread(residual[start:stop])
        if spread > 0:
            centres.append(_sorted_median(level[start:stop]))
            variances.append(spread**2)
    return np.asarray(centres), np.asarray(variances)


def _stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (equal values in index order), 3x faster on a
    large float array: the unstable (vectorised) sort, then the indices of each run of equal
    values sorted, in one integer sort of (run, index) keys."""
    order = np.argsort(values)
    size = order.size
    if size < 2:
        return order
    ordered = values[order]
    differs = ordered[1:] != ordered[:-1]
    if np.isnan(ordered[-1]):  # NaNs (sorted last) are equal to each other, as the sort has it
        differs &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
    del ordered  # (each array freed once used: at most two of the values' size at a time)
    key = np.empty(size, dtype=np.int64)
    key[0] = 0
    np.cumsum(differs, out=key[1:])
    del differs
    key *= size
    key += order
    del order
    key.sort(kind="stable")  # (distinct keys, so the same order; nearly sorted: 40x faster)
    np.remainder(key, size, out=key)
    return key


def _sorted_median(values: np.ndarray) -> float:
    """``np.median`` of values already sorted (the same arithmetic: the middle value, or
    the mean of the two middle values)."""
    middle = values.size // 2
    if np.isnan(values[-1]):
        return float("nan")
    if values.size % 2:
        return float(values[middle])
    return float(np.mean(values[middle - 1:middle + 1]))


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Median of pairwise slopes, then the median intercept."""
    if x.size < 2 or np.ptp(x) == 0:
        return 0.0, float(np.median(y)) if y.size else 0.0
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    keep = dx > 0
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep])) if keep.any() else 0.0
    return slope, float(np.median(y - slope * x))
