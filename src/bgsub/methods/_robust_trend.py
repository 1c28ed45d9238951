"""``robust``'s trend: the background's large-scale tilt, bending and vignetting, a polynomial
fitted once per image to its block minima on a grid that does not depend on the radius (so
that neighbouring radii share it), of degree 4 moved towards 6, 8 and 10 where the lower
degree misses the background (:func:`fit_trend`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bgsub._lazy import lazy_module
from bgsub.kernels.bins import MAD_TO_SD, less_than, median, quantile
from bgsub.kernels.gaussian import direct_gaussian_filter
from bgsub.kernels.polynomial import plane_of_terms
from bgsub.methods._noise import NoiseModel
from bgsub.methods._robust_blocks import (
    PRESMOOTH,
    block_coordinates,
    block_min,
    minimum_depth,
    smoothed_minimum_spread,
)
from bgsub.methods._robust_mode import lowest_peak

ndi = lazy_module("scipy.ndimage")  # (grey_opening; imported on the first fit)

TREND_DEGREE = 4  # the trend: a polynomial of this total degree (vignetting is not quadratic)
TREND_MORE = (6, 8, 10)  # ... or of these, in turn, where the lower degree misses the background's
# large scale (TREND_MISFIT), or where the higher one leaves at most TREND_GAIN of the spread
TREND_GAIN = 0.6  # the lower one leaves on its kept cells, by more than (each; the second
TREND_BEYOND = 3.0  # degree up only where it leaves no more) this many times the noise
TREND_MISFIT = 16.0  # the large scale: kept cells' residual smoothed over 1/16 of each axis
TREND_SIDE_MORE = 64  # (the higher degrees are fitted to at most this many cells per axis)
HIDDEN_WINDOW = 8.0  # the residual's lower envelope: an opening over 1 / this of each axis ...
HIDDEN_SIDE = 64  # ... on at most this many cells per axis
HIDDEN_BEYOND = (1.0, 2.0)  # noise units of its rise above its median: no call / a full call
HIDDEN_LEFT = (0.55, 0.75)  # ... for a higher degree leaving at most (full) / from (none) this
HIDDEN_SCREEN = 32  # ... of it, judged on a fit to at most this many cells per axis
TREND_ROUNDS = 5  # fitted this many times, each time to the cells near its background peak
TREND_KEEP = 3.0  # ... within about this many spreads of the peak
TREND_LEAST = 0.15  # ... but at least this fraction of the cells
SHORT_AXIS = 16  # an axis of fewer cells gets at most a quadratic
TREND_SIDE = 256  # the trend is fitted to at most this many cells per axis (a subsample)
TREND_CELLS = 128  # ... on blocks of n // TREND_CELLS pixels (whatever the radius)


@dataclass(frozen=True)
class Trend:
    """A polynomial over the image's normalised pixel coordinates (-1 to 1 along each axis):
    its monomials (each as the axes it multiplies) and their coefficients; and ``texture``,
    how many times what the noise explains the background's block minima spread about it
    (1 unless that is clearly beyond ``TREND_BEYOND``: a background with texture of its own)."""

    terms: tuple[tuple[int, ...], ...]
    coeffs: np.ndarray
    texture: float = 1.0

    def at(self, coords: list[np.ndarray]) -> np.ndarray:
        """The polynomial on the grid spanned by ``coords`` (one 1D array per axis),
        evaluated term by term: no design matrix of the grid's size."""
        if len(coords) == 2 and all(list(t) == sorted(t) for t in self.terms):
            return self._at_rows(coords)
        return self._at_terms(coords)

    def _at_terms(self, coords: list[np.ndarray]) -> np.ndarray:
        """:meth:`at` for any number of axes: each term broadcast over the whole grid (the
        order of operations :meth:`_at_rows` keeps)."""
        fit = np.zeros(tuple(c.size for c in coords))
        for c, term in zip(self.coeffs, self.terms, strict=True):
            value = np.asarray(c, dtype=np.float64)
            for axis in term:
                shape = [1] * len(coords)
                shape[axis] = -1
                value = value * coords[axis].reshape(shape)
            fit += value
        return fit

    def _at_rows(self, coords: list[np.ndarray]) -> np.ndarray:
        """:meth:`at` on a plane, the same operations in the same order, compiled a row at a
        time (:func:`~bgsub.kernels.polynomial.plane_of_terms`): a term's factors are in
        axis order, so its product of the coefficient and the row coordinates is a column,
        and each column coordinate a product over the grid (a column alone, or the
        coefficient and the column coordinates alone, is added as it is, broadcast)."""
        y, x = coords
        parts = []  # per term: its column (or row, or scalar), its x factors, which
        for c, term in zip(self.coeffs, self.terms, strict=True):
            value = np.asarray(c, dtype=np.float64)
            for _ in range(term.count(0)):
                value = value * y
            times = len(term) - term.count(0)
            column = 0 in term
            if not column:  # no row factor: the whole product is a row (or the scalar)
                for _ in range(times):
                    value = value * x
            parts.append((value, times, column))
        return plane_of_terms(parts, y.size, x)

    def toward(self, other: Trend, share: float) -> Trend:
        """``(1 - share)`` of this polynomial plus ``share`` of ``other`` (its terms: a
        superset of this one's)."""
        coeffs = share * np.asarray(other.coeffs, dtype=np.float64)
        index = {term: i for i, term in enumerate(other.terms)}
        for c, term in zip(self.coeffs, self.terms, strict=True):
            coeffs[index[term]] += (1.0 - share) * c
        return Trend(other.terms, coeffs, self.texture)


def fit_trend(work: np.ndarray, model: NoiseModel) -> Trend:
    """The background's large-scale tilt, bending and vignetting, fitted once per image on
    a grid that does not depend on the radius (blocks of ``n // TREND_CELLS`` pixels per
    axis), so that neighbouring radii share it.

    It is fitted to the block minima raised by their expected depth in the noise (deeper
    where shot noise is larger: without it the trend would bend with the noise, not with the
    background). Its degree is ``TREND_DEGREE``, moved towards the first of ``TREND_MORE``
    where the lower degree misses the background on the large scale -- its kept cells'
    residual smoothed over ``1 / TREND_MISFIT`` of each axis (:func:`_trend`) -- by more
    than ``TREND_BEYOND`` times what the noise explains (a wave or an off-centre vignetting
    that a degree-4 polynomial does not follow; objects are not kept cells, so they do not
    call for a higher degree), by a smooth step of one noise either side, so that two images
    either side of the threshold get nearly the same trend. The large scale, not the spread
    of the kept cells, decides: on a background with texture of its own (bright field,
    histology, phase) that spread is the texture's, whatever the degree. The spread still
    raises it where it is more than ``TREND_BEYOND`` times what the noise explains and the
    higher degree leaves at most ``TREND_GAIN`` of it and no more than that many times the
    noise. Each further degree (fitted to a subsample, ``TREND_SIDE_MORE``) is taken the same
    way, but the large scale alone no longer suffices: it must leave only noise (degree 8's
    many terms follow a textured background's accidents -- an IHC section flipped between
    6 and 8 with an added field, the recovered field 19 grey levels off). The shares
    multiply, so the trend moves continuously between degrees.

    Those rules see the kept cells only; a steep corner that the lower degree misses (a
    cos^4 vignetting or a wave at twice an empty well's range) lies far above its fit, and
    its cells are dropped as if they were objects. So the lower envelope of *every* cell is
    judged too (:func:`_hidden`: the residual opened over ``1 / HIDDEN_WINDOW`` of each axis,
    on a subsample of ``HIDDEN_SIDE`` cells a side, in noise units, its rise above its
    median): where it rises beyond ``HIDDEN_BEYOND`` and the higher degree, fitted to a
    screen of ``HIDDEN_SCREEN`` cells a side (degree 8: the ``TREND_SIDE_MORE`` fit itself),
    leaves at most ``HIDDEN_LEFT`` of that rise, the degree moves up, by smooth steps in
    both (after 8, towards 10 the same way). Objects that fill a region and a textured
    background's accidents rise too, but no
    polynomial takes them (degree 6 leaves 0.8-1.1 of their rise, 0.1-0.4 of a missed
    corner's), so they call for no higher degree. The image's own rise stays in what the
    higher degree leaves, whatever the field: it is a floor under ``left / hidden`` (a
    tomogram's plane of streaks and noise rises 0.82 noise units, so a corner twice its
    range, rising it to 1.53, which degree 6 takes entirely, still leaves 0.55 of it), hence
    the step up to 0.75, still under the objects' 0.8.

    Its ``texture`` is the least spread any degree tried leaves on its kept cells, in units
    of what the noise explains, where that is clearly beyond ``TREND_BEYOND`` (1 otherwise):
    the block minima of a background with texture of its own scatter that much more than
    the noise says (``robust``'s envelope caps the smoothed minima in that unit)."""
    factor = tuple(max(1, n // TREND_CELLS) for n in work.shape)
    minima = block_min(work, factor).astype(np.float64, copy=False)
    lowest = direct_gaussian_filter(minima, PRESMOOTH, mode="nearest")
    lowest += minimum_depth(factor) * model.sd(lowest)
    coords = block_coordinates(factor, work.shape)
    sd = model.sd(lowest)
    noise = smoothed_minimum_spread(factor, lowest.ndim) * float(median(sd))
    fitted: dict[tuple[int, tuple[int, ...]], tuple[Trend, float, float]] = {}

    def fit(degree: int, side: int = TREND_SIDE) -> tuple[Trend, float, float]:
        """:func:`_trend` of ``degree`` on ``side`` cells a side, each fit made once (the
        lower degree's spread on the higher one's subsample may be a fit made before)."""
        key = (degree, _strides(lowest.shape, side))
        if key not in fitted:
            fitted[key] = _trend(lowest, coords, degree, side)
        return fitted[key]

    trend, spread, misfit = fit(TREND_DEGREE)
    # the dropped cells' lower envelope, on a subsample, in noise units (cell by cell)
    grid = tuple(slice(None, None, -(-n // HIDDEN_SIDE)) for n in lowest.shape)
    sample = [c[g] for c, g in zip(coords, grid, strict=True)]
    unit = smoothed_minimum_spread(factor, lowest.ndim) * sd[grid]
    hidden = None  # (measured where it can matter)
    least = spread  # the least spread any degree leaves: the background's own texture
    share = 1.0
    for lower, degree in zip((TREND_DEGREE, *TREND_MORE[:-1]), TREND_MORE, strict=True):
        first = degree == TREND_MORE[0]
        large = _beyond(misfit, noise)  # the lower degree misses the large scale
        # ... or leaves the lower envelope of every cell, dropped ones included, far above
        # the background somewhere (a steep corner, whose cells it drops as objects, so the
        # kept cells' rules never see it), and the higher degree, fitted to a screen (degree
        # 8: to its own subsample), takes most of that rise. Objects covering a region, or a
        # textured background's accidents, rise too, but no polynomial takes them: they do
        # not call for it (so, unlike the spread, this needs no "only noise left" for 8)
        explained, higher, rise = 0.0, None, 0.0
        if not (first and large >= 1.0):  # (a full call to 6 already: nothing to add)
            if hidden is None:
                hidden = _hidden((lowest[grid] - trend.at(sample)) / unit)
            rise = smooth_step((hidden - HIDDEN_BEYOND[0])
                                / (HIDDEN_BEYOND[1] - HIDDEN_BEYOND[0]))
        if rise > 0.0:
            higher = fit(degree, HIDDEN_SCREEN if first else TREND_SIDE_MORE)
            left = _hidden((lowest[grid] - higher[0].at(sample)) / unit)
            explained = rise * smooth_step(
                (HIDDEN_LEFT[1] - left / hidden) / (HIDDEN_LEFT[1] - HIDDEN_LEFT[0]))
        if not (large > 0.0 or _beyond(spread, noise) > 0.0 or explained > 0.0):
            break
        if first or higher is None:
            higher = fit(degree, TREND_SIDE if first else TREND_SIDE_MORE)
        higher, less, further = higher
        least = min(least, less)
        if not first:  # the lower degree's spread on the same subsample
            spread = fit(lower, TREND_SIDE_MORE)[1]
        # the higher degree leaves only noise on its kept cells (not a background's texture,
        # whose accidents many terms would follow) ...
        noise_only = smooth_step((TREND_BEYOND + 1.0 - less / max(noise, 1e-300)) / 2.0)
        # ... and takes most of the lower one's spread
        gain = _beyond(spread, noise) * smooth_step(
            (TREND_GAIN + 0.1 - less / max(spread, 1e-300)) / 0.2)
        share *= max(large if first else large * noise_only, gain * noise_only, explained)
        if not share > 0.0:
            break
        trend = trend.toward(higher, share)
        spread, misfit = less, further
        if degree != TREND_MORE[-1]:
            hidden = _hidden((lowest[grid] - higher.at(sample)) / unit)
    # a background with texture of its own: its block minima spread beyond the noise's
    texture = 1.0 + _beyond(least, noise) * (least / max(noise, 1e-300) - 1.0)
    return Trend(trend.terms, trend.coeffs, texture)


def _hidden(residual: np.ndarray) -> float:
    """How far the lower envelope of a trend's ``residual`` on every cell (in noise units;
    a grey opening over ``1 / HIDDEN_WINDOW`` of each axis: objects narrower than that drop
    out, a region the trend misses does not) rises above its median: the root-mean-square
    of its positive part."""
    size = tuple(max(1, int(n / HIDDEN_WINDOW)) for n in residual.shape)
    envelope = ndi.grey_opening(residual, size=size, mode="nearest")
    rise = envelope - float(median(envelope))
    np.maximum(rise, 0.0, out=rise)
    return float(np.sqrt(np.mean(rise**2)))


def _beyond(value: float, noise: float) -> float:
    """How clearly ``value`` exceeds ``TREND_BEYOND`` x ``noise``: 0 up to one noise
    below, 1 from one above, a smooth step between."""
    return smooth_step((value / max(noise, 1e-300) - TREND_BEYOND + 1.0) / 2.0)


def smooth_step(u: float) -> float:
    """0 up to ``u = 0``, 1 from ``u = 1``, a cosine step between."""
    return 0.5 - 0.5 * float(np.cos(np.pi * min(max(u, 0.0), 1.0)))


def _trend(lowest: np.ndarray, coords: list[np.ndarray], degree: int,
           side: int = TREND_SIDE) -> tuple[Trend, float, float]:
    """A polynomial of total ``degree`` (at most 2 along an axis of fewer than
    ``SHORT_AXIS`` cells) fitted to the block minima ``lowest`` (at ``coords``)
    ``TREND_ROUNDS`` times, each time with less weight on the cells far above the previous
    fit: the background's large-scale tilt, bending and vignetting.

    The cells kept are those within about ``TREND_KEEP`` spreads of the residual's
    background peak (its lowest histogram peak, as in :func:`lowest_peak`, and the spread below
    it; :func:`_keep_weights`), so that objects covering most of the field do not pull the
    fit up. The fit sees every cell of a grid up to ``side`` a side, every second
    (third, ...) of a larger one. Also returned: the spread of the residual below its
    background peak (what the fit leaves on the kept cells), and its misfit on the large
    scale: the root-mean-square of the kept cells' residual smoothed over ``1 /
    TREND_MISFIT`` of each axis (a normalised convolution, about its weighted mean, where the
    smoothed weights reach a fifth), what a higher degree could take.
    """
    strides = _strides(lowest.shape, side)
    sample = lowest[tuple(slice(None, None, k) for k in strides)]
    terms = _trend_terms(lowest.shape, degree)
    grids = [g.ravel() for g in np.meshgrid(*[c[::k] for c, k in zip(coords, strides,
                                                                      strict=True)],
                                             indexing="ij")]
    design = _design(terms, grids)
    powers = _axis_powers([c[::k] for c, k in zip(coords, strides, strict=True)], terms)
    exps = np.array([[term.count(axis) for axis in range(lowest.ndim)] for term in terms])
    values = sample.ravel()
    weights = np.ones(values.size)
    coeffs = np.zeros(len(terms))
    coeffs[0] = float(median(values))
    spread = float("inf")
    for _ in range(TREND_ROUNDS):
        if np.count_nonzero(weights > 0.5) < design.shape[1] * 4:
            break
        coeffs = _least_squares(exps, powers, weights.reshape(sample.shape), sample, design)
        residual = values - design @ coeffs
        centre = lowest_peak(residual)
        below = less_than(residual, centre)
        spread = MAD_TO_SD * float(median(below)) if below.size else 0.0
        # never fewer than TREND_LEAST of the cells: a narrow low peak of a few cells (under a
        # first fit that objects pulled up) would leave the polynomial free everywhere else
        cut = max(centre + TREND_KEEP * spread, float(quantile(residual, TREND_LEAST)))
        weights = _keep_weights(residual - cut, spread)
    misfit = 0.0
    if np.isfinite(spread) and weights.any():
        sigma = tuple(n / TREND_MISFIT for n in sample.shape)
        kept = weights.reshape(sample.shape)
        support = direct_gaussian_filter(kept, sigma, mode="nearest")
        smooth = direct_gaussian_filter((values - design @ coeffs).reshape(sample.shape) * kept,
                                     sigma, mode="nearest")
        inside = support > 0.2
        if inside.any():
            smooth = smooth[inside] / support[inside]
            level = float(np.average(smooth, weights=support[inside]))
            misfit = float(np.sqrt(np.average((smooth - level) ** 2, weights=support[inside])))
    return Trend(tuple(terms), coeffs), spread, misfit


def _strides(shape: tuple[int, ...], side: int) -> tuple[int, ...]:
    """The steps of :func:`_trend`'s subsample of at most ``side`` cells a side."""
    return tuple(-(-n // side) for n in shape)


def _design(terms: list[tuple[int, ...]], grids: list[np.ndarray]) -> np.ndarray:
    """The monomials ``terms`` on the cells (``grids``: their coordinates per axis), one
    column each, ``np.prod`` of its factors bit for bit (a product along the first axis
    multiplies in order): each from its prefix, a column already there, times its last
    factor -- written into the one array, not stacked from columns made apart (two copies
    of it at once: 3.5 image buffers each at 640x640)."""
    design = np.empty((grids[0].size, len(terms)))
    column: dict[tuple[int, ...], int] = {}
    for j, term in enumerate(terms):
        if not term:
            design[:, j] = 1.0
        elif len(term) == 1:
            design[:, j] = grids[term[0]]
        elif term[:-1] in column:
            np.multiply(design[:, column[term[:-1]]], grids[term[-1]], out=design[:, j])
        else:
            design[:, j] = np.prod([grids[axis] for axis in term], axis=0)
        column[term] = j
    return design


def _keep_weights(excess: np.ndarray, spread: float) -> np.ndarray:
    """Weights of the trend's cells by their ``excess`` over the cut: 1 up to one ``spread``
    below it, 0 from one spread above, a smooth (cosine) step between -- a cell near the cut
    does not flip the fit between neighbouring images."""
    if not spread > 0:
        return (excess <= 0).astype(np.float64)
    u = excess / spread
    u += 1.0
    u /= 2.0
    low, high = u <= 0.0, u >= 1.0
    weights = low.astype(np.float64)  # (1 and 0 at the ends: the cosine's own values there)
    between = ~(low | high)  # (NaN too, whose weight is NaN)
    weights[between] = 0.5 + 0.5 * np.cos(np.pi * u[between])
    return weights


def _axis_powers(coords: list[np.ndarray], terms: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Per axis, its coordinates' powers 0 to twice the highest in ``terms`` (one column
    each): every product of two of the trend's monomials is a product of these."""
    powers = []
    for axis, c in enumerate(coords):
        top = 2 * max(term.count(axis) for term in terms)
        powers.append(np.cumprod(np.column_stack([np.ones(c.size)] + [c] * top), axis=1))
    return powers


def _grid_moments(weights: np.ndarray, powers: list[np.ndarray]) -> np.ndarray:
    """``M[a, b, ...] = sum over the grid of weights * x ** a * y ** b * ...``, one axis at a
    time (``einsum``: single-threaded, the same bits on any machine load)."""
    moments = weights
    for power in powers:
        moments = np.einsum("i...,ia->...a", moments, power)
    return moments


def _least_squares(exps: np.ndarray, powers: list[np.ndarray],
                   weights: np.ndarray, values: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The weighted least-squares coefficients of the monomials ``exps`` (one row each: its
    exponent along each axis) on a grid (the
    ``weights`` and ``values`` of its cells, the coordinates' ``powers`` per axis) through
    the normal equations. Their entries are the grid's moments weighted by ``weights ** 2``,
    one per sum of two monomials' exponents, so they are summed axis by axis
    (:func:`_grid_moments`) rather than over the design matrix (about 25x fewer products at
    degree 4, 60x at 8). Where they are singular, an SVD of the weighted ``design`` (one row
    per cell, in the grid's order), formed only then."""
    pairs = tuple((exps[:, None, axis] + exps[None, :, axis]) for axis in range(values.ndim))
    squared = weights**2
    gram = _grid_moments(squared, powers)[pairs]
    ones = tuple(exps[:, axis] for axis in range(values.ndim))
    moment = _grid_moments(squared * values, powers)[ones]
    try:
        return np.linalg.solve(gram, moment)
    except np.linalg.LinAlgError:
        flat = weights.ravel()
        return np.linalg.lstsq(design * flat[:, None], values.ravel() * flat, rcond=None)[0]


def _trend_terms(shape: tuple[int, ...], degree: int) -> list[tuple[int, ...]]:
    """The trend's monomials, each as the axes it multiplies (``()`` the constant)."""
    most = [degree if n >= SHORT_AXIS else 2 for n in shape]
    terms: list[tuple[int, ...]] = [()]
    for total in range(1, degree + 1):
        for axes in itertools.combinations_with_replacement(range(len(shape)), total):
            if all(axes.count(axis) <= most[axis] for axis in set(axes)):
                terms.append(axes)
    return terms
