"""Grey erosion, dilation and opening by a non-flat ball or ellipsoid ("rolling ball").

The structuring function is the upper half of an ellipsoid with semi-axes
``radius`` (pixels, one per image axis) and half-height ``height`` (intensity
units).  With ``q(o) = sum_i (o_i / radius_i) ** 2`` the support is the set of
integer offsets ``o`` with ``q(o) <= 1`` and the ball's surface is
``K(o) = height * sqrt(1 - q(o))``.  The erosion is::

    result[p] = min_{o in S, p + o inside} image[p + o] + height - K(o)

which is exactly what :func:`skimage.restoration.rolling_ball` computes (the
height of the ball's apex), and the dilation is its dual.  Pixels outside the
image are ignored.

Algorithm
---------
The ellipsoid is cut into rows along the last axis.  For a fixed offset in the
outer axes the cross-section is a semi-ellipse of half-width
``rho = radius_x * sqrt(1 - q_outer)`` and height ``h' = height * sqrt(1 - q_outer)``;
scaled by ``s = height / radius_x`` in intensity it is a semicircle of radius
``rho``.  The 2D (3D) erosion is the minimum over the O(r) (O(r^2)) rows of 1D
erosions of the input rows by these caps; each input row's erosion for a given
``|offset|`` is computed once and min-ed into the two (four) output rows it
serves.  Output rows are processed in blocks (one per thread, ``prange``), so
memory beyond the output is a few row buffers per thread.

Each 1D erosion uses one of two exact methods, chosen per row by a cost model:

* direct: the minimum over the ``2 w + 1`` offsets, vectorised (four offsets
  per pass, ping-pong buffers); O(w) per pixel with a tiny constant, best for
  narrow rows;
* envelope: the lower envelope of the candidates' translated semicircles,
  restricted to their windows.  Two translates cross at most once, so a stack
  (the convex-hull trick with expiry, as in Felzenszwalb-Huttenlocher) builds
  it in O(1) amortised time per pixel.  The crossing of two equal circles has a
  closed form; when it falls within rounding of an integer the integer
  switch-over point is settled by direct comparison, so the result is exact
  for the tabulated costs.  Before that, pixels that a strictly lower
  neighbour within 8 pixels dominates on both sides are dropped once per input
  row (for noisy images about 80 % of them).

So the time per pixel is bounded by O(r) row operations in 2D (O(r^2) in 3D),
whatever the radius; small radii run the vectorised direct minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit, prange

__all__ = ["ball_erosion", "ball_dilation", "ball_opening", "ball_support"]

#: Relative slack when testing ``q(o) <= 1`` so that offsets lying exactly on
#: the ellipsoid's surface (e.g. (3, 4) for radius 5) are kept despite rounding.
_SUPPORT_TOL = 1e-12


# ----------------------------------------------------------------------------
# Parameter handling
# ----------------------------------------------------------------------------


def _normalize_radius(radius: float | Sequence[float], ndim: int) -> tuple[float, ...]:
    """Return ``radius`` as a tuple of ``ndim`` positive floats."""
    if np.ndim(radius) == 0:
        radii = (float(radius),) * ndim
    else:
        radii = tuple(float(r) for r in radius)
    if len(radii) != ndim:
        raise ValueError(f"radius has {len(radii)} entries, image has {ndim} axes")
    if not all(math.isfinite(r) and r > 0 for r in radii):
        raise ValueError(f"radius entries must be finite and > 0, got {radii}")
    return radii


def _normalize_height(radii: tuple[float, ...], height: float | None) -> float:
    """Return the ellipsoid's half-height, defaulting to the ball radius."""
    if height is None:
        if any(r != radii[0] for r in radii):
            raise ValueError("height is required when the radius is anisotropic")
        height = radii[0]
    height = float(height)
    if not (math.isfinite(height) and height > 0):
        raise ValueError(f"height must be finite and > 0, got {height}")
    return height


def _check_image(image: np.ndarray) -> np.ndarray:
    """Validate the image and return it as a C-contiguous float array."""
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"image must be float32 or float64, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D, got ndim={image.ndim}")
    return np.ascontiguousarray(image)


def _in_support(q: float) -> bool:
    """Whether a normalised squared distance ``q`` lies inside the ellipsoid."""
    return q <= 1.0 + _SUPPORT_TOL


def _row_profiles(
    radii: tuple[float, ...], height: float, shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tabulate the 1D cross-sections of the ellipsoid along the last axis.

    Offsets that cannot fit in an image of ``shape`` (``|o_i| >= shape[i]``)
    are left out, so the tables stay small for balls larger than the image.

    Returns
    -------
    widths : ndarray of int64, shape (fz + 1, fy + 1)
        Half-width ``w`` (in pixels) of the row at outer offset ``(|dz|, |dy|)``,
        or -1 if that row is empty.  For a 2D image ``fz == 0``.
    rhos : ndarray of float64, same shape
        Real half-width of each row's semi-ellipse.
    costs : ndarray of float64, shape (fz + 1, fy + 1, 2 * P + 1)
        ``costs[i, j, P + dx] = height - K(i, j, dx)`` for ``|dx| <= widths[i, j]``
        (``+inf`` elsewhere), with ``P = max(widths)``.
    """
    outer = radii[:-1] if len(radii) == 3 else (1.0,) + radii[:-1]
    rz, ry = outer
    rx = radii[-1]
    limits = [10**18] * len(radii) if shape is None else [max(n - 1, 0) for n in shape]
    fz = min(int(math.floor(rz)), limits[0]) if len(radii) == 3 else 0
    fy = min(int(math.floor(ry)), limits[-2])
    kmax = limits[-1]
    widths = np.full((fz + 1, fy + 1), -1, dtype=np.int64)
    rhos = np.zeros((fz + 1, fy + 1))
    for i in range(fz + 1):
        for j in range(fy + 1):
            q_outer = (i / rz) ** 2 + (j / ry) ** 2
            if not _in_support(q_outer):
                continue
            k = 0
            while k < kmax and _in_support(q_outer + ((k + 1) / rx) ** 2):
                k += 1
            widths[i, j] = k
            rhos[i, j] = rx * math.sqrt(max(1.0 - q_outer, 0.0))
    pad = int(widths.max())
    costs = np.full((fz + 1, fy + 1, 2 * pad + 1), np.inf)
    for i in range(fz + 1):
        for j in range(fy + 1):
            w = widths[i, j]
            if w < 0:
                continue
            q_outer = (i / rz) ** 2 + (j / ry) ** 2
            dx = np.arange(-w, w + 1)
            frac = np.clip(1.0 - (q_outer + (dx / rx) ** 2), 0.0, None)
            costs[i, j, pad - w : pad + w + 1] = height - height * np.sqrt(frac)
    return widths, rhos, costs


def ball_support(
    radius: float | Sequence[float], height: float | None = None, ndim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ellipsoid's footprint and non-flat structure as dense arrays.

    Parameters
    ----------
    radius : float or sequence of float
        Semi-axes in pixels, one per axis (a scalar means an isotropic ball).
    height : float, optional
        Half-height in intensity units; defaults to the radius of an isotropic ball.
    ndim : int, optional
        Number of axes when ``radius`` is a scalar (default 2).

    Returns
    -------
    footprint : ndarray of bool
        Offsets ``o`` with ``sum((o_i / radius_i) ** 2) <= 1``, centred.
    structure : ndarray of float64
        ``K(o) - height`` on the footprint (``-inf`` outside), i.e. the additive
        structure for :func:`scipy.ndimage.grey_dilation`.

    Examples
    --------
    >>> fp, st = ball_support((1.0, 1.0))
    >>> fp.astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    >>> float(st[1, 1]), float(st[0, 1])
    (0.0, -1.0)
    """
    if ndim is None:
        ndim = 2 if np.ndim(radius) == 0 else len(radius)
    radii = _normalize_radius(radius, ndim)
    h = _normalize_height(radii, height)
    half = [int(math.floor(r)) for r in radii]
    grids = np.meshgrid(*[np.arange(-f, f + 1) for f in half], indexing="ij")
    q = np.zeros(grids[0].shape)
    for g, r in zip(grids, radii, strict=True):
        q = q + (g / r) ** 2
    footprint = q <= 1.0 + _SUPPORT_TOL
    structure = np.where(footprint, h * np.sqrt(np.clip(1.0 - q, 0.0, None)) - h, -np.inf)
    return footprint, structure


# ----------------------------------------------------------------------------
# 1D erosion of one row by one cap
# ----------------------------------------------------------------------------

#: Rows at most this wide are always eroded by the direct (vectorised) minimum
#: over their ``2 w + 1`` offsets.
_ENVELOPE_MIN_WIDTH = 12

#: Wider rows use the lower-envelope method when ``2 w + 1 > a * f + b`` with
#: ``(a, b) = _ENVELOPE_COST`` and ``f`` the fraction of the input row's pixels
#: kept by :func:`_candidates`: the envelope costs about 16 ns per candidate
#: plus 1.5 ns per pixel, the direct minimum about 0.09 ns per pixel and offset
#: (measured on the development machine, AVX2 x86-64).
_ENVELOPE_COST = (180.0, 17.0)

#: How far (in pixels) :func:`_candidates` looks for lower neighbours.
_CANDIDATE_REACH = 8

#: A closed-form switch-over point this close to an integer is re-checked by
#: direct comparison (the closed form is accurate to ~1e-11 pixels).
_NEAR_INTEGER = 1e-6


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _better(ga, gb, a, b, x, w, cs):  # pragma: no cover - numba
    """Whether candidate ``b`` is at least as good as ``a`` at ``x``."""
    return gb + cs[x - b + w] <= ga + cs[x - a + w]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _switch_point(ga, gb, a, b, w, rho, inv_s, span, cs):  # pragma: no cover - numba
    """First integer x at which candidate ``b > a`` is at least as good as ``a``.

    Candidate ``c`` offers ``g_c + cs[x - c + w]`` for ``|x - c| <= w``, a
    translate of a convex function, so "``b`` is at least as good as ``a``" is
    monotone in ``x``.  The answer lies in ``[b - w, a + w + 1]``, where
    ``a + w + 1`` means "only once ``a`` has left the window".  It is found in
    closed form from the crossing of two equal circles (intensities scaled by
    ``inv_s``) and re-checked by direct comparison when that crossing is within
    rounding of an integer, so the result is exact for the tabulated costs.
    """
    lo = b - w
    hi = a + w + 1
    delta = gb - ga
    if delta > span:  # b worse everywhere in the overlap (also gb = +inf)
        return hi
    if delta <= -span:  # b at least as good everywhere (also gb = -inf)
        return lo
    if delta != delta:  # both infinite with the same sign: a tie everywhere
        return lo
    ds = delta * inv_s
    d = np.float64(b - a)
    l2 = d * d + ds * ds
    edge = 2.0 * rho * d
    if l2 > edge:  # the lower semicircles do not cross
        t = hi if delta > 0 else lo
        near = l2 - edge < _NEAR_INTEGER * edge
    else:
        xc = 0.5 * (a + b) + ds * math.sqrt(max(rho * rho / l2 - 0.25, 0.0))
        if xc <= lo:
            t = lo
        elif xc >= hi:
            t = hi
        else:
            t = np.int64(math.ceil(xc))
        near = abs(xc - math.floor(xc + 0.5)) < _NEAR_INTEGER
    if near:
        while t > lo and _better(ga, gb, a, b, t - 1, w, cs):
            t -= 1
        while t < hi and not _better(ga, gb, a, b, t, w, cs):
            t += 1
    return t


@njit(cache=True, nogil=True, error_model="numpy")
def _candidates(row, pad, n, margins, cpos, cval, flags):  # pragma: no cover - numba
    """Keep the pixels of ``row[pad:pad + n]`` that may win some envelope; return their count.

    Pixel ``b`` is dropped when, for some ``1 <= k <= K`` (``K = len(margins) - 1``),
    a strictly lower ``g[b + k]`` with ``g[b + k] + margins[k] <= g[b]`` exists
    *and* likewise on the left (a side without pixels needs no cover, but one
    side must have a real one).  For every cap whose increments
    ``c(k) - c(0)`` are at most ``margins[k]`` and whose half-width is at least
    ``K``, the right neighbour is then at least as good as ``b`` at every
    ``x >= b`` (closer, or within ``k`` at a cost no higher than
    ``g[b] + c(0)``), and the left one at every ``x <= b``.  Chains of dropped
    pixels end at a kept one because each step is strictly lower, so the lower
    envelope of the kept pixels equals that of all pixels.  ``flags`` (uint8,
    length ``n``) is scratch.
    """
    kmax = margins.shape[0] - 1
    g = row[pad : pad + n]
    for x in range(n):
        flags[x] = 0
    for k in range(1, kmax + 1):
        m = margins[k]
        right = row[pad + k : pad + k + n]
        left = row[pad - k : pad - k + n]
        for x in range(n):
            gb = g[x]
            v = right[x]
            u = left[x]
            r_cov = np.uint8((v < gb) & (v + m <= gb))
            l_cov = np.uint8((u < gb) & (u + m <= gb))
            flags[x] |= r_cov | (l_cov << np.uint8(1))
    nk = 0
    for b in range(n):
        r_cov = (flags[b] & 1) != 0
        l_cov = (flags[b] & 2) != 0
        drop = (r_cov or b == n - 1) and (l_cov or b == 0) and (r_cov or l_cov)
        cpos[nk] = b
        cval[nk] = g[b]
        nk += not drop
    return nk


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_line_envelope(
    cpos, cval, nk, cs, w, rho, inv_s, out, sa, sg, st
):  # pragma: no cover - numba
    """``out[x] = min_{b, |x - b| <= w} g[b] + cs[x - b + w]`` over the candidates, O(n).

    ``cpos[:nk]``/``cval[:nk]`` are the candidate positions (increasing) and
    values; every ``x`` of ``out`` must have one within ``w``.  First pass:
    build the lower envelope of the candidates' cost translates on a stack
    (``sa``/``sg`` hold positions and values, ``st[i]`` the first x where
    entry ``i`` is the best).  A new candidate ``b`` pops the top while it is at
    least as good as the top at the point where the top takes over (one table
    comparison, exact because "``b`` at least as good" is monotone in x); then
    its own take-over point is computed once.  Take-over points are clamped to
    the candidates' windows, so expiry needs no extra work.  Second pass: read
    the envelope out segment by segment.
    """
    n = out.shape[0]
    span = cs[0] - cs[w]
    top = -1
    for i in range(nk):
        b = cpos[i]
        gb = cval[i]
        lo = b - w
        while top >= 0:
            x0 = st[top]
            if x0 >= lo and gb + cs[x0 - lo] <= sg[top] + cs[x0 - sa[top] + w]:
                top -= 1
            else:
                break
        t = 0
        if top >= 0:
            t = _switch_point(sg[top], gb, sa[top], b, w, rho, inv_s, span, cs)
        top += 1
        sa[top] = b
        sg[top] = gb
        st[top] = t
    for i in range(top + 1):
        ga = sg[i]
        off = w - sa[i]
        x1 = min(st[i + 1], n) if i < top else n
        for x in range(st[i], x1):
            out[x] = ga + cs[x + off]


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_line_brute(row, pad, cs, w, buf_a, buf_b):  # pragma: no cover - numba
    """Direct erosion of ``row[pad:pad + n]`` (padded with ``+inf``) by ``cs``.

    Takes four offsets per pass over the line and ping-pongs between two
    buffers, so the inner loop vectorises without masked stores; returns the
    buffer holding the result.
    """
    n = buf_a.shape[0]
    base = pad - w
    m = 2 * w + 1
    first = row[base : base + n]
    c = cs[0]
    for x in range(n):
        buf_a[x] = first[x] + c
    src = buf_a
    dst = buf_b
    k = 1
    while k + 4 <= m:
        c0 = cs[k]
        c1 = cs[k + 1]
        c2 = cs[k + 2]
        c3 = cs[k + 3]
        s0 = row[base + k : base + k + n]
        s1 = row[base + k + 1 : base + k + 1 + n]
        s2 = row[base + k + 2 : base + k + 2 + n]
        s3 = row[base + k + 3 : base + k + 3 + n]
        for x in range(n):
            v0 = s0[x] + c0
            v1 = s1[x] + c1
            v2 = s2[x] + c2
            v3 = s3[x] + c3
            v0 = v0 if v0 < v1 else v1
            v2 = v2 if v2 < v3 else v3
            v0 = v0 if v0 < v2 else v2
            o = src[x]
            dst[x] = v0 if v0 < o else o
        src, dst = dst, src
        k += 4
    while k < m:
        c = cs[k]
        s0 = row[base + k : base + k + n]
        for x in range(n):
            v = s0[x] + c
            o = src[x]
            dst[x] = v if v < o else o
        src, dst = dst, src
        k += 1
    return src


# ----------------------------------------------------------------------------
# nD driver
# ----------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _min_into(dst, row, scratch):  # pragma: no cover - numba
    """``dst = minimum(dst, row)``; exact after rounding to ``dst``'s dtype.

    Goes through ``scratch`` because an in-place conditional update compiles
    to slow masked stores.
    """
    n = row.shape[0]
    for x in range(n):
        v = row[x]
        o = dst[x]
        scratch[x] = v if v < o else o
    for x in range(n):
        dst[x] = scratch[x]


@njit(cache=True, nogil=True, error_model="numpy")
def _load_row(img32, img64, in64, k, j, sign, line):  # pragma: no cover - numba
    """``line = sign * image[k, j]`` in float64, from whichever input array is used."""
    if in64:
        src64 = img64[k, j]
        for x in range(line.shape[0]):
            line[x] = sign * src64[x]
    else:
        src32 = img32[k, j]
        for x in range(line.shape[0]):
            line[x] = sign * np.float64(src32[x])


@njit(cache=True, nogil=True, error_model="numpy")
def _store_min(out32, out64, out64_used, z, y, res, scratch):  # pragma: no cover - numba
    """``out[z, y] = minimum(out[z, y], res)`` in whichever output array is used."""
    if out64_used:
        _min_into(out64[z, y], res, scratch)
    else:
        _min_into(out32[z, y], res, scratch)


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_rows(out, z0, z1, y0, y1, sign, init):  # pragma: no cover - numba
    """Set rows to ``+inf`` (``init``) or flip their sign back (``0 - v``, no ``-0``)."""
    for z in range(z0, z1):
        for y in range(y0, y1):
            for x in range(out.shape[2]):
                if init:
                    out[z, y, x] = np.inf
                elif sign < 0:
                    out[z, y, x] = 0.0 - out[z, y, x]


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_block(
    img32, img64, out32, out64, sign, widths, rhos, costs, inv_s, method, margins, block
):  # pragma: no cover - numba
    """Erode the output rows ``[z0, z1) x [y0, y1)`` (``block``) of the output.

    The image is ``img64`` if it is non-empty, else ``img32``; likewise the
    output (one compiled kernel serves all dtype combinations).  Every input
    row within reach is loaded once (times ``sign``, padded with ``+inf``); its
    erosion by the cap of each outer offset ``(|dz|, |dy|)`` is computed once
    and min-ed into the up to four output rows it serves.  The candidates for
    the envelope method are filtered once per input row, and
    ``method = (min_width, a, b)`` picks the envelope for rows wider than
    ``min_width`` with ``2 w + 1 > a * kept_fraction + b``.
    """
    in64 = img64.size > 0
    out64_used = out64.size > 0
    nz, ny, nx = img64.shape if in64 else img32.shape
    z0, z1, y0, y1 = block
    fz = widths.shape[0] - 1
    fy = widths.shape[1] - 1
    pad = (costs.shape[2] - 1) // 2
    if out64_used:
        _fill_rows(out64, z0, z1, y0, y1, sign, True)
    else:
        _fill_rows(out32, z0, z1, y0, y1, sign, True)
    row = np.full(nx + 2 * pad, np.inf)
    line = row[pad : pad + nx]
    buf_a = np.empty(nx)
    buf_b = np.empty(nx)
    scratch = np.empty(nx)
    qa = np.empty(nx, dtype=np.int64)
    qg = np.empty(nx)
    qt = np.empty(nx, dtype=np.int64)
    cpos = np.empty(nx, dtype=np.int64)
    cval = np.empty(nx)
    flags = np.empty(nx, dtype=np.uint8)
    min_width = method[0]
    for k in range(max(0, z0 - fz), min(nz, z1 + fz)):
        for j in range(max(0, y0 - fy), min(ny, y1 + fy)):
            _load_row(img32, img64, in64, k, j, sign, line)
            nk = -1
            threshold = 0.0
            for dz in range(fz + 1):
                if not (z0 <= k - dz < z1 or (dz > 0 and z0 <= k + dz < z1)):
                    continue
                for dy in range(fy + 1):
                    w = widths[dz, dy]
                    if w < 0:
                        break
                    ya_in = y0 <= j - dy < y1
                    yb_in = dy > 0 and y0 <= j + dy < y1
                    if not (ya_in or yb_in):
                        continue
                    cs = costs[dz, dy, pad - w : pad + w + 1]
                    use_envelope = False
                    if w > min_width:
                        if nk < 0:
                            nk = _candidates(row, pad, nx, margins, cpos, cval, flags)
                            threshold = method[1] * nk / nx + method[2]
                        use_envelope = 2 * w + 1 > threshold
                    if not use_envelope:
                        res = _erode_line_brute(row, pad, cs, w, buf_a, buf_b)
                    else:
                        _erode_line_envelope(
                            cpos, cval, nk, cs, w, rhos[dz, dy], inv_s, buf_a, qa, qg, qt
                        )
                        res = buf_a
                    for side in range(2 if dz > 0 else 1):
                        zt = k - dz if side == 0 else k + dz
                        if not (z0 <= zt < z1):
                            continue
                        if ya_in:
                            _store_min(out32, out64, out64_used, zt, j - dy, res, scratch)
                        if yb_in:
                            _store_min(out32, out64, out64_used, zt, j + dy, res, scratch)
    if out64_used:
        _fill_rows(out64, z0, z1, y0, y1, sign, False)
    else:
        _fill_rows(out32, z0, z1, y0, y1, sign, False)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _erode_nd(
    img32, img64, out32, out64, sign, widths, rhos, costs, inv_s, method, margins, bz, by
):  # pragma: no cover - numba
    """Run :func:`_erode_block` over all ``bz x by`` blocks of output rows in parallel."""
    nz, ny, _ = img64.shape if img64.size > 0 else img32.shape
    nbz = (nz + bz - 1) // bz
    nby = (ny + by - 1) // by
    for b in prange(nbz * nby):
        z0 = (b // nby) * bz
        y0 = (b % nby) * by
        block = (z0, min(z0 + bz, nz), y0, min(y0 + by, ny))
        _erode_block(
            img32, img64, out32, out64, sign, widths, rhos, costs, inv_s, method, margins, block
        )


def _block_shape(nz: int, ny: int) -> tuple[int, int]:
    """Split the outer axes into about one block of rows per thread.

    Large blocks maximise the sharing of row erosions between output rows;
    one block per thread keeps all cores busy.
    """
    nthreads = max(1, numba.get_num_threads())
    if nz >= nthreads:
        return -(-nz // nthreads), ny
    nby = -(-nthreads // nz)
    return 1, max(1, -(-ny // nby))


def _candidate_margins(widths: np.ndarray, costs: np.ndarray, min_width: int) -> np.ndarray:
    """Margins for :func:`_candidates`, valid for every row wider than ``min_width``.

    ``margins[k] = max over those rows of c(k) - c(0)`` for ``1 <= k <= K``
    with ``K = min(_CANDIDATE_REACH, smallest such half-width)``.
    """
    pad = (costs.shape[2] - 1) // 2
    env = widths > min_width
    if not env.any():
        return np.zeros(1)
    reach = int(min(_CANDIDATE_REACH, widths[env].min()))
    rows = costs[env][:, pad : pad + reach + 1]
    return (rows - rows[:, :1]).max(axis=0)


def _morph(
    image: np.ndarray,
    radius: float | Sequence[float],
    height: float | None,
    sign: float,
    out_dtype: np.dtype | None = None,
) -> np.ndarray:
    """Shared implementation of erosion (``sign=1``) and dilation (``sign=-1``)."""
    image = _check_image(image)
    radii = _normalize_radius(radius, image.ndim)
    h = _normalize_height(radii, height)
    widths, rhos, costs = _row_profiles(radii, h, image.shape)
    img3 = image if image.ndim == 3 else image[np.newaxis]
    out = np.empty(img3.shape, dtype=image.dtype if out_dtype is None else out_dtype)
    if image.size:
        bz, by = _block_shape(img3.shape[0], img3.shape[1])
        min_width = int(_ENVELOPE_MIN_WIDTH)
        method = np.array([min_width, *_ENVELOPE_COST], dtype=np.float64)
        margins = _candidate_margins(widths, costs, min_width)
        inv_s = radii[-1] / h
        empty32 = np.empty((0, 0, 0), dtype=np.float32)
        empty64 = np.empty((0, 0, 0), dtype=np.float64)
        in64 = img3.dtype == np.float64
        out64 = out.dtype == np.float64
        _erode_nd(
            empty32 if in64 else img3,
            img3 if in64 else empty64,
            empty32 if out64 else out,
            out if out64 else empty64,
            float(sign),
            widths,
            rhos,
            costs,
            inv_s,
            method,
            margins,
            bz,
            by,
        )
    return out.reshape(image.shape)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def ball_erosion(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey erosion by a non-flat ellipsoid (the rolling-ball background).

    ``result[p] = min over o in S, p + o inside the image, of
    image[p + o] + height - height * sqrt(1 - sum((o_i / radius_i) ** 2))``
    where ``S`` is the set of integer offsets with ``sum((o_i / radius_i) ** 2) <= 1``.
    This equals :func:`skimage.restoration.rolling_ball` (``radius=r`` for an
    isotropic integer ``r``, or ``kernel=ellipsoid_kernel(2 * radius + 1, height)``
    for integer semi-axes) but runs in O(r) per pixel in 2D (O(r^2) in 3D).

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis (a scalar is used for
        all axes).  Non-integer and anisotropic values are allowed.
    height : float, optional
        Half-height of the ellipsoid in intensity units.  Defaults to the radius
        for an isotropic ball; required if the radius is anisotropic.

    Returns
    -------
    ndarray
        Eroded image with the input's shape and dtype (computed in float64).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 7), dtype=np.float32)
    >>> img[2, 3] = -10.0
    >>> ball_erosion(img, radius=2.0)[2]
    array([  0.      ,  -8.      ,  -9.732051, -10.      ,  -9.732051,
            -8.      ,   0.      ], dtype=float32)
    """
    return _morph(image, radius, height, 1.0)


def ball_dilation(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey dilation by a non-flat ellipsoid, the dual of :func:`ball_erosion`.

    ``result[p] = max over o in S, p + o inside the image, of
    image[p + o] - height + height * sqrt(1 - sum((o_i / radius_i) ** 2))``.

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis.
    height : float, optional
        Half-height of the ellipsoid; defaults to the radius for an isotropic ball.

    Returns
    -------
    ndarray
        Dilated image with the input's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((1, 5))
    >>> img[0, 2] = 4.0
    >>> ball_dilation(img, radius=(1.0, 2.0), height=1.0)
    array([[3.       , 3.8660254, 4.       , 3.8660254, 3.       ]])
    """
    return _morph(image, radius, height, -1.0)


def ball_opening(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey opening by a non-flat ellipsoid: the rolling-ball envelope (as in ImageJ).

    ``ball_dilation(ball_erosion(image))`` with the intermediate result kept in
    float64.  The opening lies below the image and touches it wherever the ball
    fits under the intensity landscape.

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis.
    height : float, optional
        Half-height of the ellipsoid; defaults to the radius for an isotropic ball.

    Returns
    -------
    ndarray
        Opened image with the input's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 5.0)
    >>> img[4, 4] = 100.0  # the ball cannot enter a one-pixel spike
    >>> round(float(ball_opening(img, radius=3.0)[4, 4]), 4)
    5.1716
    """
    image = _check_image(image)
    eroded = _morph(image, radius, height, 1.0, out_dtype=np.float64)
    return _morph(eroded, radius, height, -1.0, out_dtype=image.dtype)
