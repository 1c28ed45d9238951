"""Pixel-exact re-implementation of ImageJ 1.x ``Process > Subtract Background...``.

This module reproduces what ImageJ **1.54t** (the release Fiji ships today) and
**1.53t** (``ij.plugin.filter.BackgroundSubtracter``) leave in an image, for every
option of the dialog (rolling ball radius, light background, separate colors, create
background, sliding paraboloid, disable smoothing) and for 8-bit, 16-bit, 32-bit and
RGB images.  One implementation serves both releases: the ``v154`` switch of the
kernels selects 1.54t's code where the two differ.  It is written from the published
description of the algorithm and from the observed behaviour of the two releases;
the code is our own.

Summary of the ImageJ algorithm (all arithmetic in IEEE single precision, as in Java):

* The image is converted to float.  With *light background* it is negated.
* Unless *disable smoothing* is set, a 3x3 mean (rows, then columns, edge pixels
  replicated) is applied to the copy used for the background.  In 1.54t a mean that
  would be NaN leaves the pixel unchanged (NaN no longer spreads).
* **Rolling ball**: for radius > 10 the image is shrunk by taking block minima
  (factor 2 up to r = 30, 4 up to r = 100, 8 above); a "ball" that is the top
  patch of a sphere of radius ``r / shrink`` (trimmed by 24/24/32/40 % per side,
  heights *not* scaled) is rolled under the surface (a grey-scale opening with
  windows clipped at the image border); the result is enlarged again by
  ImageJ's own bilinear interpolation/extrapolation.
* **Sliding paraboloid**: unless smoothing is disabled, a 3x3 maximum (whose mean
  increase ``shift`` is remembered) precedes the 3x3 mean; corner pixels that look
  like foreground are lowered (*correct corners*); then a parabola with
  curvature ``1/r`` is slid along rows, columns, rows again and both diagonals
  (9 passes).  Finally the maximum's increase is subtracted.  1.53t divides the
  summed increase by ``width * height`` and subtracts it once; 1.54t divides by the
  number of (non-NaN) row and column steps, ``2 * width * height``, and subtracts it
  twice: the same amount.  1.54t also estimates the corners differently (only from
  touching points inside the line, and not from lines too short for a slope) and
  handles NaN pixels, on which 1.53t never terminates.
* The result is ``image - background`` (+ 0.5 for rounding, + full scale with a light
  background, clipped) for 8/16-bit, ``image - background`` for 32-bit, and the
  background itself with *create background*.  RGB images are processed on the
  HSB brightness (hue and saturation kept) unless *separate colors* is set, in
  which case each channel is treated like an 8-bit image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

__all__ = ["DEFAULT_IMAGEJ_VERSION", "IMAGEJ_VERSIONS", "imagej_subtract"]

#: The ImageJ releases whose output this module reproduces, oldest first.
IMAGEJ_VERSIONS = ("1.53t", "1.54t")
#: The release reproduced unless another is asked for: the one Fiji runs today.
DEFAULT_IMAGEJ_VERSION = "1.54t"

_F32 = np.float32
_FLT_MAX = np.float32(3.4028235e38)
_INF = np.float32(np.inf)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_THIRD = np.float32(0.33333334)  # Java's 0.33333334f
_CURV_TEST = np.float32(1.999)
_INT_MAX = 2147483647

_X_DIRECTION, _Y_DIRECTION = 0, 1
_DIAGONAL_1A, _DIAGONAL_1B, _DIAGONAL_2A, _DIAGONAL_2B = 2, 3, 4, 5

_NJIT = {"cache": True, "error_model": "numpy"}
#: Planes with fewer pixels run on one thread: starting numba's threads for each of
#: the ~20 parallel loops of a plane costs more than it saves (results are identical).
_SERIAL_BELOW_PIXELS = 1 << 16


# --------------------------------------------------------------------------------------
# ball geometry
# --------------------------------------------------------------------------------------
def _shrink_and_trim(radius: float) -> tuple[int, int]:
    """Shrink factor and arc-trim percentage that ImageJ chooses for a radius."""
    if radius <= 10:
        return 1, 24
    if radius <= 30:
        return 2, 24
    if radius <= 100:
        return 4, 32
    return 8, 40


def _java_round(x: float) -> int:
    """``Math.round(double)``: floor(x + 0.5)."""
    return int(math.floor(x + 0.5))


def _imagej_ball(radius: float) -> tuple[np.ndarray, int]:
    """ImageJ's discretised ball patch (float32 heights) and the shrink factor."""
    shrink, trim = _shrink_and_trim(radius)
    small_r = radius / shrink
    if small_r < 1:
        small_r = 1.0
    rsq = small_r * small_r
    xtrim = int(trim * small_r) // 100
    half = _java_round(small_r - xtrim)
    width = 2 * half + 1
    d = np.arange(width, dtype=np.int64) - half
    temp = rsq - (d[None, :] * d[None, :]).astype(np.float64) - (d[:, None] * d[:, None])
    ball = np.where(temp > 0.0, np.sqrt(np.maximum(temp, 0.0)), 0.0).astype(np.float32)
    return ball, shrink


# --------------------------------------------------------------------------------------
# 3x3 filters
# --------------------------------------------------------------------------------------
@njit(**_NJIT)
def _filter3_153(pixels, length, pixel0, inc, maximum):  # pragma: no cover - numba
    """1.53t's line filter: in-place 3-point mean or maximum; returns the summed shift."""
    shift = 0.0
    v3 = pixels[pixel0]
    v2 = v3
    p = pixel0
    for i in range(length):
        v1 = v2
        v2 = v3
        if i < length - 1:
            v3 = pixels[p + inc]
        if maximum:
            mx = v1 if v1 > v3 else v3
            if v2 > mx:
                mx = v2
            shift += np.float64(mx - v2)
            pixels[p] = mx
        else:
            pixels[p] = ((v1 + v2) + v3) * _THIRD
        p += inc
    return shift


@njit(cache=True, error_model="numpy", parallel=True)
def _filter3x3_153(pixels, width, height, maximum):  # pragma: no cover - numba
    """1.53t's 3x3 mean or maximum (rows, then columns); returns the mean increase.

    Lines are independent, so they run in parallel; the per-line shift sums are
    added up afterwards in ImageJ's order, giving the identical double result.
    The summed increase is divided by ``width * height`` (rows and columns both
    contribute, so this is twice the mean increase per step).
    """
    row_sums = np.empty(height, dtype=np.float64)
    for yy in prange(height):
        y = np.int64(yy)
        row_sums[y] = _filter3_153(pixels, width, y * width, 1, maximum)
    col_sums = np.empty(width, dtype=np.float64)
    for xx in prange(width):
        x = np.int64(xx)
        col_sums[x] = _filter3_153(pixels, height, x, width, maximum)
    total = 0.0
    for y in range(height):
        total += row_sums[y]
    for x in range(width):
        total += col_sums[x]
    return total / np.float64(width) / np.float64(height)


@njit(**_NJIT)
def _filter3_154(pixels, length, pixel0, inc, maximum, shifts):  # pragma: no cover - numba
    """1.54t's line filter: NaN neighbours are skipped, a NaN mean leaves the pixel.

    With ``maximum`` the increase of every pixel is stored in ``shifts`` (NaN where
    the pixel stays NaN), to be summed in ImageJ's order by the caller.
    """
    v3 = pixels[pixel0]
    v2 = v3
    p = pixel0
    for i in range(length):
        v1 = v2
        v2 = v3
        if i < length - 1:
            v3 = pixels[p + inc]
        if maximum:
            mx = v1 if (v1 > v3 or v3 != v3) else v3
            if v2 > mx or mx != mx:
                mx = v2
            shifts[p] = mx - v2
            pixels[p] = mx
        else:
            mean = ((v1 + v2) + v3) * _THIRD
            if mean == mean:
                pixels[p] = mean
        p += inc


@njit(**_NJIT)
def _add_shifts(shifts, start, count, inc, total):  # pragma: no cover - numba
    """Add the non-NaN ``shifts`` of one line to ``total = [sum, n]`` in line order."""
    p = start
    for _ in range(count):
        s = shifts[p]
        if s == s:
            total[0] += np.float64(s)
            total[1] += 1.0
        p += inc


@njit(cache=True, error_model="numpy", parallel=True)
def _filter3x3_154(pixels, width, height, maximum):  # pragma: no cover - numba
    """1.54t's 3x3 mean or maximum; returns the mean increase per (non-NaN) step.

    The filtering runs in parallel over lines; the increases are then summed in
    one double, in ImageJ's order (all rows, then all columns), as 1.54t does.
    """
    shifts = np.empty(pixels.size if maximum else 0, dtype=np.float32)
    total = np.zeros(2, dtype=np.float64)
    for yy in prange(height):
        y = np.int64(yy)
        _filter3_154(pixels, width, y * width, 1, maximum, shifts)
    if maximum:
        for y in range(height):
            _add_shifts(shifts, y * width, width, 1, total)
    for xx in prange(width):
        x = np.int64(xx)
        _filter3_154(pixels, height, x, width, maximum, shifts)
    if maximum:
        for x in range(width):
            _add_shifts(shifts, x, height, width, total)
    return total[0] / total[1]


@njit(**_NJIT)
def _filter3x3(pixels, width, height, maximum, v154):  # pragma: no cover - numba
    """The 3x3 mean or maximum of the chosen release (see the two versions)."""
    if v154:
        return _filter3x3_154(pixels, width, height, maximum)
    return _filter3x3_153(pixels, width, height, maximum)


# --------------------------------------------------------------------------------------
# rolling ball
# --------------------------------------------------------------------------------------
@njit(**_NJIT)
def _shrink_image(img, factor):  # pragma: no cover - numba
    """Block minimum over ``factor x factor`` blocks (partial blocks at the end)."""
    h, w = img.shape
    sh = (h + factor - 1) // factor
    sw = (w + factor - 1) // factor
    out = np.empty((sh, sw), dtype=np.float32)
    for ys in range(sh):
        for xs in range(sw):
            mn = _FLT_MAX
            for y in range(factor * ys, min(factor * ys + factor, h)):
                for x in range(factor * xs, min(factor * xs + factor, w)):
                    v = img[y, x]
                    if v < mn:
                        mn = v
            out[ys, xs] = mn
    return out


@njit(cache=True, error_model="numpy", parallel=True)
def _roll_ball(img, ball):  # pragma: no cover - numba
    """Grey-scale opening with ImageJ's (non-flat) ball, windows clipped to the image.

    Ball centres range over the image extended by the ball radius on every side,
    as in ImageJ's ``rollBall``: the erosion ``z = min(pixel - ball)`` is taken over
    the part of the patch inside the image, the background is ``max(z + ball)``.
    The result is bit-identical to ImageJ's because min/max are order independent
    and float rounding is monotonic: ``min(fl(a - b), fl(c - b)) == fl(min(a, c) - b)``.
    That lets the four mirror-symmetric offsets that share a ball value be
    combined before the subtraction (about 2.5x fewer operations).
    """
    h, w = img.shape
    bw = ball.shape[0]
    r = bw // 2
    r2 = 2 * r
    ph = h + 2 * r2
    pw = w + 2 * r2
    pad = np.full((ph, pw), _INF, dtype=np.float32)  # +inf outside: ignored by min
    for y in range(h):
        for x in range(w):
            v = img[y, x]
            # ImageJ's "if (z > zReduced)" never picks a NaN: treat NaN like "outside"
            pad[r2 + y, r2 + x] = v if v == v else _INF
    eh = h + r2
    ew = w + r2
    ero = np.empty((eh, ew), dtype=np.float32)
    for iyy in prange(eh):  # centre row iy - r; pixel rows iy + r -/+ dy in `pad`
        iy = np.int64(iyy)
        row = ero[iy]
        row[:] = _FLT_MAX  # ImageJ starts z at Float.MAX_VALUE
        tmp = np.empty(pw, dtype=np.float32)
        for dy in range(r + 1):
            ya = iy + r - dy
            yb = iy + r + dy
            if (ya < r2 or ya >= r2 + h) and (yb < r2 or yb >= r2 + h):
                continue
            a = pad[ya]
            b = pad[yb]
            for k in range(pw):
                va = a[k]
                vb = b[k]
                tmp[k] = va if va < vb else vb
            for dx in range(r + 1):
                bv = ball[r + dy, r + dx]
                tl = tmp[r - dx:r - dx + ew]
                tr = tmp[r + dx:r + dx + ew]
                for k in range(ew):
                    x1 = tl[k]
                    x2 = tr[k]
                    v = (x1 if x1 < x2 else x2) - bv
                    d = row[k]
                    row[k] = v if v < d else d
    out = np.empty((h, w), dtype=np.float32)
    for ypp in prange(h):  # centres (yp + r -/+ dy, xp + r -/+ dx) in `ero`
        yp = np.int64(ypp)
        orow = out[yp]
        orow[:] = -_FLT_MAX  # ImageJ starts the background at -Float.MAX_VALUE
        tmp = np.empty(ew, dtype=np.float32)
        for dy in range(r + 1):
            a = ero[yp + r - dy]
            b = ero[yp + r + dy]
            for k in range(ew):
                va = a[k]
                vb = b[k]
                tmp[k] = va if va > vb else vb
            for dx in range(r + 1):
                bv = ball[r + dy, r + dx]
                tl = tmp[r - dx:r - dx + w]
                tr = tmp[r + dx:r + dx + w]
                for k in range(w):
                    x1 = tl[k]
                    x2 = tr[k]
                    v = (x1 if x1 > x2 else x2) + bv
                    d = orow[k]
                    orow[k] = v if v > d else d
    return out


@njit(**_NJIT)
def _interpolation_arrays(length, small_length, factor):  # pragma: no cover - numba
    idx = np.empty(length, dtype=np.int64)
    wts = np.empty(length, dtype=np.float32)
    half = factor // 2
    for i in range(length):
        d = i - half
        s = d // factor
        if d < 0 and s * factor != d:  # Java integer division truncates toward zero
            s += 1
        if s >= small_length - 1:
            s = small_length - 2
        idx[i] = s
        dist = (np.float32(i) + _HALF) / np.float32(factor) - (np.float32(s) + _HALF)
        wts[i] = _ONE - dist
    return idx, wts


@njit(**_NJIT)
def _enlarge_image(small, height, width, factor):  # pragma: no cover - numba
    """ImageJ's bilinear inter-/extrapolation of the shrunken background."""
    sh, sw = small.shape
    xi, xw = _interpolation_arrays(width, sw, factor)
    yi, yw = _interpolation_arrays(height, sh, factor)
    out = np.empty((height, width), dtype=np.float32)
    line0 = np.zeros(width, dtype=np.float32)
    line1 = np.empty(width, dtype=np.float32)
    for x in range(width):
        line1[x] = small[0, xi[x]] * xw[x] + small[0, xi[x] + 1] * (_ONE - xw[x])
    y_small_line0 = -1
    for y in range(height):
        if y_small_line0 < yi[y]:
            line0, line1 = line1, line0
            y_small_line0 += 1
            row = yi[y] + 1
            for x in range(width):
                line1[x] = small[row, xi[x]] * xw[x] + small[row, xi[x] + 1] * (_ONE - xw[x])
        weight = yw[y]
        for x in range(width):
            out[y, x] = line0[x] * weight + line1[x] * (_ONE - weight)
    return out


def _rolling_ball_background(
    fp: np.ndarray, radius: float, invert: bool, presmooth: bool, v154: bool
) -> np.ndarray:
    """Background of one float32 plane by ImageJ's rolling ball (in place on ``fp``)."""
    ball, shrink = _imagej_ball(radius)
    h, w = fp.shape
    if shrink > 1 and w <= shrink:
        raise ValueError(
            f"ImageJ fails (ArrayIndexOutOfBoundsException) on images with width <= "
            f"{shrink} for radius {radius:g}; use a radius <= 10 or a wider image"
        )
    if invert:
        np.negative(fp, out=fp)
    if presmooth:
        _filter3x3(fp.reshape(-1), w, h, False, v154)
    if shrink > 1:
        small = _roll_ball(_shrink_image(fp, shrink), ball)
        bg = _enlarge_image(small, h, w, shrink)
    else:
        bg = _roll_ball(fp, ball)
    if invert:
        np.negative(bg, out=bg)
    return bg


# --------------------------------------------------------------------------------------
# sliding paraboloid
# --------------------------------------------------------------------------------------
@njit(**_NJIT)
def _d2i(x):  # pragma: no cover - numba
    """Java's ``(int)`` cast of a double (truncating, saturating, NaN -> 0)."""
    if x != x:
        return 0
    if x >= 2147483647.0:
        return _INT_MAX
    if x <= -2147483648.0:
        return -2147483648
    return int(x)


@njit(**_NJIT)
def _pow6(dx):  # pragma: no cover - numba
    return dx * dx * dx * dx * dx * dx


@njit(**_NJIT)
def _find_touching_points(
    pixels, start, inc, length, coeff2, cache, next_point, v154
):  # pragma: no cover - numba
    """Copy one line to ``cache``; chain the points a parabola may touch in ``next_point``.

    Returns the line's minimum.  1.54t also chains the non-NaN neighbours of NaN
    pixels and leaves a NaN last pixel out of the chain.
    """
    min_value = _FLT_MAX
    lastpoint = 0
    v_prev1 = np.float32(0.0)
    v_prev2 = np.float32(0.0)
    curvature_test = _CURV_TEST * coeff2
    p = start
    for i in range(length):
        v = pixels[p]
        cache[i] = v
        if v < min_value:
            min_value = v
        if i >= 2:
            touch = ((v_prev1 + v_prev1) - v_prev2) - v < curvature_test
            if v154 and not touch:
                touch = (v_prev2 != v_prev2 or v != v) and v_prev1 == v_prev1
            if touch:
                next_point[lastpoint] = i - 1
                lastpoint = i - 1
        v_prev2 = v_prev1
        v_prev1 = v
        p += inc
    last = cache[length - 1]
    if v154 and last != last:
        next_point[lastpoint] = _INT_MAX
    else:
        next_point[lastpoint] = length - 1
        next_point[length - 1] = _INT_MAX
    return min_value


@njit(**_NJIT)
def _corrected_edges(
    cache, length, coeff2, first_corner, last_corner, edges, v154
):  # pragma: no cover - numba
    """Both edge values of a line estimated without edge particles (``edges``).

    The line through the outermost inner touching points, plus a 6th-order
    polynomial that allows for vignetting, plus the parabola up to the edge.
    1.54t gives NaN (no estimate) when no inner point was touched or when the
    baseline is too short for a slope.
    """
    if v154 and first_corner > last_corner:
        edges[0] = np.float32(np.nan)
        edges[1] = np.float32(np.nan)
        return
    if 4 * first_corner >= length and (not v154 or cache[0] == cache[0]):
        first_corner = 0
    last = cache[length - 1]
    if 4 * (length - 1 - last_corner) >= length and (not v154 or last == last):
        last_corner = length - 1
    v1 = cache[first_corner]
    v2 = cache[last_corner]
    span_f = np.float32(last_corner - first_corner)
    if v154 and last_corner - first_corner <= length // 4 + 1:
        slope = np.float32(np.nan)
    else:
        slope = (v2 - v1) / span_f
    value0 = v1 - slope * np.float32(first_corner)
    coeff6 = np.float32(0.0)
    mid = _HALF * np.float32(last_corner + first_corner)
    for i in range((length + 2) // 3, (2 * length) // 3 + 1):
        dx = (np.float32(i) - mid) * _TWO / span_f
        poly6 = _pow6(dx) - _ONE
        if cache[i] < (value0 + slope * np.float32(i)) + coeff6 * poly6:
            coeff6 = -((value0 + slope * np.float32(i)) - cache[i]) / poly6
    dx = (np.float32(first_corner) - mid) * _TWO / span_f
    fc = np.float32(first_corner)
    edges[0] = (value0 + coeff6 * (_pow6(dx) - _ONE)) + coeff2 * fc * fc
    dx = (np.float32(last_corner) - mid) * _TWO / span_f
    lc = np.float32(length - 1 - last_corner)
    edges[1] = (
        ((value0 + np.float32(length - 1) * slope) + coeff6 * (_pow6(dx) - _ONE))
        + coeff2 * lc * lc
    )


@njit(**_NJIT)
def _line_slide_parabola(
    pixels, start, inc, length, coeff2, cache, next_point, edges, want_edges, v154
):  # pragma: no cover - numba
    """Slide a parabola (curvature ``2*coeff2``) under one line of ``pixels``.

    Points that the parabola does not touch are replaced by the parabola.  With
    ``want_edges`` the two estimated edge values (corrected for edge particles,
    allowing for vignetting as a 6th-order polynomial) are written to ``edges``.
    ``v154`` selects ImageJ 1.54t's rules (NaN pixels are bridged; the corners are
    the first and last *inner* touching points) instead of 1.53t's.  Returns True
    where 1.53t never finishes: no slope below ``Float.MAX_VALUE`` was found, so it
    goes back to the line's start and repeats itself for ever.
    """
    min_value = _find_touching_points(
        pixels, start, inc, length, coeff2, cache, next_point, v154
    )
    first_corner = length if v154 else length - 1
    last_corner = 0
    i1 = 0
    if v154 and cache[0] != cache[0]:  # a line that starts with NaN starts later
        i1 = next_point[0]
    while i1 < length - 1:
        v1 = cache[i1]
        min_slope = _FLT_MAX
        i2 = 0
        search_to = length
        recalculate = 0
        j = next_point[i1]
        while j < search_to:
            v2 = cache[j]
            if v154 and v2 != v2:  # no parabola can end on NaN: give up this line
                i1 = length - 1
                break
            dj = np.float32(j - i1)
            slope = (v2 - v1) / dj + coeff2 * dj
            if slope < min_slope:
                min_slope = slope
                i2 = j
                recalculate = -3
            if recalculate == 0:
                b = np.float64(_HALF * min_slope / coeff2)
                span = _d2i(b + math.sqrt(b * b + np.float64((v1 - min_value) / coeff2)) + 1.0)
                max_search = i1 + span
                if max_search > _INT_MAX:  # int overflow as in Java
                    max_search -= 4294967296
                if max_search < search_to and max_search > 0:
                    search_to = max_search
            j = next_point[j]
            recalculate += 1
        if v154:
            if i2 <= i1:  # no second point (e.g. all NaN)
                i2 = length - 1
            if first_corner >= length and i1 > 0:
                first_corner = i1
            if i2 < length - 1:
                last_corner = i2
        else:
            if i2 == 0:  # 1.53t would restart the line here, endlessly
                return True
            if i1 == 0:
                first_corner = i2
            if i2 == length - 1:
                last_corner = i1
        p = start + (i1 + 1) * inc
        for jj in range(i1 + 1, i2):
            dj = np.float32(jj - i1)
            pixels[p] = v1 + dj * (min_slope - dj * coeff2)
            p += inc
        i1 = i2

    if want_edges:
        _corrected_edges(cache, length, coeff2, first_corner, last_corner, edges, v154)
    return False


@njit(cache=True, error_model="numpy", parallel=True)
def _filter1d(pixels, width, height, direction, coeff2, v154):  # pragma: no cover - numba
    """Slide the parabola along all lines of one direction (as ImageJ's ``filter1D``).

    Returns True if ImageJ 1.53t would never finish one of the lines.
    """
    start_line = 0
    n_lines = 0
    line_inc = 0
    point_inc = 0
    length = 0
    if direction == _X_DIRECTION:
        n_lines = height
        line_inc = width
        point_inc = 1
        length = width
    elif direction == _Y_DIRECTION:
        n_lines = width
        line_inc = 1
        point_inc = width
        length = height
    elif direction == _DIAGONAL_1A:
        n_lines = width - 2
        line_inc = 1
        point_inc = width + 1
    elif direction == _DIAGONAL_1B:
        start_line = 1
        n_lines = height - 2
        line_inc = width
        point_inc = width + 1
    elif direction == _DIAGONAL_2A:
        start_line = 2
        n_lines = width
        line_inc = 1
        point_inc = width - 1
    else:  # _DIAGONAL_2B
        n_lines = height - 2
        line_inc = width
        point_inc = width - 1
    stuck = np.zeros(max(n_lines, 0), dtype=np.bool_)
    for ii in prange(start_line, n_lines):  # the lines of one direction are disjoint
        i = np.int64(ii)
        start_pixel = i * line_inc
        if direction == _DIAGONAL_2B:
            start_pixel += width - 1
        if direction == _DIAGONAL_1A:
            n = min(height, width - i)
        elif direction == _DIAGONAL_1B:
            n = min(width, height - i)
        elif direction == _DIAGONAL_2A:
            n = min(height, i + 1)
        elif direction == _DIAGONAL_2B:
            n = min(width, height - i)
        else:
            n = length
        cache = np.empty(n, dtype=np.float32)
        next_point = np.empty(n, dtype=np.int64)
        edges = np.zeros(2, dtype=np.float32)
        stuck[i] = _line_slide_parabola(
            pixels, start_pixel, point_inc, n, coeff2, cache, next_point, edges, False, v154
        )
    return stuck.any()


@njit(**_NJIT)
def _add_corner(corners, counts, k, value, first, v154):  # pragma: no cover - numba
    """Add one edge estimate to corner ``k`` (1.54t skips NaN estimates and counts)."""
    if v154:
        if value == value:
            corners[k] += value
            counts[k] += 1
    elif first:
        corners[k] = value
    else:
        corners[k] += value


@njit(**_NJIT)
def _correct_corners(pixels, width, height, coeff2, cache, next_point, v154):  # pragma: no cover
    """Lower corner pixels that look like foreground to the estimated background.

    Note that, as in ImageJ, the edge rows/columns and the four corner diagonals are
    themselves parabola-filtered in the process.  1.53t averages the three estimates
    of each corner; 1.54t averages those that are not NaN and also replaces a NaN
    corner pixel.  Returns True if ImageJ 1.53t would never finish one of the lines
    (the pixels are then left half done).
    """
    corners = np.zeros(4, dtype=np.float32)
    counts = np.zeros(4, dtype=np.int64)
    e = np.zeros(2, dtype=np.float32)
    w1 = width - 1
    last_row = (height - 1) * width
    diag = min(width, height)
    c2d = _TWO * coeff2
    # (first pixel, step, length, coefficient, corner of e[0], corner of e[1] or -1):
    # top and bottom rows, left and right columns, then the four corner diagonals
    lines = ((0, 1, width, coeff2, 0, 1), (last_row, 1, width, coeff2, 2, 3),
             (0, width, height, coeff2, 0, 2), (w1, width, height, coeff2, 1, 3),
             (0, 1 + width, diag, c2d, 0, -1), (w1, w1, diag, c2d, 1, -1),
             (last_row, 1 - width, diag, c2d, 2, -1),
             (width * height - 1, -1 - width, diag, c2d, 3, -1))
    n = 0
    for start, inc, length, coefficient, c0, c1 in lines:
        if _line_slide_parabola(
            pixels, start, inc, length, coefficient, cache, next_point, e, True, v154
        ):
            return True
        first = n < 2  # 1.53t assigns the rows' estimates and adds the others
        _add_corner(corners, counts, c0, e[0], first, v154)
        if c1 >= 0:
            _add_corner(corners, counts, c1, e[1], first, v154)
        n += 1
    idx = (0, w1, last_row, width * height - 1)
    for k in range(4):
        divisor = np.float32(counts[k]) if v154 else np.float32(3.0)
        est = corners[k] / divisor
        v = pixels[idx[k]]
        if v > est or (v154 and v != v):
            pixels[idx[k]] = est
    return False


@njit(**_NJIT)
def _sliding_paraboloid(
    pixels, width, height, radius, invert, presmooth, corners, v154
):  # pragma: no cover - numba
    """ImageJ's ``slidingParaboloidFloatBackground`` (1.53t or 1.54t) on a flat float32 array.

    Returns True (leaving ``pixels`` half done) where ImageJ 1.53t never finishes.
    """
    n = max(width, height)
    cache = np.empty(n, dtype=np.float32)
    next_point = np.empty(n, dtype=np.int64)
    coeff2 = _HALF / radius
    coeff2diag = _ONE / radius
    if invert:
        for i in range(pixels.size):
            pixels[i] = -pixels[i]
    shift_by = np.float32(0.0)
    if presmooth:
        shift_by = np.float32(_filter3x3(pixels, width, height, True, v154))
        _filter3x3(pixels, width, height, False, v154)
        if v154:  # 1.54t's mean increase is per row or column step: half of 1.53t's
            shift_by = _TWO * shift_by
    if corners and _correct_corners(pixels, width, height, coeff2, cache, next_point, v154):
        return True
    passes = ((_X_DIRECTION, coeff2), (_Y_DIRECTION, coeff2), (_X_DIRECTION, coeff2),
              (_DIAGONAL_1A, coeff2diag), (_DIAGONAL_1B, coeff2diag),
              (_DIAGONAL_2A, coeff2diag), (_DIAGONAL_2B, coeff2diag),
              (_DIAGONAL_1A, coeff2diag), (_DIAGONAL_1B, coeff2diag))
    for direction, coefficient in passes:
        if _filter1d(pixels, width, height, direction, coefficient, v154):
            return True
    if invert:
        for i in range(pixels.size):
            pixels[i] = -(pixels[i] - shift_by)
    elif presmooth:
        for i in range(pixels.size):
            pixels[i] = pixels[i] - shift_by
    return False


# --------------------------------------------------------------------------------------
# RGB <-> HSB (java.awt.Color, as used by ColorProcessor.getHSB / setHSB)
# --------------------------------------------------------------------------------------
@njit(**_NJIT)
def _rgb_to_hsb_bytes(rgb):  # pragma: no cover - numba
    h, w, _ = rgb.shape
    out = np.empty((3, h, w), dtype=np.uint8)
    c255 = np.float32(255.0)
    for y in range(h):
        for x in range(w):
            r = np.int64(rgb[y, x, 0])
            g = np.int64(rgb[y, x, 1])
            b = np.int64(rgb[y, x, 2])
            cmax = max(r, g, b)
            cmin = min(r, g, b)
            bright = np.float32(cmax) / c255
            if cmax != 0:
                sat = np.float32(cmax - cmin) / np.float32(cmax)
            else:
                sat = np.float32(0.0)
            if sat == 0:
                hue = np.float32(0.0)
            else:
                den = np.float32(cmax - cmin)
                redc = np.float32(cmax - r) / den
                greenc = np.float32(cmax - g) / den
                bluec = np.float32(cmax - b) / den
                if r == cmax:
                    hue = bluec - greenc
                elif g == cmax:
                    hue = (_TWO + redc) - bluec
                else:
                    hue = (np.float32(4.0) + greenc) - redc
                hue = hue / np.float32(6.0)
                if hue < 0:
                    hue = hue + _ONE
            out[0, y, x] = np.uint8(int(np.float64(hue) * 255.0) & 255)
            out[1, y, x] = np.uint8(int(np.float64(sat) * 255.0) & 255)
            out[2, y, x] = np.uint8(int(np.float64(bright) * 255.0) & 255)
    return out


@njit(**_NJIT)
def _to_byte(v):  # pragma: no cover - numba
    return np.uint8(int(v * np.float32(255.0) + _HALF) & 255)


@njit(**_NJIT)
def _hsb_bytes_to_rgb(hb, sb, bb):  # pragma: no cover - numba
    h, w = hb.shape
    out = np.empty((h, w, 3), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            hue = np.float32(np.float64(hb[y, x]) / 255.0)
            sat = np.float32(np.float64(sb[y, x]) / 255.0)
            bri = np.float32(np.float64(bb[y, x]) / 255.0)
            if sat == 0:
                r = g = b = _to_byte(bri)
            else:
                hh = (hue - np.float32(math.floor(np.float64(hue)))) * np.float32(6.0)
                f = hh - np.float32(math.floor(np.float64(hh)))
                p = bri * (_ONE - sat)
                q = bri * (_ONE - sat * f)
                t = bri * (_ONE - sat * (_ONE - f))
                sector = int(hh)
                if sector == 0:
                    r, g, b = _to_byte(bri), _to_byte(t), _to_byte(p)
                elif sector == 1:
                    r, g, b = _to_byte(q), _to_byte(bri), _to_byte(p)
                elif sector == 2:
                    r, g, b = _to_byte(p), _to_byte(bri), _to_byte(t)
                elif sector == 3:
                    r, g, b = _to_byte(p), _to_byte(q), _to_byte(bri)
                elif sector == 4:
                    r, g, b = _to_byte(t), _to_byte(p), _to_byte(bri)
                elif sector == 5:
                    r, g, b = _to_byte(bri), _to_byte(p), _to_byte(q)
                else:
                    r = g = b = np.uint8(0)
            out[y, x, 0] = r
            out[y, x, 1] = g
            out[y, x, 2] = b
    return out


# --------------------------------------------------------------------------------------
# per-plane driver
# --------------------------------------------------------------------------------------
def _is_154(version: str) -> bool:
    """True for 1.54t's code paths; a one-line error for a release we do not reproduce."""
    if version not in IMAGEJ_VERSIONS:
        raise ValueError(
            f"unknown ImageJ version {version!r}; choose one of {', '.join(IMAGEJ_VERSIONS)}"
        )
    return version != "1.53t"


@contextmanager
def _threads_for(n_pixels: int) -> Iterator[None]:
    """One numba thread (for the calling thread only) while a small plane is processed."""
    if n_pixels >= _SERIAL_BELOW_PIXELS:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _background(
    plane: np.ndarray,
    radius: float,
    invert: bool,
    presmooth: bool,
    paraboloid: bool,
    correct_corners: bool,
    v154: bool,
) -> np.ndarray:
    """float32 background of one 2-D plane, as ImageJ computes it."""
    fp = np.array(plane, dtype=np.float32, order="C", copy=True)
    h, w = fp.shape
    if paraboloid:
        if not v154 and not np.isfinite(fp).all():
            raise ValueError(
                "ImageJ 1.53t's sliding paraboloid never finishes on NaN or infinite pixels; "
                "use imagej_version='1.54t' or the rolling ball"
            )
        with _threads_for(fp.size):
            endless = _sliding_paraboloid(
                fp.reshape(-1), w, h, np.float32(radius), invert, presmooth, correct_corners,
                v154,
            )
        if endless:
            raise ValueError(
                "ImageJ 1.53t's sliding paraboloid never finishes on this image (values "
                "spanning more than the float range); use imagej_version='1.54t'"
            )
        return fp
    with _threads_for(fp.size):
        return _rolling_ball_background(fp, radius, invert, presmooth, v154)


def _finish(
    plane: np.ndarray, bg: np.ndarray, create: bool, invert: bool, full_scale: float
) -> np.ndarray:
    """Convert the background / difference to the output type like ImageJ does."""
    if plane.dtype == np.float32:
        return bg if create else plane - bg
    if create:
        value = bg + _HALF
    else:
        offset = np.float32(full_scale + 0.5) if invert else _HALF
        value = (plane.astype(np.float32) - bg) + offset
    value = np.clip(value, np.float32(0.0), np.float32(full_scale))
    return value.astype(plane.dtype)  # truncation == Java (int) cast for values >= 0


def _process_gray(plane, radius, invert, create, presmooth, paraboloid, corners, v154):
    bg = _background(plane, radius, invert, presmooth, paraboloid, corners, v154)
    full = 255.0 if plane.dtype == np.uint8 else 65535.0
    return _finish(plane, bg, create, invert, full)


def imagej_subtract(
    image: np.ndarray,
    radius: float,
    *,
    light_background: bool = False,
    separate_colors: bool = False,
    create_background: bool = False,
    sliding_paraboloid: bool = False,
    disable_smoothing: bool = False,
    correct_corners: bool = True,
    rgb: bool = False,
    version: str = DEFAULT_IMAGEJ_VERSION,
) -> np.ndarray:
    """Reproduce ImageJ's ``Process > Subtract Background...`` pixel for pixel.

    Parameters
    ----------
    image : ndarray
        ``uint8`` (8-bit), ``uint16`` (16-bit) or ``float32`` (32-bit) image of shape
        ``(..., H, W)``; with ``rgb=True`` a ``uint8`` array of shape ``(..., H, W, 3)``.
        Leading axes are processed slice by slice, like an ImageJ stack.
    radius : float
        "Rolling ball radius" in pixels (> 0).  For the rolling ball, radii above 10,
        30 and 100 make ImageJ work on an image shrunk by 2, 4 or 8.
    light_background : bool
        "Light background": the background is brighter than the objects.  (ImageJ
        also flips this for images with an inverting LUT; arrays have none.)
    separate_colors : bool
        "Separate colors" (RGB only): process R, G and B independently instead of the
        HSB brightness.
    create_background : bool
        "Create background (don't subtract)": return the background instead.
    sliding_paraboloid : bool
        "Sliding paraboloid" instead of the rolling ball.
    disable_smoothing : bool
        "Disable smoothing": no 3x3 mean (and, for the paraboloid, no 3x3 maximum)
        before computing the background.
    correct_corners : bool
        Corner-particle correction of the sliding paraboloid (always on in the
        dialog; only the API can switch it off).  Ignored for the rolling ball.
    rgb : bool
        Treat the last axis (length 3, ``uint8``) as RGB, i.e. an ImageJ RGB image.
    version : {"1.54t", "1.53t"}
        The ImageJ release to reproduce: ``"1.54t"`` (the default; what Fiji runs
        today, also the 1.54u daily builds) or ``"1.53t"`` (older analyses).  They
        differ for the sliding paraboloid (corner estimate, NaN pixels) and for the
        3x3 smoothing of 32-bit images with NaN.

    Returns
    -------
    ndarray
        What ImageJ leaves in the image, same shape and dtype as ``image``.  For 8/16
        bit: ``clip(image - background + 0.5)`` (light background:
        ``+ 255.5`` / ``+ 65535.5``), truncated; for 32 bit: ``image - background``;
        with ``create_background`` the (rounded) background.

    Raises
    ------
    TypeError
        For unsupported dtypes.
    ValueError
        For bad shapes, radius or version; where ImageJ itself fails (rolling ball
        with shrinking on an image whose width is <= the shrink factor); and for the
        sliding paraboloid on NaN or infinite pixels with ``version="1.53t"``, on
        which that release never finishes.

    Examples
    --------
    >>> import numpy as np
    >>> from bgsub.methods.imagej import imagej_subtract
    >>> img = np.full((64, 64), 100, np.uint8)
    >>> img[30:34, 30:34] = 200
    >>> out = imagej_subtract(img, 10, disable_smoothing=True)
    >>> int(out[0, 0]), int(out[31, 31])
    (0, 100)
    """
    arr = np.asarray(image)
    radius = float(radius)
    if not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive finite number, got {radius!r}")
    if rgb:
        if arr.dtype != np.uint8 or arr.ndim < 3 or arr.shape[-1] != 3:
            raise ValueError(
                f"rgb=True needs a uint8 array of shape (..., H, W, 3), got "
                f"{arr.dtype} {arr.shape}"
            )
    else:
        if arr.dtype not in (np.uint8, np.uint16, np.float32):
            raise TypeError(
                f"unsupported dtype {arr.dtype}; ImageJ types are uint8, uint16, float32 "
                "(and uint8 RGB with rgb=True)"
            )
        if arr.ndim < 2:
            raise ValueError(f"image must be at least 2-D, got shape {arr.shape}")
    v154 = _is_154(version)
    invert = bool(light_background)
    presmooth = not disable_smoothing
    create = bool(create_background)
    para = bool(sliding_paraboloid)
    corners = bool(correct_corners)

    plane_shape = arr.shape[-3:] if rgb else arr.shape[-2:]
    if 0 in plane_shape:
        raise ValueError(f"empty image plane: shape {arr.shape}")
    planes = arr.reshape((-1, *plane_shape))
    out = np.empty_like(planes)
    settings = (radius, invert, create, presmooth, para, corners, v154)
    for k in range(planes.shape[0]):
        plane = planes[k]
        if not rgb:
            out[k] = _process_gray(plane, *settings)
        elif separate_colors:
            for c in range(3):
                out[k, ..., c] = _process_gray(np.ascontiguousarray(plane[..., c]), *settings)
        else:
            hsb = _rgb_to_hsb_bytes(np.ascontiguousarray(plane))
            bright = _process_gray(hsb[2], *settings)
            out[k] = _hsb_bytes_to_rgb(hsb[0], hsb[1], np.ascontiguousarray(bright))
    return out.reshape(arr.shape)
