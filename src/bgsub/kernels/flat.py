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
  processed in tiles of rows (an OpenMP ``prange``); each input row's table is built once
  per tile and scattered to the output rows it touches, so memory is one table per thread.
* Box: separable 1D windows in the input dtype (no float copy). Along x each row is
  padded and goes through ``log2(2r + 1)`` vectorised doubling steps (``O(log r)``); across
  lines (y, z) van Herk / Gil-Werman on whole lines (``O(1)`` in ``r``, vectorised along
  the lines). Windows of consecutive filters along the same axes are fused: an opening
  runs x min -> y min -> y max -> x max on bands of lines held in per-thread buffers, so
  the image is read and written once.
* Offsets that can only reach outside the image (``|o_i| >= n_i``) are dropped, so huge
  radii cost no more than the image extent.

For the disk, dilation is computed as an erosion of the order-reversed image (``max - v``
for unsigned, ``-1 - v`` for signed integers, ``-v`` for floats), which is exact and is
fused into the kernels' input and output passes; the box kernels take the maximum
directly. The loops are compiled (:mod:`bgsub.kernels._flat`, Cython + OpenMP) and release
the GIL; their thread count comes from :mod:`bgsub.kernels.threads`. NaN handling is
unspecified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import numpy as np

from bgsub._axes import per_axis
from bgsub.kernels._flat import box_band, rows_min
from bgsub.kernels.threads import max_threads, threads_for_work

__all__ = [
    "FOOTPRINT_SHAPES",
    "SUPPORTED_DTYPES",
    "planned_threads",
    "threads_for",
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
FOOTPRINT_SHAPES = ("disk", "box")

RadiusLike = float | Sequence[float]


# ---------------------------------------------------------------------------
# Footprint geometry
# ---------------------------------------------------------------------------


def normalize_radius(radius: RadiusLike, ndim: int) -> tuple[float, ...]:
    """``radius`` as ``ndim`` finite floats >= 0 (:func:`bgsub._axes.per_axis`).

    Examples
    --------
    >>> normalize_radius(3, 2)
    (3.0, 3.0)
    """
    return per_axis(radius, ndim, "radius", positive=False)


def check_shape(shape: str) -> None:
    if shape not in FOOTPRINT_SHAPES:
        raise ValueError(f"shape must be one of {FOOTPRINT_SHAPES}, got {shape!r}")


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
def _row_halfwidths_cached(
    radius: tuple[float, ...], shape: str, limit: tuple[int, int] | None = None
) -> np.ndarray:
    """Row half-widths (see :func:`row_halfwidths`), rows limited to ``|dz|, |dy| <= limit``."""
    rads = (0.0,) * (3 - len(radius)) + radius
    rz, ry, rx = (Fraction(r) for r in rads)
    nz, ny = math.floor(rads[0]), math.floor(rads[1])
    if limit is not None:
        nz, ny = min(nz, limit[0]), min(ny, limit[1])
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


def _clipped_halfwidths(
    radius: tuple[float, ...], shape: str, shape3: tuple[int, int, int]
) -> np.ndarray:
    """Row half-widths without offsets that no output pixel can reach inside the image.

    Offsets with ``|o_i| >= n_i`` only ever point outside an image of extent ``n_i``, and
    out-of-image pixels are ignored, so dropping them is exact for erosion/dilation.
    """
    nz, ny, nx = shape3
    hw = _row_halfwidths_cached(radius, shape, (nz - 1, ny - 1))
    return np.minimum(hw, nx - 1)


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
    check_shape(shape)
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


def as_supported(image: np.ndarray) -> np.ndarray:
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


def _max_identity(dtype: np.dtype) -> np.generic:
    """Neutral element of ``max`` for ``dtype`` (its smallest value)."""
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    return dtype.type(np.iinfo(dtype).min)


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


def planned_threads() -> int:
    """Thread count used to size tiles (fixed, so tiling does not depend on the load).

    Examples
    --------
    >>> planned_threads() >= 1
    True
    """
    return max_threads()


def threads_for(work: float) -> int:
    """Threads for a job of about ``work`` simple operations, at most
    :func:`bgsub.kernels.threads.num_threads`; jobs below ``_MIN_WORK_PER_THREAD`` per
    thread use fewer threads (small images run single-threaded).

    Examples
    --------
    >>> threads_for(1.0)
    1
    """
    return threads_for_work(work, _MIN_WORK_PER_THREAD)


# ---------------------------------------------------------------------------
# Disk (row decomposition + sparse tables; the loops are in _flat.pyx)
# ---------------------------------------------------------------------------


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
    target = 4 * planned_threads()
    kz = min(nz, target)
    ky = min(ny, max(1, -(-target // kz)))
    return -(-nz // kz), -(-ny // ky)


def _rows_min(
    src3: np.ndarray, out3: np.ndarray, hw: np.ndarray, flip_in: bool, flip_out: bool
) -> None:
    dtype = src3.dtype
    rowk, rowa, rowb, nlev, pad = _row_plan(hw)
    bz, by = _tiles(*src3.shape[:2])
    consts = np.array([_min_identity(dtype), _inversion_constant(dtype)], dtype=dtype)
    threads = threads_for(src3.size * (int((rowk >= 0).sum()) + nlev))
    tables = np.empty((threads, nlev, src3.shape[2] + 2 * pad), dtype=dtype)
    rows_min(src3, out3, rowk, rowa, rowb, pad, consts, flip_in, flip_out, bz, by, tables)


# ---------------------------------------------------------------------------
# Box (separable 1D passes in the input dtype, fused per band; the loops are in _flat.pyx)
# ---------------------------------------------------------------------------
#
# ``box_band`` runs windows along the rows (``pre``), across the lines (axis 1, ``line``)
# and along the rows again (``post``). Tasks are (plane, band of ``band`` output lines,
# strip of ``cols`` columns; row windows need whole rows, ``cols = m``). A task filters
# the input lines its band depends on (the band plus the line windows' total half-width
# on each side) into the calling thread's buffers, runs the line windows between them
# and writes the band through the post windows: memory is read and written once.
#
# A row window of half-width ``w`` pads the row with the identity and takes
# ``log2(2w + 1)`` doubling steps (``p[j] = min(p[j], p[j + span])``), which leave
# minima over ``span`` pixels; two overlapping look-ups answer every window. A window
# across lines is van Herk / Gil-Werman on whole lines (vectorised along them): for each
# block of ``k = 2w + 1`` outputs, suffix minima over the block's first window and a
# running prefix minimum over the lines after it; each output is one ``min`` of the two.


# Bytes of per-thread line buffers a task of the band kernel aims for (L2-sized) when its
# line windows can run on column strips (no row windows in the same run).
_BOX_STRIP_BYTES = 1 << 19


def _box_tiling(
    shape: tuple[int, int, int], halo: int, k_max: int, whole_rows: bool, nbuf: int,
    itemsize: int,
) -> tuple[int, int]:
    """``(band, cols)`` for the band kernel (``box_band``) on an array of ``shape``.

    With row windows a task needs whole rows; bands give a few tasks per thread but are
    at least twice the halo, so re-filtered halo lines at most double the work. Without,
    a task takes every line of a column strip (no halo work) sized to the cache.
    """
    nb, n, m = shape
    want = 4 * planned_threads()
    if whole_rows:
        per_plane = -(-want // nb)
        return min(n, max(-(-n // per_plane), 2 * halo, 16)), m
    cols = _BOX_STRIP_BYTES // ((nbuf * n + k_max + 1) * itemsize) // 64 * 64
    cols = max(64, cols)
    if nb * -(-m // cols) < want:
        cols = max(64, -(-m * nb // want))
    return n, min(cols, m)


def _box_call(src3: np.ndarray, dst3: np.ndarray, call: tuple[list, list, list]) -> None:
    """One ``box_band`` run; ``call`` is (pre, line, post) lists of ``(w,
    use_max)``."""
    pre, line, post = call
    if not line:
        pre, post = pre + post, []
    nb, n, m = src3.shape
    dtype = src3.dtype
    halo = sum(w for w, _ in line)
    k_max = 2 * max([w for w, _ in line], default=0) + 1
    whole_rows = bool(pre or post)
    nbuf = 2 if whole_rows or len(line) > 2 else 1
    band, cols = _box_tiling(src3.shape, halo, k_max, whole_rows, nbuf, dtype.itemsize)
    lines = min(n, band + 2 * halo) if (whole_rows or len(line) > 1) else 1
    wx = max([w for w, _ in pre + post], default=0)
    row_work = sum(2 + math.log2(2 * w + 1) for w, _ in pre + post)
    work = src3.size * (1 + row_work + 3 * len(line)) * min(2.0, lines / band)

    def arrays(stages: list) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([w for w, _ in stages], dtype=np.int64),
                np.array([mx for _, mx in stages], dtype=np.uint8))

    threads = threads_for(work)
    bufs = np.empty((threads, 2, lines, cols), dtype=dtype)
    suffixes = np.empty((threads, k_max, cols), dtype=dtype)
    prefixes = np.empty((threads, cols), dtype=dtype)
    rows = np.empty((threads, 3, (m + 2 * wx) if whole_rows else 1), dtype=dtype)
    consts = np.array([_min_identity(dtype), _max_identity(dtype)], dtype=dtype)
    box_band(src3, dst3, *arrays(pre), *arrays(line), *arrays(post), consts, band, cols,
             bufs, suffixes, prefixes, rows)


def _box_calls(
    ops: list[tuple[tuple[float, ...], bool]], shape3: tuple[int, int, int]
) -> list[tuple[int, tuple[list, list, list]]]:
    """Box filters ``(radius, use_max)`` as kernel runs ``(line axis, (pre, line, post))``.

    A box filter is a window along each axis in any order, so consecutive filters visit
    the axes in opposite orders (x, y, z, then z, y, x) and one run takes the row windows
    before and after a run of line windows: a 2D opening is a single run, x min ->
    (y min, y max) -> x max. Windows along z (line axis 0) run on their own.
    """
    passes = []
    for i, (radius, use_max) in enumerate(ops):
        rad3 = (0.0,) * (3 - len(radius)) + tuple(radius)
        for axis in ((2, 1, 0) if i % 2 == 0 else (0, 1, 2)):
            w = min(math.floor(rad3[axis]), shape3[axis] - 1)
            if w > 0:
                passes.append((axis, w, use_max))
    calls: list[tuple[int, tuple[list, list, list]]] = []
    i = 0
    while i < len(passes):
        pre, line, post = [], [], []
        while i < len(passes) and passes[i][0] == 2:
            pre.append(passes[i][1:])
            i += 1
        axis = 1
        if i < len(passes) and (passes[i][0] == 1 or not pre):
            axis = passes[i][0]
            while i < len(passes) and passes[i][0] == axis:
                line.append(passes[i][1:])
                i += 1
        while axis == 1 and line and i < len(passes) and passes[i][0] == 2:
            post.append(passes[i][1:])
            i += 1
        calls.append((axis, (pre, line, post)))
    return calls


def _box_chain(
    src3: np.ndarray, out3: np.ndarray, ops: list[tuple[tuple[float, ...], bool]]
) -> None:
    """Box minimum/maximum filters in sequence, ``src3 -> out3`` (3D, C-contiguous)."""
    calls = _box_calls(ops, src3.shape)
    if not calls:
        out3[...] = src3
        return
    nz, ny, nx = src3.shape
    scratch = np.empty_like(out3) if len(calls) > 1 else out3
    cur = src3
    for i, (axis, call) in enumerate(calls):
        dst = out3 if (len(calls) - 1 - i) % 2 == 0 else scratch
        if axis == 1:
            _box_call(cur, dst, call)
        else:
            _box_call(cur.reshape(1, nz, ny * nx), dst.reshape(1, nz, ny * nx), call)
        cur = dst


# ---------------------------------------------------------------------------
# Chains of filters (disk: minimum passes on possibly order-reversed data)
# ---------------------------------------------------------------------------


def _run_chain(src3: np.ndarray, out3: np.ndarray, steps: list[tuple]) -> None:
    """Run row-minimum passes ``(half-widths, flip_in, flip_out)`` in turn, ``src3 -> out3``.

    One scratch buffer is used; destinations alternate so no pass reads what it writes.
    """
    scratch = np.empty_like(out3) if len(steps) > 1 else out3
    cur = src3
    for i, (hw, flip_in, flip_out) in enumerate(steps):
        dst = out3 if (len(steps) - 1 - i) % 2 == 0 else scratch
        _rows_min(cur, dst, hw, flip_in, flip_out)
        cur = dst


def _disk_steps(
    ops: list[tuple[tuple[float, ...], bool]], shape3: tuple[int, int, int]
) -> list[tuple]:
    """Disk filters ``(radius, use_max)`` as row-minimum passes.

    A maximum is a minimum of the order-reversed image, reversed back; reversals between
    two filters cancel or merge into the passes' input/output.
    """
    steps: list[tuple] = []
    for i, (radius, use_max) in enumerate(ops):
        flip_in = use_max if i == 0 else False
        following = ops[i + 1][1] if i + 1 < len(ops) else False
        flip_out = use_max != following
        hw = _clipped_halfwidths(radius, "disk", shape3)
        steps.append((hw, flip_in, flip_out))
    return steps


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _filter_chain(
    image: np.ndarray, shape: str, ops: list[tuple[RadiusLike, bool]]
) -> np.ndarray:
    """Apply minimum (``use_max=False``) / maximum filters ``(radius, use_max)`` in turn."""
    check_shape(shape)
    src = as_supported(image)
    out = np.empty_like(src)
    if src.size == 0:
        return out
    src3, out3 = _as3d(src), _as3d(out)
    resolved = [(normalize_radius(radius, src.ndim), use_max) for radius, use_max in ops]
    if shape == "box":
        _box_chain(src3, out3, resolved)
    else:
        _run_chain(src3, out3, _disk_steps(resolved, src3.shape))
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
    return _filter_chain(image, shape, [(radius, False)])


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
    return _filter_chain(image, shape, [(radius, True)])


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
    drad = radius if dilation_radius is None else dilation_radius
    return _filter_chain(image, shape, [(radius, False), (drad, True)])
