"""Flat (binary footprint) grey-level erosion, dilation and opening.

The footprints are ellipsoids ("disk": offsets ``o`` with ``sum((o_i / r_i) ** 2) <= 1``)
or boxes ("box": ``|o_i| <= floor(r_i)``) in 2D or 3D. Pixels outside the image are
ignored, which is what :func:`skimage.morphology.erosion` / ``dilation`` and OpenCV's
default border do for these symmetric, convex footprints; results are bit-identical to
both.

Algorithms
----------
* Disk: the footprint is split into its rows along the last axis; row ``(dz, dy)`` is a
  segment of half-width ``w(dz, dy)``. The erosion is the minimum over the rows of a 1D
  running minimum of the shifted input row. Each input row gets a sparse table of
  power-of-two minima, so every segment minimum costs two look-ups, giving
  ``O(number of rows)`` = ``O(r)`` (2D) or ``O(r**2)`` (3D) work per pixel. Output is
  processed in tiles of rows (numba ``prange``); each input row's table is built once per
  tile and scattered to the output rows it touches, so memory is one table per thread.
* Box: separable van Herk / Gil-Werman running minimum along each axis, ``O(1)`` per
  pixel in the radius.

Dilation is computed as an erosion of the order-reversed image (``max - v`` for unsigned,
``-1 - v`` for signed integers, ``-v`` for floats), which is exact and is fused into the
kernels' input and output passes. NaN handling is unspecified.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "SUPPORTED_DTYPES",
    "parallel_region",
    "flat_dilation",
    "flat_erosion",
    "flat_opening",
    "footprint_array",
    "footprint_offsets",
    "normalize_radius",
    "row_halfwidths",
]

SUPPORTED_DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(t)
    for t in (np.uint8, np.uint16, np.int16, np.uint32, np.int32, np.float32, np.float64)
)
_SHAPES = ("disk", "box")

RadiusLike = float | Sequence[float]


# ---------------------------------------------------------------------------
# Footprint geometry
# ---------------------------------------------------------------------------


def normalize_radius(radius: RadiusLike, ndim: int) -> tuple[float, ...]:
    """Return ``radius`` as a tuple of ``ndim`` non-negative finite floats.

    Parameters
    ----------
    radius : float or sequence of float
        A scalar (used for every axis) or one value per axis.
    ndim : int
        Number of image axes.

    Returns
    -------
    tuple of float

    Examples
    --------
    >>> normalize_radius(3, 2)
    (3.0, 3.0)
    >>> normalize_radius((1, 2.5, 2.5), 3)
    (1.0, 2.5, 2.5)
    """
    if np.ndim(radius) == 0:
        values = (float(radius),) * ndim  # type: ignore[arg-type]
    else:
        values = tuple(float(r) for r in radius)  # type: ignore[union-attr]
    if len(values) != ndim:
        raise ValueError(f"radius needs {ndim} values (one per axis), got {len(values)}")
    if not all(math.isfinite(r) and r >= 0 for r in values):
        raise ValueError(f"radius values must be finite and >= 0, got {values}")
    return values


def _check_shape(shape: str) -> None:
    if shape not in _SHAPES:
        raise ValueError(f"shape must be one of {_SHAPES}, got {shape!r}")


def _largest_offset(budget: Fraction, r: Fraction) -> int:
    """Largest integer ``x >= 0`` with ``(x / r) ** 2 <= budget`` (``-1`` if none).

    For ``r == 0`` only ``x = 0`` is allowed. Exact (rational arithmetic).
    """
    if budget < 0:
        return -1
    if r == 0:
        return 0
    q = r * r * budget
    return math.isqrt(q.numerator // q.denominator)


@lru_cache(maxsize=64)
def _row_halfwidths_cached(radius: tuple[float, ...], shape: str) -> np.ndarray:
    rads = (0.0,) * (3 - len(radius)) + radius
    rz, ry, rx = (Fraction(r) for r in rads)
    nz, ny = math.floor(rads[0]), math.floor(rads[1])
    hw = np.full((2 * nz + 1, 2 * ny + 1), -1, dtype=np.int64)
    for dz in range(-nz, nz + 1):
        budget_z = Fraction(1) if rz == 0 else 1 - Fraction(dz * dz) / (rz * rz)
        for dy in range(-ny, ny + 1):
            if shape == "box":
                hw[dz + nz, dy + ny] = math.floor(rads[2])
                continue
            budget = budget_z if ry == 0 else budget_z - Fraction(dy * dy) / (ry * ry)
            hw[dz + nz, dy + ny] = _largest_offset(budget, rx)
    hw.setflags(write=False)
    return hw


def row_halfwidths(radius: RadiusLike, shape: str = "disk", ndim: int | None = None) -> np.ndarray:
    """Half-widths of the footprint's rows along the last axis.

    Parameters
    ----------
    radius : float or sequence of float
        Radius per axis (2 or 3 values) or a scalar together with ``ndim``.
    shape : {"disk", "box"}
        Footprint shape.
    ndim : int, optional
        Number of axes when ``radius`` is a scalar.

    Returns
    -------
    ndarray of int64, shape ``(2 * floor(rz) + 1, 2 * floor(ry) + 1)``
        ``hw[dz + Rz, dy + Ry]`` is the half-width ``w`` of row ``(dz, dy)`` (the row holds
        offsets ``-w..w``), or ``-1`` when the row is empty. For 2D footprints the first
        axis has length 1. Read-only.

    Examples
    --------
    >>> row_halfwidths(2, ndim=2)
    array([[0, 1, 2, 1, 0]])
    """
    _check_shape(shape)
    if ndim is None:
        ndim = int(np.size(radius))
    if ndim not in (2, 3):
        raise ValueError(f"only 2D and 3D footprints are supported, got ndim={ndim}")
    return _row_halfwidths_cached(normalize_radius(radius, ndim), shape)


def footprint_array(radius: RadiusLike, shape: str = "disk", ndim: int | None = None) -> np.ndarray:
    """Boolean footprint array of side ``2 * floor(r_i) + 1`` along each axis.

    For isotropic integer ``r`` this equals ``skimage.morphology.disk(r)`` (2D) /
    ``ball(r)`` (3D) for ``shape="disk"`` and a full square/cube for ``shape="box"``.

    Parameters
    ----------
    radius : float or sequence of float
        Radius per axis, or a scalar together with ``ndim``.
    shape : {"disk", "box"}
        Footprint shape.
    ndim : int, optional
        Number of axes when ``radius`` is a scalar.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> footprint_array(1, ndim=2).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    if ndim is None:
        ndim = int(np.size(radius))
    hw = row_halfwidths(radius, shape, ndim)
    nx = max(int(hw.max()), 0)
    x = np.abs(np.arange(-nx, nx + 1))
    fp = x[None, None, :] <= hw[:, :, None]
    return fp[0] if ndim == 2 else fp


def footprint_offsets(
    radius: RadiusLike, shape: str = "disk", ndim: int | None = None
) -> np.ndarray:
    """Integer offsets of the footprint's elements relative to its centre.

    Parameters
    ----------
    radius : float or sequence of float
        Radius per axis, or a scalar together with ``ndim``.
    shape : {"disk", "box"}
        Footprint shape.
    ndim : int, optional
        Number of axes when ``radius`` is a scalar.

    Returns
    -------
    ndarray of int64, shape ``(n_elements, ndim)``

    Examples
    --------
    >>> footprint_offsets(1, ndim=2).tolist()
    [[-1, 0], [0, -1], [0, 0], [0, 1], [1, 0]]
    """
    fp = footprint_array(radius, shape, ndim)
    centre = np.array(fp.shape) // 2
    return np.argwhere(fp).astype(np.int64) - centre


# ---------------------------------------------------------------------------
# dtype helpers
# ---------------------------------------------------------------------------


def _as_supported(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D, got ndim={image.ndim}")
    dtype = image.dtype.newbyteorder("=")
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"unsupported dtype {image.dtype}; use one of {SUPPORTED_DTYPES}")
    return np.ascontiguousarray(image, dtype=dtype)


def _min_identity(dtype: np.dtype) -> np.generic:
    """Neutral element of ``min`` for ``dtype`` (its largest value)."""
    if dtype.kind == "f":
        return dtype.type(np.inf)
    return dtype.type(np.iinfo(dtype).max)


def _inversion_constant(dtype: np.dtype) -> np.generic:
    """``c`` such that ``v -> c - v`` is an exact order-reversing bijection of ``dtype``.

    ``max - v`` for unsigned, ``-1 - v`` (= ``~v``) for signed integers and ``-0.0 - v``
    (= ``-v``, also for signed zeros) for floats.
    """
    if dtype.kind == "u":
        return dtype.type(np.iinfo(dtype).max)
    if dtype.kind == "i":
        return dtype.type(-1)
    return dtype.type(-0.0)


def _as3d(a: np.ndarray) -> np.ndarray:
    return a[None] if a.ndim == 2 else a


# A job smaller than this (in simple vector operations) per thread runs on fewer threads:
# below about a millisecond of work, waking a second thread costs more than it saves.
_MIN_WORK_PER_THREAD = 4_000_000


def _planned_threads() -> int:
    """Thread count used to size tiles (fixed, so tiling does not depend on the load)."""
    return int(numba.config.NUMBA_NUM_THREADS)


@contextmanager
def parallel_region(work: float, chunksize: int = 1) -> Iterator[None]:
    """Run the enclosed numba ``prange`` loops with dynamic scheduling and enough threads.

    Parameters
    ----------
    work : float
        Rough number of simple operations; jobs below ``_MIN_WORK_PER_THREAD`` per thread
        use fewer threads (small images run single-threaded).
    chunksize : int
        ``prange`` iterations handed out at a time. The kernels loop over a few coarse
        tiles per thread; dynamic hand-out keeps both cores busy when one of them is
        shared with another process.

    Examples
    --------
    >>> with parallel_region(work=1e9):
    ...     pass
    """
    threads = numba.get_num_threads()
    use = int(max(1, min(threads, work // _MIN_WORK_PER_THREAD)))
    old_chunk = numba.set_parallel_chunksize(chunksize)
    numba.set_num_threads(use)
    try:
        yield
    finally:
        numba.set_num_threads(threads)
        numba.set_parallel_chunksize(old_chunk)


# ---------------------------------------------------------------------------
# Numba kernels: disk (row decomposition + sparse tables)
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _flip(v, c):
    """Order-reversing bijection ``c - v`` (see :func:`_inversion_constant`)."""
    return c - v


@njit(cache=True)
def _build_sparse_table(row, table, nlev, pad, ident, inv_c, flip_in):
    """Fill ``table[k, j] = min(p[j : j + 2**k])`` where ``p`` is ``row`` padded by ``pad``.

    Loops index with the loop variable only (slices for offsets) so that LLVM vectorises.
    """
    n = row.shape[0]
    p = table.shape[1]
    t0 = table[0]
    t0[:pad] = ident
    t0[pad + n :] = ident
    mid = t0[pad : pad + n]
    if flip_in:
        for x in range(n):
            mid[x] = _flip(row[x], inv_c)
    else:
        for x in range(n):
            mid[x] = row[x]
    span = 1
    for k in range(1, nlev):
        m = p - 2 * span + 1
        lo = table[k - 1][:m]
        hi = table[k - 1][span : span + m]
        cur = table[k]
        for j in range(m):
            cur[j] = min(lo[j], hi[j])
        span *= 2


@njit(cache=True)
def _min_update(out_row, level, a, b):
    """``out_row[x] = min(out_row[x], level[x + a], level[x + b])``."""
    n = out_row.shape[0]
    la = level[a : a + n]
    lb = level[b : b + n]
    for x in range(n):
        out_row[x] = min(out_row[x], min(la[x], lb[x]))


@njit(cache=True, parallel=True)
def _rows_min_kernel(
    src, out, rowk, rowa, rowb, nlev, pad, ident, inv_c, flip_in, flip_out, bz, by
):
    """Minimum over footprint rows, output tiled in ``(bz, by)`` blocks of rows."""
    nz, ny, nx = src.shape
    rz = (rowk.shape[0] - 1) // 2
    ry = (rowk.shape[1] - 1) // 2
    width = nx + 2 * pad
    ntz = (nz + bz - 1) // bz
    nty = (ny + by - 1) // by
    for t in prange(ntz * nty):
        tz = t // nty
        ty = t - tz * nty
        z0 = tz * bz
        z1 = min(nz, z0 + bz)
        y0 = ty * by
        y1 = min(ny, y0 + by)
        table = np.empty((nlev, width), dtype=src.dtype)
        for z in range(z0, z1):
            for y in range(y0, y1):
                out[z, y, :] = ident
        for zz in range(max(0, z0 - rz), min(nz, z1 + rz)):
            for yy in range(max(0, y0 - ry), min(ny, y1 + ry)):
                built = False
                for z in range(max(z0, zz - rz), min(z1, zz + rz + 1)):
                    iz = zz - z + rz
                    for y in range(max(y0, yy - ry), min(y1, yy + ry + 1)):
                        iy = yy - y + ry
                        k = rowk[iz, iy]
                        if k < 0:
                            continue
                        if not built:
                            _build_sparse_table(
                                src[zz, yy], table, nlev, pad, ident, inv_c, flip_in
                            )
                            built = True
                        _min_update(out[z, y], table[k], rowa[iz, iy], rowb[iz, iy])
        if flip_out:
            for z in range(z0, z1):
                for y in range(y0, y1):
                    o = out[z, y]
                    for x in range(nx):
                        o[x] = _flip(o[x], inv_c)


def _row_plan(hw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Sparse-table level and look-up offsets for every footprint row."""
    pad = int(hw.max())
    n = 2 * hw + 1
    present = hw >= 0
    safe_n = np.where(present, n, 1)
    rowk = (np.frexp(safe_n.astype(np.float64))[1] - 1).astype(np.int64)  # floor(log2 n)
    rowa = np.where(present, pad - hw, 0).astype(np.int64)
    rowb = np.where(present, pad + hw - (1 << rowk) + 1, 0).astype(np.int64)
    nlev = int(rowk[present].max()) + 1
    rowk = np.where(present, rowk, -1).astype(np.int64)
    return rowk, rowa, rowb, nlev, pad


def _tiles(nz: int, ny: int) -> tuple[int, int]:
    """Tile sizes ``(bz, by)`` giving a few tiles per thread."""
    target = 4 * _planned_threads()
    kz = min(nz, target)
    ky = min(ny, max(1, -(-target // kz)))
    return -(-nz // kz), -(-ny // ky)


def _rows_min(
    src3: np.ndarray, out3: np.ndarray, hw: np.ndarray, flip_in: bool, flip_out: bool
) -> None:
    dtype = src3.dtype
    rowk, rowa, rowb, nlev, pad = _row_plan(hw)
    bz, by = _tiles(*src3.shape[:2])
    ident, inv_c = _min_identity(dtype), _inversion_constant(dtype)
    work = src3.size * (int((rowk >= 0).sum()) + nlev)
    with parallel_region(work):
        _rows_min_kernel(
            src3, out3, rowk, rowa, rowb, nlev, pad, ident, inv_c, flip_in, flip_out, bz, by
        )


# ---------------------------------------------------------------------------
# Numba kernels: box (van Herk / Gil-Werman along one axis)
# ---------------------------------------------------------------------------


@njit(cache=True)
def _load(dst, src, ident, inside, inv_c, flip_in):
    """``dst[:] = src`` (order-reversed if ``flip_in``), or the identity if not ``inside``."""
    if not inside:
        dst[:] = ident
    elif flip_in:
        for i in range(dst.shape[0]):
            dst[i] = _flip(src[i], inv_c)
    else:
        for i in range(dst.shape[0]):
            dst[i] = src[i]


@njit(cache=True)
def _accumulate(dst, prev, src, inside, inv_c, flip_in):
    """``dst[:] = min(prev, src)`` (``src`` order-reversed if ``flip_in``; ignored if not
    ``inside``). ``dst`` may be ``prev``."""
    if not inside:
        for i in range(dst.shape[0]):
            dst[i] = prev[i]
    elif flip_in:
        for i in range(dst.shape[0]):
            dst[i] = min(prev[i], _flip(src[i], inv_c))
    else:
        for i in range(dst.shape[0]):
            dst[i] = min(prev[i], src[i])


@njit(cache=True)
def _store(dst, a, b, inv_c, flip_out):
    """``dst[:] = min(a, b)`` (order-reversed if ``flip_out``)."""
    if flip_out:
        for i in range(dst.shape[0]):
            dst[i] = _flip(min(a[i], b[i]), inv_c)
    else:
        for i in range(dst.shape[0]):
            dst[i] = min(a[i], b[i])


@njit(cache=True)
def _vhgw_row(p, g, h, k):
    """Block-wise prefix (``g``) and suffix (``h``) minima of ``p`` in blocks of ``k``.

    Both running minima are carried in one loop (two independent dependency chains).
    """
    width = p.shape[0]
    for bs in range(0, width, k):
        be = min(bs + k, width)
        pb = p[bs:be]
        gb = g[bs:be]
        hb = h[bs:be]
        size = be - bs
        ag = pb[0]
        ah = pb[size - 1]
        for t in range(size):
            ag = min(ag, pb[t])
            gb[t] = ag
            u = size - 1 - t
            ah = min(ah, pb[u])
            hb[u] = ah


@njit(cache=True, parallel=True)
def _vhgw_last_axis(src, out, w, ident, inv_c, flip_in, flip_out):
    """Running minimum of half-width ``w`` along the last axis of 2D arrays (may alias)."""
    nrows, n = src.shape
    width = n + 2 * w
    chunk = 16
    for c in prange((nrows + chunk - 1) // chunk):
        p = np.empty(width, dtype=src.dtype)
        g = np.empty(width, dtype=src.dtype)
        h = np.empty(width, dtype=src.dtype)
        p[:w] = ident
        p[w + n :] = ident
        for r in range(c * chunk, min(nrows, (c + 1) * chunk)):
            _load(p[w : w + n], src[r], ident, True, inv_c, flip_in)
            _vhgw_row(p, g, h, 2 * w + 1)
            _store(out[r], h[:n], g[2 * w : 2 * w + n], inv_c, flip_out)


@njit(cache=True, parallel=True)
def _vhgw_mid_axis(src, out, w, ident, inv_c, flip_in, flip_out, strip):
    """Running minimum of half-width ``w`` along axis 1 of 3D arrays (may alias).

    Lines along the last axis are processed as vectors, in strips of ``strip`` columns.
    """
    nb, n, m = src.shape
    k = 2 * w + 1
    width = n + 2 * w
    nstrips = (m + strip - 1) // strip
    for t in prange(nb * nstrips):
        b = t // nstrips
        c0 = (t - b * nstrips) * strip
        c1 = min(m, c0 + strip)
        s = c1 - c0
        g = np.empty((width, s), dtype=src.dtype)
        h = np.empty(s, dtype=src.dtype)
        for j in range(width):
            inside = 0 <= j - w < n
            row = src[b, min(max(j - w, 0), n - 1), c0:c1]
            if j % k == 0:
                _load(g[j], row, ident, inside, inv_c, flip_in)
            else:
                _accumulate(g[j], g[j - 1], row, inside, inv_c, flip_in)
        for j in range(width - 1, -1, -1):
            inside = 0 <= j - w < n
            row = src[b, min(max(j - w, 0), n - 1), c0:c1]
            if j % k == k - 1 or j == width - 1:
                _load(h, row, ident, inside, inv_c, flip_in)
            else:
                _accumulate(h, h, row, inside, inv_c, flip_in)
            if j < n:
                _store(out[b, j, c0:c1], h, g[j + 2 * w], inv_c, flip_out)


# Per-axis choice for the separable box (measured on 2048x2048 uint16): along the last
# axis the sparse-table row kernel (O(log r), vectorised) beats the scalar van Herk pass
# up to very large windows, so van Herk takes over only above _BOX_X_TABLE_MAX; along the
# other axes van Herk (vectorised over whole rows) wins above _BOX_YZ_DIRECT_MAX, below
# which the direct minimum over the 2r+1 rows is cheaper.
_BOX_X_TABLE_MAX = 255
_BOX_YZ_DIRECT_MAX = 8


def _box_min(
    src3: np.ndarray,
    out3: np.ndarray,
    radius3: tuple[float, float, float],
    flip_in: bool,
    flip_out: bool,
) -> None:
    """Separable box minimum, one 1D pass per axis with a non-zero radius."""
    wz, wy, wx = (math.floor(r) for r in radius3)
    passes = [(ax, w) for ax, w in zip((2, 1, 0), (wx, wy, wz), strict=True) if w > 0]
    if not passes:
        if flip_in != flip_out:
            _flip_copy(src3, out3)
        else:
            out3[...] = src3
        return
    # destinations alternate so that no pass reads the buffer it writes; the last is out3
    tmp = np.empty_like(out3) if len(passes) > 1 else out3
    dests = [out3 if (len(passes) - 1 - i) % 2 == 0 else tmp for i in range(len(passes))]
    cur = src3
    for i, ((ax, w), dst) in enumerate(zip(passes, dests, strict=True)):
        fin = flip_in and i == 0
        fout = flip_out and i == len(passes) - 1
        _box_pass(cur, dst, ax, w, fin, fout)
        cur = dst


def _box_pass(
    src3: np.ndarray, dst3: np.ndarray, axis: int, w: int, flip_in: bool, flip_out: bool
) -> None:
    """1D running minimum of half-width ``w`` along ``axis`` (``dst3`` is not ``src3``)."""
    nz, ny, nx = src3.shape
    dtype = src3.dtype
    ident, inv_c = _min_identity(dtype), _inversion_constant(dtype)
    if axis == 2 and w <= _BOX_X_TABLE_MAX:
        _rows_min(src3, dst3, np.full((1, 1), w, dtype=np.int64), flip_in, flip_out)
    elif w <= _BOX_YZ_DIRECT_MAX and axis != 2:
        hw = np.zeros((2 * w + 1, 1) if axis == 0 else (1, 2 * w + 1), dtype=np.int64)
        _rows_min(src3, dst3, hw, flip_in, flip_out)
    else:
        with parallel_region(6 * src3.size):
            _van_herk_pass(src3, dst3, axis, w, ident, inv_c, flip_in, flip_out)


def _van_herk_pass(
    src3: np.ndarray,
    dst3: np.ndarray,
    axis: int,
    w: int,
    ident: np.generic,
    inv_c: np.generic,
    flip_in: bool,
    flip_out: bool,
) -> None:
    nz, ny, nx = src3.shape
    dtype = src3.dtype
    if axis == 2:
        src2, dst2 = src3.reshape(nz * ny, nx), dst3.reshape(nz * ny, nx)
        _vhgw_last_axis(src2, dst2, w, ident, inv_c, flip_in, flip_out)
    elif axis == 1:
        strip = _strip(nz, ny + 2 * w, nx, dtype)
        _vhgw_mid_axis(src3, dst3, w, ident, inv_c, flip_in, flip_out, strip)
    else:
        shape = (1, nz, ny * nx)
        strip = _strip(1, nz + 2 * w, ny * nx, dtype)
        _vhgw_mid_axis(
            src3.reshape(shape), dst3.reshape(shape), w, ident, inv_c, flip_in, flip_out, strip
        )


def _strip(nb: int, width: int, m: int, dtype: np.dtype, budget: int = 1 << 22) -> int:
    """Column-strip width for :func:`_vhgw_mid_axis`: wide, a few tasks per thread and a
    per-task buffer of at most ``budget`` bytes."""
    per_b = max(1, -(-2 * _planned_threads() // nb))
    strip = -(-m // per_b)
    strip = min(strip, max(64, budget // (width * dtype.itemsize)))
    return max(1, min(m, -(-strip // 64) * 64))


def _flip_copy(src: np.ndarray, out: np.ndarray) -> None:
    """``out = order-reversed src`` (exact)."""
    if src.dtype.kind == "f":
        np.negative(src, out=out)
    else:
        np.invert(src, out=out)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _min_filter(
    image: np.ndarray, radius: RadiusLike, shape: str, flip_in: bool, flip_out: bool
) -> np.ndarray:
    _check_shape(shape)
    src = _as_supported(image)
    rad = normalize_radius(radius, src.ndim)
    out = np.empty_like(src)
    src3, out3 = _as3d(src), _as3d(out)
    rad3 = (0.0,) * (3 - src.ndim) + rad
    if shape == "box":
        _box_min(src3, out3, rad3, flip_in, flip_out)
    else:
        _rows_min(src3, out3, row_halfwidths(rad, shape), flip_in, flip_out)
    return out


def flat_erosion(image: np.ndarray, radius: RadiusLike, shape: str = "disk") -> np.ndarray:
    """Grey-level erosion (local minimum) with a flat disk/ellipsoid or box footprint.

    Parameters
    ----------
    image : ndarray, 2D or 3D
        uint8, uint16, int16, uint32, int32, float32 or float64.
    radius : float or sequence of float
        Footprint radius, a scalar or one value per axis (anisotropic allowed).
    shape : {"disk", "box"}
        ``"disk"``: offsets ``o`` with ``sum((o_i / r_i) ** 2) <= 1`` (``disk``/``ball``
        of skimage for integer ``r``); ``"box"``: ``|o_i| <= floor(r_i)``.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``. Out-of-image pixels are ignored; equal to
        ``skimage.morphology.erosion(image, footprint_array(radius, shape))``.

    Examples
    --------
    >>> img = np.array([[5, 5, 5], [5, 1, 5], [5, 5, 5]], dtype=np.uint8)
    >>> flat_erosion(img, 1)
    array([[5, 1, 5],
           [1, 1, 1],
           [5, 1, 5]], dtype=uint8)
    """
    return _min_filter(image, radius, shape, False, False)


def flat_dilation(image: np.ndarray, radius: RadiusLike, shape: str = "disk") -> np.ndarray:
    """Grey-level dilation (local maximum) with a flat disk/ellipsoid or box footprint.

    Parameters
    ----------
    image : ndarray, 2D or 3D
        uint8, uint16, int16, uint32, int32, float32 or float64.
    radius : float or sequence of float
        Footprint radius, a scalar or one value per axis (anisotropic allowed).
    shape : {"disk", "box"}
        Footprint shape, see :func:`flat_erosion`.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; equal to ``skimage.morphology.dilation``.

    Examples
    --------
    >>> img = np.array([[0, 0, 0], [0, 7, 0], [0, 0, 0]], dtype=np.int16)
    >>> flat_dilation(img, 1, shape="box")
    array([[7, 7, 7],
           [7, 7, 7],
           [7, 7, 7]], dtype=int16)
    """
    return _min_filter(image, radius, shape, True, True)


def flat_opening(
    image: np.ndarray,
    radius: RadiusLike,
    shape: str = "disk",
    dilation_radius: RadiusLike | None = None,
) -> np.ndarray:
    """Grey-level opening: erosion with ``radius`` then dilation with ``dilation_radius``.

    With ``dilation_radius=None`` (the default, same radius) this is the morphological
    opening, equal to ``skimage.morphology.opening`` and OpenCV's ``MORPH_OPEN``.

    Parameters
    ----------
    image : ndarray, 2D or 3D
        uint8, uint16, int16, uint32, int32, float32 or float64.
    radius : float or sequence of float
        Erosion radius, a scalar or one value per axis.
    shape : {"disk", "box"}
        Footprint shape, see :func:`flat_erosion`.
    dilation_radius : float or sequence of float, optional
        Dilation radius; defaults to ``radius``.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``.

    Examples
    --------
    >>> img = np.zeros((5, 5), dtype=np.uint16)
    >>> img[2, 2] = 100  # a one-pixel spot is removed by the opening
    >>> int(flat_opening(img, 1).max())
    0
    """
    _check_shape(shape)
    src = _as_supported(image)
    rad = normalize_radius(radius, src.ndim)
    drad = rad if dilation_radius is None else normalize_radius(dilation_radius, src.ndim)
    tmp = np.empty_like(src)
    out = np.empty_like(src)
    src3, tmp3, out3 = _as3d(src), _as3d(tmp), _as3d(out)
    pad = (0.0,) * (3 - src.ndim)
    # erosion, stored order-reversed so that the dilation can run as a plain minimum
    if shape == "box":
        _box_min(src3, tmp3, pad + rad, False, True)
        _box_min(tmp3, out3, pad + drad, False, True)
    else:
        _rows_min(src3, tmp3, row_halfwidths(rad, shape), False, True)
        _rows_min(tmp3, out3, row_halfwidths(drad, shape), False, True)
    return out
