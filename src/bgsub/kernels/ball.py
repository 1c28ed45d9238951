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
``rho``.  The 2D (3D) erosion is the minimum over the O(r) (O(r^2)) rows
("caps") of 1D erosions of the input rows by these caps; an input row's
erosion by a cap is computed once and min-ed into the two (four) output rows
it serves.  Output rows are processed in blocks (one per thread, ``prange``),
so memory beyond the output is a few row buffers per thread plus one float32
per 16 output pixels.

Candidates.  Pixels that cannot win are dropped before a row is eroded: pixel
``b`` goes when, on each side, some neighbour within ``K <= 32`` pixels is
lower by at least the cap's cost increase ``c(k) - c(0)`` at its distance
``k`` (tested in tiers of distances against a sparse table of minima).  Such a
neighbour is at least as good as ``b`` everywhere on its side of ``b``, for
every cap at least ``K`` wide.  For noisy images 85-90 % of the pixels go.  A
row's list is built for each reach it needs, and only when the blocks still
to erode repay it.

1D erosion.  One of three exact methods per row and cap, chosen by a cost model:

* direct: the minimum over the ``2 w + 1`` offsets, vectorised (four offsets
  per pass, ping-pong buffers); O(w) per pixel with a tiny constant, best for
  narrow rows;
* gather: for each block of 16 output pixels, the minimum over the candidates
  within reach of it, with the 16 lanes held in vector registers (a small
  LLVM IR intrinsic); O(w * candidate density) per pixel, and it erodes only
  the blocks that are needed;
* envelope: the lower envelope of the candidates' translated semicircles,
  restricted to their windows.  Two translates cross at most once, so a stack
  (the convex-hull trick with expiry, as in Felzenszwalb-Huttenlocher) builds
  it in O(1) amortised time per pixel.  The crossing of two equal circles has a
  closed form; when it falls within rounding of an integer the integer
  switch-over point is settled by direct comparison, so the result is exact
  for the tabulated costs.

Lower bounds (rows at least 18 pixels wide).  Every cap costs at least
``off = min_d c_cap(d) - c_central(d)`` more than the central cap at the same
offset, so an input row's erosion by that cap is at least its erosion by the
central cap, ``E0``, plus ``off`` (minus a slack that covers rounding, so the
skipping is exact).  A block of 16 output pixels needs the cap only where
``E0 + off`` is below the output's current value: first tested on block
summaries (the minimum of ``E0``, an upper bound of the output's maximum),
then pixel by pixel.  For the outputs to be nearly final when tested, the
input rows are swept twice: forward, serving the output rows before each
input row (in (z, y) order) and the row itself (with ``E0``), then backward,
serving those after it.  For noisy images 90-95 % of the blocks are skipped.

So the time per pixel is at most O(r) row operations in 2D (O(r^2) in 3D)
whatever the radius, small radii run the vectorised direct minimum, and with
the lower bounds the time on typical images grows much more slowly than r.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from bgsub._axes import per_axis

__all__ = ["ball_erosion", "ball_dilation", "ball_opening", "ball_support"]

#: Relative slack when testing ``q(o) <= 1`` so that offsets lying exactly on
#: the ellipsoid's surface (e.g. (3, 4) for radius 5) are kept despite rounding.
_SUPPORT_TOL = 1e-12


# ----------------------------------------------------------------------------
# Parameter handling
# ----------------------------------------------------------------------------


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
    radii = per_axis(radius, ndim, "radius")
    h = _normalize_height(radii, height)
    half = [int(math.floor(r * math.sqrt(1.0 + _SUPPORT_TOL))) for r in radii]
    grids = np.meshgrid(*[np.arange(-f, f + 1) for f in half], indexing="ij")
    q = np.zeros(grids[0].shape)
    for g, r in zip(grids, radii, strict=True):
        q = q + (g / r) ** 2
    footprint = q <= 1.0 + _SUPPORT_TOL
    structure = np.where(footprint, h * np.sqrt(np.clip(1.0 - q, 0.0, None)) - h, -np.inf)
    return footprint, structure


# ----------------------------------------------------------------------------
# Method choice (cost model) and candidate pruning
# ----------------------------------------------------------------------------

#: Pixels per block of the output row: the unit of the gather method and of
#: the lower-bound test (the gather intrinsic is written for 16 float64 lanes).
_BLOCK = 16

#: Estimated costs (ns, development machine: AVX2 x86-64) used to pick each
#: row's method: gather per (candidate, block) and per block; envelope per
#: candidate and per pixel; direct per (pixel, offset).
_COST_GATHER = (1.6, 16.0)
_COST_ENVELOPE = (16.0, 1.5)
_COST_DIRECT = 0.09

#: Rows at most this wide never use the envelope.
_ENVELOPE_MIN_WIDTH = 12

#: The lower-bound skipping (two sweeps) is used when the ellipsoid has at
#: least ``_BOUNDS_MIN_ROWS`` rows (cross-sections) besides the central one
#: and the central row is at least ``_BOUNDS_MIN_WIDTH`` pixels wide on each
#: side: it saves erosion work only where rows are wide enough for the gather
#: method, and costs a second sweep.
_BOUNDS_MIN_ROWS = 8
_BOUNDS_MIN_WIDTH = 18

#: Testing hooks: force one method for every row (0 = cost model, 1 = direct,
#: 2 = gather, 3 = envelope), the lower-bound skipping (-1 = automatic, 0 = off,
#: 1 = on) and the candidate pruning (False = keep every pixel).
_FORCE_METHOD = 0
_FORCE_BOUNDS = -1
_PRUNE = True

#: Pruning tiers: tier ``t`` compares the lowest neighbour at distances
#: ``_TIER_LO[t].._TIER_HI[t]`` on each side (read from the sparse table of
#: minima over windows of ``2 ** _TIER_LEVEL[t]`` pixels) against the margin at
#: ``_TIER_HI[t]``.  Group 1 (reach 1) uses tier 0; group ``g >= 2`` (reach
#: ``2 ** (g - 1)``) uses tiers ``1 .. g - 1``.
_TIER_LEVEL = (0, 1, 1, 2, 3, 4)
_TIER_LO = (1, 1, 3, 5, 9, 17)
_TIER_HI = (1, 2, 4, 8, 16, 32)

#: Number of candidate groups: group 0 keeps every pixel (rows of width 0,
#: pruning off, or a row whose own list would not pay off), group ``g >= 1``
#: prunes with reach ``2 ** (g - 1)``.
_NGROUPS = len(_TIER_HI) + 1

#: Estimated cost (ns per pixel) of building a candidate list: a base plus one
#: term per tier (see :func:`_erode_row` for when a list is built).
_COST_CANDIDATES = (1.5, 0.5)

#: A closed-form switch-over point this close to an integer is re-checked by
#: direct comparison (the closed form is accurate to ~1e-11 pixels).
_NEAR_INTEGER = 1e-6


def _group_of(w: int) -> int:
    """Candidate group of a row of half-width ``w``: the largest reach ``<= w``."""
    if w <= 0 or not _PRUNE:
        return 0
    return min(_NGROUPS - 1, int(w).bit_length())


# ----------------------------------------------------------------------------
# Block primitives (16 pixels) written as LLVM IR
# ----------------------------------------------------------------------------
# numba's own loops do not keep a block of accumulators in vector registers, nor
# vectorise short reductions, so these few primitives are emitted as IR on
# <4 x double> vectors (four per block).  Minima are ``a < b ? a : b``; no NaN
# reaches them except from ``-inf + inf`` at a window edge in the gather, which
# that form ignores.

_LANES = 4
_NVEC = _BLOCK // _LANES


def _rows_ok(*arrays, dtypes=(types.float64,)):
    """Whether every argument is a C-contiguous 1D array of one of ``dtypes``.

    The IR walks raw pointers, so anything else must fail to type.
    """
    return all(
        isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and a.dtype in dtypes
        for a in arrays
    )


def _ir_data(context, builder, arrty, value):
    """Pointer to the first element of a numba array value."""
    return context.make_array(arrty)(context, builder, value).data


def _ir_load(builder, base, index, k, dtype):
    """Lanes ``index + 4 k .. + 3`` of a float32/float64 array as ``<4 x double>``."""
    elem = ir.FloatType() if dtype == types.float32 else ir.DoubleType()
    ptr = builder.gep(base, [builder.add(index, ir.Constant(index.type, k * _LANES))])
    vec = builder.load(builder.bitcast(ptr, ir.VectorType(elem, _LANES).as_pointer()), align=4)
    if dtype == types.float32:
        vec = builder.fpext(vec, ir.VectorType(ir.DoubleType(), _LANES))
    return vec


def _ir_store(builder, base, index, k, dtype, vec):
    """Store ``<4 x double>`` into lanes ``index + 4 k ..`` (rounded for float32)."""
    elem = ir.FloatType() if dtype == types.float32 else ir.DoubleType()
    if dtype == types.float32:
        vec = builder.fptrunc(vec, ir.VectorType(elem, _LANES))
    ptr = builder.gep(base, [builder.add(index, ir.Constant(index.type, k * _LANES))])
    builder.store(vec, builder.bitcast(ptr, ir.VectorType(elem, _LANES).as_pointer()), align=4)


def _ir_splat(builder, value):
    """``<4 x double>`` with every lane ``value``."""
    vty = ir.VectorType(value.type, _LANES)
    i32 = ir.IntType(32)
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    mask = ir.Constant(ir.VectorType(i32, _LANES), [0] * _LANES)
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), mask)


def _ir_min(builder, a, b):
    """``a < b ? a : b`` lane by lane."""
    return builder.select(builder.fcmp_ordered("<", a, b), a, b)


def _ir_max(builder, a, b):
    """``a > b ? a : b`` lane by lane."""
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


def _ir_hreduce(builder, vec, op):
    """Reduce the lanes of ``vec`` with ``op`` (``_ir_min``/``_ir_max``) to a scalar."""
    acc = builder.extract_element(vec, ir.Constant(ir.IntType(32), 0))
    for lane in range(1, _LANES):
        acc = op(builder, acc, builder.extract_element(vec, ir.Constant(ir.IntType(32), lane)))
    return acc


@intrinsic
def _gather_block(typingctx, cpos, cval, i0, i1, ctab, base, res, x0):  # pragma: no cover
    """``res[x0 + l] = min_{i0 <= i < i1} cval[i] + ctab[base - cpos[i] + l]`` for ``l < 16``.

    The sixteen lanes stay in four vector accumulators across the loop over
    candidates.  All arrays are float64 except ``cpos`` (int64).
    """
    if not (_rows_ok(cpos, dtypes=(types.int64,)) and _rows_ok(cval, ctab, res)):
        return None
    sig = types.void(cpos, cval, types.intp, types.intp, ctab, types.intp, res, types.intp)

    def codegen(context, builder, signature, args):
        cpos_v, cval_v, i0_v, i1_v, ctab_v, base_v, res_v, x0_v = args
        argtys = signature.args
        pos_ptr = _ir_data(context, builder, argtys[0], cpos_v)
        val_ptr = _ir_data(context, builder, argtys[1], cval_v)
        tab_ptr = _ir_data(context, builder, argtys[4], ctab_v)
        res_ptr = _ir_data(context, builder, argtys[6], res_v)
        vty = ir.VectorType(ir.DoubleType(), _LANES)
        inf = ir.Constant(vty, [math.inf] * _LANES)
        accs = [cgutils.alloca_once_value(builder, inf) for _ in range(_NVEC)]
        one = ir.Constant(i0_v.type, 1)
        with cgutils.for_range_slice(builder, i0_v, i1_v, one, inc=True) as (i, _):
            b = builder.load(builder.gep(pos_ptr, [i]))
            vv = _ir_splat(builder, builder.load(builder.gep(val_ptr, [i])))
            at = builder.sub(base_v, b)
            for k in range(_NVEC):
                t = builder.fadd(vv, _ir_load(builder, tab_ptr, at, k, types.float64))
                builder.store(_ir_min(builder, t, builder.load(accs[k])), accs[k])
        for k in range(_NVEC):
            _ir_store(builder, res_ptr, x0_v, k, types.float64, builder.load(accs[k]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _block_any_below(typingctx, lower, off, dst, x0):  # pragma: no cover
    """Whether ``lower[x] + off < dst[x]`` for some ``x0 <= x < x0 + 16``.

    ``lower`` is float64, ``dst`` float32 or float64 (compared in float64).
    """
    if not (_rows_ok(lower) and _rows_ok(dst, dtypes=(types.float32, types.float64))):
        return None
    sig = types.boolean(lower, types.float64, dst, types.intp)

    def codegen(context, builder, signature, args):
        lower_v, off_v, dst_v, x0_v = args
        argtys = signature.args
        low_ptr = _ir_data(context, builder, argtys[0], lower_v)
        dst_ptr = _ir_data(context, builder, argtys[2], dst_v)
        offs = _ir_splat(builder, off_v)
        hit = None
        for k in range(_NVEC):
            a = builder.fadd(_ir_load(builder, low_ptr, x0_v, k, types.float64), offs)
            d = _ir_load(builder, dst_ptr, x0_v, k, argtys[2].dtype)
            c = builder.fcmp_ordered("<", a, d)
            hit = c if hit is None else builder.or_(hit, c)
        bits = builder.bitcast(hit, ir.IntType(_LANES))
        return builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(_LANES), 0))

    return sig, codegen


@intrinsic
def _block_min_into(typingctx, dst, res, x0):  # pragma: no cover
    """``dst[x] = min(dst[x], res[x])`` for ``x0 <= x < x0 + 16``; return the block's new maximum.

    ``res`` is float64; a float32 ``dst`` gets ``res`` rounded to nearest
    first, so the result is exact after rounding (rounding is monotone).
    """
    if not (_rows_ok(res) and _rows_ok(dst, dtypes=(types.float32, types.float64))):
        return None
    sig = types.float64(dst, res, types.intp)

    def codegen(context, builder, signature, args):
        dst_v, res_v, x0_v = args
        argtys = signature.args
        dst_ptr = _ir_data(context, builder, argtys[0], dst_v)
        res_ptr = _ir_data(context, builder, argtys[1], res_v)
        dtype = argtys[0].dtype
        top = None
        for k in range(_NVEC):
            r = _ir_load(builder, res_ptr, x0_v, k, types.float64)
            if dtype == types.float32:  # round first, then compare
                r = builder.fpext(builder.fptrunc(r, ir.VectorType(ir.FloatType(), _LANES)), r.type)
            m = _ir_min(builder, r, _ir_load(builder, dst_ptr, x0_v, k, dtype))
            _ir_store(builder, dst_ptr, x0_v, k, dtype, m)
            top = m if top is None else _ir_max(builder, top, m)
        return _ir_hreduce(builder, top, _ir_max)

    return sig, codegen


@intrinsic
def _block_min(typingctx, src, x0):  # pragma: no cover
    """``min(src[x0:x0 + 16])`` of a float64 array."""
    if not _rows_ok(src):
        return None
    sig = types.float64(src, types.intp)

    def codegen(context, builder, signature, args):
        src_v, x0_v = args
        ptr = _ir_data(context, builder, signature.args[0], src_v)
        low = None
        for k in range(_NVEC):
            v = _ir_load(builder, ptr, x0_v, k, types.float64)
            low = v if low is None else _ir_min(builder, low, v)
        return _ir_hreduce(builder, low, _ir_min)

    return sig, codegen


@intrinsic
def _lowest_bit(typingctx, word):  # pragma: no cover
    """Index of the lowest set bit of a non-zero uint64 (``llvm.cttz``)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [i64, ir.IntType(1)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return sig, codegen


# ----------------------------------------------------------------------------
# 1D erosion of one row by one cap
# ----------------------------------------------------------------------------


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
def _min_shift(src, dst, half):  # pragma: no cover - numba
    """``dst[p] = min(src[p], src[p + half])`` (``src[p]`` where ``p + half`` is past the end)."""
    size = src.shape[0]
    for p in range(size - half):
        a = src[p]
        b = src[p + half]
        dst[p] = a if a < b else b
    for p in range(max(size - half, 0), size):
        dst[p] = src[p]


@njit(cache=True, nogil=True, error_model="numpy")
def _tier_minima(row, done, levels, mins):  # pragma: no cover - numba
    """``mins[j - 1, p] = min(row[p : p + 2 ** j])`` for ``done < j <= levels``."""
    if done < 1 <= levels:
        _min_shift(row, mins[0], 1)
    if done < 2 <= levels:
        _min_shift(mins[0], mins[1], 2)
    if done < 3 <= levels:
        _min_shift(mins[1], mins[2], 4)
    if done < 4 <= levels:
        _min_shift(mins[2], mins[3], 8)


@njit(cache=True, nogil=True, error_model="numpy")
def _candidates(
    row, pad, n, mins, margins, group, cpos, cval, first, ar, al, keep
):  # pragma: no cover - numba
    """Keep the pixels of ``row[pad:pad + n]`` that may win some erosion; return their count.

    With ``K = 2 ** (group - 1)`` the reach and ``m[k] = margins[k]``, pixel
    ``b`` is dropped when some neighbour ``g[b + k]``, ``1 <= k <= K``, has
    ``g[b + k] + m[k] <= g[b]`` *and* likewise some ``g[b - k]`` on the left
    (an edge pixel needs no cover on its outer side, but one side must have a
    real one).  The tiers of the group (see ``_TIER_LO``) bound this from the
    safe side: a tier tests its lowest neighbour against its largest margin,
    and ``ar``/``al`` collect ``min over tiers of (lowest + margin)``.

    For every cap whose increments ``c(k) - c(0)`` are at most ``m[k]`` and
    whose half-width is at least ``K``, that right neighbour is at least as
    good as ``b`` at every ``x >= b`` in ``b``'s window (closer, or within
    ``k`` at a cost no higher than ``g[b] + c(0)``), and the left one at every
    ``x <= b``.  The margins exceed those increments by four ulps of the
    largest finite value involved (:func:`_cap_tables`), so the neighbour's
    sums stay at or below ``b``'s after rounding, and ``g[b + k] < g[b]`` for
    finite values (the tests ``< inf`` and ``g[b] > -inf`` cover the
    infinite ones); chains of dropped pixels therefore end at a kept one, and
    every erosion value is attained by a kept pixel.

    ``mins`` holds the row's sparse-table minima (:func:`_tier_minima`) up to
    the group's last level; the row needs at least ``K`` pixels of ``+inf``
    padding on each side.  Fills ``cpos``/``cval`` with the kept positions and
    values and ``first[x]`` (``0 <= x <= n``) with the index of the first kept
    pixel at or after ``x``; ``ar``/``al`` (float64) and ``keep`` (uint8),
    length ``n``, are scratch.
    """
    g = row[pad : pad + n]
    for x in range(n):
        ar[x] = np.inf
        al[x] = np.inf
    for t in range(0 if group == 1 else 1, group):
        level = _TIER_LEVEL[t]
        m = margins[_TIER_HI[t]]
        src = row if level == 0 else mins[level - 1]
        _lower_margin(src[pad + _TIER_LO[t] : pad + _TIER_LO[t] + n], m, ar)
        _lower_margin(src[pad - _TIER_HI[t] : pad - _TIER_HI[t] + n], m, al)
    for x in range(n):
        gb = g[x]
        r = ar[x]
        u = al[x]
        covered = (r <= gb) & (r < np.inf) & (u <= gb) & (u < np.inf) & (gb > -np.inf)
        keep[x] = not covered
    if n > 1:  # an edge pixel needs no cover on its outer side
        keep[0] = not ((ar[0] <= g[0]) & (ar[0] < np.inf) & (g[0] > -np.inf))
        keep[n - 1] = not ((al[n - 1] <= g[n - 1]) & (al[n - 1] < np.inf) & (g[n - 1] > -np.inf))
    nk = 0
    for b in range(n):
        first[b] = nk
        cpos[nk] = b
        cval[nk] = g[b]
        nk += keep[b]
    first[n] = nk
    return nk


@njit(cache=True, nogil=True, error_model="numpy")
def _lower_margin(nb, m, acc):  # pragma: no cover - numba
    """``acc[x] = min(acc[x], nb[x] + m)`` (``+ 0``: see :func:`_min_row`)."""
    for x in range(acc.shape[0]):
        v = nb[x] + m
        a = acc[x]
        acc[x] = (v if v < a else a) + 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_gather(cpos, cval, first, n, ctab, base, w, blocks, nb, res):  # pragma: no cover - numba
    """Gather method: ``res`` on the blocks ``blocks[:nb]``, from the candidates.

    For each block ``[x0, x0 + 16)`` only the candidates within ``w`` of it take
    part (``first`` gives their index range) and ``ctab`` is the row's cost
    table padded with ``+inf`` (``ctab[base + d] = cs(d)``), so no lane needs
    a window test.  O(candidates within reach) per block, vectorised.
    """
    for i in range(nb):
        x0 = blocks[i] * _BLOCK
        i0 = first[max(x0 - w, 0)]
        i1 = first[min(x0 + _BLOCK + w, n)]
        _gather_block(cpos, cval, i0, i1, ctab, base + x0, res, x0)


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
def _erode_line_brute(row, pad, n, costs, dz, dy, w, buf_a, buf_b):  # pragma: no cover - numba
    """Direct erosion of ``row[pad:pad + n]`` (padded with ``+inf``); return where it is.

    The cap is ``cs = costs[dz, dy, P - w : P + w + 1]`` (``P`` the table's
    half-length), read in place.

    Takes four offsets per pass over the line and ping-pongs between two
    buffers, so the inner loop vectorises without masked stores.  Returns
    whether the result ended in ``buf_b`` (else ``buf_a``), first ``n`` values.
    """
    cs = costs[dz, dy]
    off = (costs.shape[2] - 1) // 2 - w
    base = pad - w
    m = 2 * w + 1
    first = row[base : base + n]
    c = cs[off]
    for x in range(n):
        buf_a[x] = first[x] + c
    src = buf_a
    dst = buf_b
    swapped = False
    k = 1
    while k + 4 <= m:
        c0 = cs[off + k]
        c1 = cs[off + k + 1]
        c2 = cs[off + k + 2]
        c3 = cs[off + k + 3]
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
        swapped = not swapped
        k += 4
    while k < m:
        c = cs[off + k]
        s0 = row[base + k : base + k + n]
        for x in range(n):
            v = s0[x] + c
            o = src[x]
            dst[x] = v if v < o else o
        src, dst = dst, src
        swapped = not swapped
        k += 1
    return swapped


# ----------------------------------------------------------------------------
# nD driver
# ----------------------------------------------------------------------------


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
def _min_row(dst, res, n):  # pragma: no cover - numba
    """``dst = minimum(dst, res)`` over a row; exact after rounding to ``dst``'s dtype.

    The ``+ 0`` (an identity here: no value is ``-0``) keeps the compiler from
    turning the update into a masked store, so the loop vectorises.
    """
    for x in range(n):
        v = res[x]
        o = dst[x]
        dst[x] = (v if v < o else o) + 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _round_up32(value):  # pragma: no cover - numba
    """The smallest float32 that is ``>= value``."""
    up = np.float32(value)
    if np.float64(up) < value:
        up = np.nextafter(up, np.float32(np.inf))
    return up


@njit(cache=True, nogil=True, error_model="numpy")
def _update_target(dst, res, blocks, nb, top, n):  # pragma: no cover - numba
    """Min ``res`` into ``dst`` on the blocks ``blocks[:nb]``; refresh their maxima ``top``.

    ``top`` is float32, rounded up (an upper bound is all the test needs).
    """
    nfull = n // _BLOCK
    for i in range(nb):
        blk = blocks[i]
        x0 = blk * _BLOCK
        if blk < nfull:
            top[blk] = _round_up32(_block_min_into(dst, res, x0))
        else:
            high = -np.inf
            for x in range(x0, n):
                if res[x] < dst[x]:
                    dst[x] = res[x]
                high = max(high, np.float64(dst[x]))
            top[blk] = _round_up32(high)


@njit(cache=True, nogil=True, error_model="numpy")
def _flag_live(lower, lower_min, off, dst, top, live, blocks, nb, maybe, n):  # pragma: no cover
    """List the blocks where ``lower + off < dst`` somewhere in ``blocks``; return their count.

    New blocks are appended after ``blocks[:nb]``; ``live`` flags the blocks
    already listed.  A block is first dismissed when
    ``min(lower) + off >= max(dst)`` (``top`` holds upper bounds of the
    blocks' maxima; this pass vectorises into the byte mask ``maybe``), the
    rest are tested pixel by pixel.
    """
    nblk = top.shape[0]
    for blk in range(nblk):
        maybe[blk] = lower_min[blk] + off < top[blk]
    nfull = n // _BLOCK
    words = maybe.view(np.uint64)
    for wi in range(words.shape[0]):
        word = words[wi]
        while word != 0:
            blk = wi * 8 + (_lowest_bit(word) >> 3)
            word &= word - np.uint64(1)
            if live[blk]:
                continue
            x0 = blk * _BLOCK
            if blk < nfull:
                hit = _block_any_below(lower, off, dst, x0)
            else:
                hit = False
                for x in range(x0, n):
                    hit |= lower[x] + off < dst[x]
            if hit:
                live[blk] = 1
                blocks[nb] = blk
                nb += 1
    return nb


@njit(cache=True, nogil=True, error_model="numpy")
def _block_minima(src, n, out):  # pragma: no cover - numba
    """``out[blk] = min(src[16 blk : 16 (blk + 1)])`` (the last block stops at ``n``)."""
    nfull = n // _BLOCK
    for blk in range(out.shape[0]):
        x0 = blk * _BLOCK
        if blk < nfull:
            out[blk] = _block_min(src, x0)
        else:
            low = np.inf
            for x in range(x0, n):
                low = min(low, src[x])
            out[blk] = low


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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _direct_first(method, w, nlive, n, no_list):  # pragma: no cover - numba
    """Whether a row goes straight to the direct method, before any candidate list.

    Forced, of width 0, or (without a list yet) cheaper than a gather would
    be even at a low candidate density (1 / 4).  Checked by the caller, so
    that the common narrow rows skip :func:`_erode_row`'s long argument list.
    """
    force = method[0]
    if force == 1:
        return True
    if force != 0:
        return False
    cost_direct = (2 * w + 1) * n * method[6]
    gather_low = nlive * ((2 * w + _BLOCK) * method[2] / 4 + method[3])
    return w == 0 or (no_list and cost_direct <= gather_low)


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_row(
    row, pad, n, dz, dy, ws, rhos, costs, ctabs, inv_s, method, margins, groups,
    mins, levels_done, cpos, cval, first, nks, debt, ar, al, keep, blocks, nlive, res, buf, qa, qg,
    qt,
):  # pragma: no cover - numba
    """Erode the loaded row by the cap ``(dz, dy)`` into ``res`` on the blocks ``blocks[:nlive]``.

    Picks the cheapest of the direct, gather and envelope methods for this row
    (``method`` = force, bounds, gather/envelope/direct/candidate cost
    constants, envelope minimum width).  The row's candidate list for the
    cap's group (``nks[g] < 0``: not built yet) is built once the extra gather
    work of doing without it, summed over the row's caps of that group in
    ``debt[g]``, would exceed its cost (at most twice the better choice in
    hindsight); always when a method is forced.  Without it every pixel is a
    candidate (group 0; the row itself serves as ``cval[0]``).  Returns the
    sparse-table levels built so far.  Direct and envelope fill every block
    of ``res``.
    """
    w = ws[dz, dy]
    pad_c = (costs.shape[2] - 1) // 2
    g = groups[dz, dy]
    force = method[0]
    cost_direct = (2 * w + 1) * n * method[6]
    if _direct_first(method, w, nlive, n, nks[g] < 0):
        use = 1
    else:
        if nks[g] < 0:
            ntiers = 1 if g == 1 else g - 1
            build = n * (method[8] + method[9] * ntiers)
            debt[g] += nlive * (2 * w + _BLOCK) * method[2] * 0.7
            if force != 0 or debt[g] > build:
                need = _TIER_LEVEL[g - 1]
                if need > levels_done:
                    _tier_minima(row, levels_done, need, mins)
                    levels_done = need
                nks[g] = _candidates(
                    row, pad, n, mins, margins[g], g, cpos[g], cval[g], first[g], ar, al, keep
                )
            else:
                g = 0
        nk = nks[g]
        reach = nk * (2 * w + _BLOCK) / n
        cost_gather = nlive * (reach * method[2] + method[3])
        cost_env = nk * method[4] + n * method[5] if w > method[7] else np.inf
        if force == 2:
            use = 2
        elif force == 3:
            use = 3
        elif cost_direct <= cost_gather and cost_direct <= cost_env:
            use = 1
        elif cost_gather <= cost_env:
            use = 2
        else:
            use = 3
    if use == 1:
        if _erode_line_brute(row, pad, n, costs, dz, dy, w, res, buf):
            res[:n] = buf[:n]
    elif use == 2:
        values = row[pad : pad + n] if g == 0 else cval[g]
        _erode_gather(
            cpos[g], values, first[g], n, ctabs[dz, dy], _BLOCK + pad_c, w, blocks, nlive, res
        )
    else:
        values = row[pad : pad + n] if g == 0 else cval[g]
        cs = costs[dz, dy, pad_c - w : pad_c + w + 1]
        _erode_line_envelope(
            cpos[g], values, nk, cs, w, rhos[dz, dy], inv_s, res[:n], qa, qg, qt
        )
    return levels_done


@njit(cache=True, nogil=True, error_model="numpy")
def _erode_block(
    img32, img64, out32, out64, sign, widths, rhos, costs, ctabs, offs, groups, inv_s,
    method, margins, slack, block,
):  # pragma: no cover - numba
    """Erode the output rows ``[z0, z1) x [y0, y1)`` (``block``) of the output.

    The image is ``img64`` if it is non-empty, else ``img32``; likewise the
    output (one compiled kernel serves all dtype combinations).  Input rows
    are loaded times ``sign`` and padded with ``+inf``; the output rows start
    at ``+inf`` and receive the minimum of the row erosions that reach them.

    Without lower bounds (``method[1] == 0``) one sweep over the input rows
    erodes each row by every cap and mins the result into every output row it
    serves.  With them, two sweeps: the forward one serves the output rows
    before the input row in (z, y) order and the row itself (its erosion by
    the central cap, ``E0``), the backward one those after it.  Every cap
    costs at least ``offs[dz, dy]`` more than the central one at the same
    offset, so its erosion is at least ``E0 + offs - slack`` (``slack`` covers
    rounding).  A block of 16 output pixels is eroded and updated only where
    that bound is below the output row's current value; by then the output
    rows hold their own ``E0`` and the erosions of every input row already
    swept, so for typical images most blocks are skipped.  The test is cheap:
    first against the block's minimum of ``E0`` and the block's maximum of the
    output row (kept in ``tops``), then pixel by pixel.
    """
    in64 = img64.size > 0
    out64_used = out64.size > 0
    nz, ny, nx = img64.shape if in64 else img32.shape
    z0, z1, y0, y1 = block
    fz = widths.shape[0] - 1
    fy = widths.shape[1] - 1
    pad_c = (costs.shape[2] - 1) // 2
    pad = max(pad_c, _TIER_HI[len(_TIER_HI) - 1])
    nblk = (nx + _BLOCK - 1) // _BLOCK
    n16 = nblk * _BLOCK
    row = np.full(nx + 2 * pad, np.inf)
    line = row[pad : pad + nx]
    res = np.full(n16, np.inf)
    e0 = np.full(n16, np.inf)
    e0_min = np.empty(nblk)
    buf = np.empty(n16)
    mins = np.empty((4, nx + 2 * pad))
    cpos = np.empty((_NGROUPS, nx), dtype=np.int64)
    cval = np.empty((_NGROUPS, nx))
    first = np.empty((_NGROUPS, nx + 1), dtype=np.int64)
    nks = np.empty(_NGROUPS, dtype=np.int64)
    debt = np.empty(_NGROUPS)
    ar = np.empty(nx)
    al = np.empty(nx)
    keep = np.empty(nx, dtype=np.uint8)
    cpos[0] = np.arange(nx)
    first[0] = np.arange(nx + 1)
    live = np.zeros(nblk, dtype=np.uint8)
    maybe = np.zeros(-(-nblk // 8) * 8, dtype=np.uint8)
    blocks = np.empty(nblk, dtype=np.int64)
    all_blocks = np.arange(nblk)
    qa = np.empty(nx, dtype=np.int64)
    qg = np.empty(nx)
    qt = np.empty(nx, dtype=np.int64)
    use_bounds = method[1] > 0
    tops = np.full((z1 - z0, y1 - y0, nblk if use_bounds else 0), np.inf, dtype=np.float32)
    if out64_used:
        _fill_rows(out64, z0, z1, y0, y1, sign, True)
    else:
        _fill_rows(out32, z0, z1, y0, y1, sign, True)
    k_lo = max(0, z0 - fz)
    j_lo = max(0, y0 - fy)
    n_j = min(ny, y1 + fy) - j_lo
    nrows = (min(nz, z1 + fz) - k_lo) * n_j
    tz = np.empty(4, dtype=np.int64)
    ty = np.empty(4, dtype=np.int64)
    zero = np.int64(0)  # not a literal 0: keeps callees to one compiled signature
    for sweep in range(2 if use_bounds else 1):
        for idx in range(nrows):
            r = idx if sweep == 0 else nrows - 1 - idx
            k = k_lo + r // n_j
            j = j_lo + r % n_j
            loaded = False
            have_e0 = False
            levels = zero
            for dz in range(fz + 1):
                for dy in range(fy + 1):
                    w = widths[dz, dy]
                    if w < 0:
                        break
                    central = dz == 0 and dy == 0
                    # the output rows this cap serves in this sweep
                    nt = 0
                    for side_z in range(1 if dz == 0 else 2):
                        zt = k - dz if side_z == 0 else k + dz
                        for side_y in range(1 if dy == 0 else 2):
                            yt = j - dy if side_y == 0 else j + dy
                            if not (z0 <= zt < z1 and y0 <= yt < y1):
                                continue
                            before = zt < k or (zt == k and yt < j)
                            if use_bounds and (before or central) != (sweep == 0):
                                continue
                            tz[nt] = zt
                            ty[nt] = yt
                            nt += 1
                    if nt == 0:
                        continue
                    if not loaded:
                        _load_row(img32, img64, in64, k, j, sign, line)
                        nks[:] = -1
                        nks[0] = nx
                        debt[:] = 0.0
                        loaded = True
                    if use_bounds and not have_e0:  # the central cap's erosion: the bound
                        w0 = widths[0, 0]
                        if _direct_first(method, w0, nblk, nx, nks[groups[0, 0]] < 0):
                            if _erode_line_brute(row, pad, nx, costs, zero, zero, w0, e0, buf):
                                e0[:nx] = buf[:nx]
                        else:
                            levels = _erode_row(
                                row, pad, nx, zero, zero, widths, rhos, costs, ctabs, inv_s,
                                method, margins, groups, mins, levels, cpos, cval, first, nks,
                                debt, ar, al, keep, all_blocks, nblk, e0, buf, qa, qg, qt,
                            )
                        _block_minima(e0, nx, e0_min)
                        have_e0 = True
                    if use_bounds and central:
                        for t in range(nt):
                            top = tops[tz[t] - z0, ty[t] - y0]
                            if out64_used:
                                _update_target(out64[tz[t], ty[t]], e0, all_blocks, nblk, top, nx)
                            else:
                                _update_target(out32[tz[t], ty[t]], e0, all_blocks, nblk, top, nx)
                        continue
                    if use_bounds:
                        off = offs[dz, dy] - slack
                        nlive = zero
                        for t in range(nt):
                            top = tops[tz[t] - z0, ty[t] - y0]
                            if out64_used:
                                nlive = _flag_live(
                                    e0, e0_min, off, out64[tz[t], ty[t]], top, live, blocks,
                                    nlive, maybe, nx,
                                )
                            else:
                                nlive = _flag_live(
                                    e0, e0_min, off, out32[tz[t], ty[t]], top, live, blocks,
                                    nlive, maybe, nx,
                                )
                        for i in range(nlive):
                            live[blocks[i]] = 0
                        if nlive == 0:
                            continue
                        todo = blocks
                    else:
                        nlive = nblk
                        todo = all_blocks
                    result = res
                    if _direct_first(method, w, nlive, nx, nks[groups[dz, dy]] < 0):
                        if _erode_line_brute(row, pad, nx, costs, dz, dy, w, res, buf):
                            result = buf
                    else:
                        levels = _erode_row(
                            row, pad, nx, dz, dy, widths, rhos, costs, ctabs, inv_s, method,
                            margins, groups, mins, levels, cpos, cval, first, nks, debt, ar, al,
                            keep, todo, nlive, res, buf, qa, qg, qt,
                        )
                    for t in range(nt):
                        if use_bounds:
                            top = tops[tz[t] - z0, ty[t] - y0]
                            if out64_used:
                                _update_target(out64[tz[t], ty[t]], result, todo, nlive, top, nx)
                            else:
                                _update_target(out32[tz[t], ty[t]], result, todo, nlive, top, nx)
                        elif out64_used:
                            _min_row(out64[tz[t], ty[t]], result, nx)
                        else:
                            _min_row(out32[tz[t], ty[t]], result, nx)
    if out64_used:
        _fill_rows(out64, z0, z1, y0, y1, sign, False)
    else:
        _fill_rows(out32, z0, z1, y0, y1, sign, False)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _erode_nd(
    img32, img64, out32, out64, sign, widths, rhos, costs, ctabs, offs, groups, inv_s,
    method, margins, slack, bz, by,
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
            img32, img64, out32, out64, sign, widths, rhos, costs, ctabs, offs, groups, inv_s,
            method, margins, slack, block,
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


def _cap_tables(
    widths: np.ndarray, costs: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-cap tables for the kernel.

    ``scale`` bounds the magnitude of every finite value the kernel adds or
    compares (largest finite pixel plus largest cost): four of its ulps are
    added to the pruning margins, so that a dropped pixel is beaten by more
    than rounding (the comparisons are exact, not merely within an ulp), and
    pruning is off when it is not finite or beyond ``1e300``.

    Returns
    -------
    ctabs : ndarray of float64, shape (fz + 1, fy + 1, 2 * (P + _BLOCK) + 1)
        ``costs`` padded with ``_BLOCK`` more ``+inf`` on each side (gather method).
    offs : ndarray of float64, shape (fz + 1, fy + 1)
        ``min_d costs[dz, dy, d] - costs[0, 0, d]`` over the cap's window: how much
        more every cap costs than the central one (``+inf`` for empty rows).
    groups : ndarray of int64, shape (fz + 1, fy + 1)
        Candidate group of each cap (see :func:`_group_of`).
    margins : ndarray of float64, shape (_NGROUPS, 33)
        ``margins[g, k]``: the largest ``c(k) - c(0)`` over the caps of group ``g``,
        plus ``4 * spacing(scale)`` for ``k >= 1``.
    """
    pad = (costs.shape[2] - 1) // 2
    ctabs = np.pad(costs, ((0, 0), (0, 0), (_BLOCK, _BLOCK)), constant_values=np.inf)
    offs = np.full(widths.shape, np.inf)
    groups = np.zeros(widths.shape, dtype=np.int64)
    kmax = _TIER_HI[-1]
    margins = np.zeros((_NGROUPS, kmax + 1))
    for (dz, dy), w in np.ndenumerate(widths):
        if w < 0:
            continue
        window = slice(pad - w, pad + w + 1)
        offs[dz, dy] = float(np.min(costs[dz, dy, window] - costs[0, 0, window]))
        g = _group_of(int(w)) if math.isfinite(scale) and scale <= 1e300 else 0
        groups[dz, dy] = g
        reach = min(int(w), kmax)
        inc = costs[dz, dy, pad : pad + reach + 1] - costs[dz, dy, pad]
        margins[g, : reach + 1] = np.maximum(margins[g, : reach + 1], inc)
    if math.isfinite(scale):
        margins[:, 1:] += 4.0 * np.spacing(scale)
    return ctabs, offs, groups, margins


def _max_abs_finite(image: np.ndarray) -> float:
    """The largest absolute value among the finite pixels (0 if none)."""
    m = max(abs(float(image.max())), abs(float(image.min())))
    if math.isfinite(m):
        return m
    a = np.abs(image)
    return float(np.max(a, where=np.isfinite(a), initial=0.0))


def _morph(
    image: np.ndarray,
    radius: float | Sequence[float],
    height: float | None,
    sign: float,
    out_dtype: np.dtype | None = None,
) -> np.ndarray:
    """Shared implementation of erosion (``sign=1``) and dilation (``sign=-1``)."""
    image = _check_image(image)
    radii = per_axis(radius, image.ndim, "radius")
    h = _normalize_height(radii, height)
    widths, rhos, costs = _row_profiles(radii, h, image.shape)
    img3 = image if image.ndim == 3 else image[np.newaxis]
    out = np.empty(img3.shape, dtype=image.dtype if out_dtype is None else out_dtype)
    if image.size:
        bz, by = _block_shape(img3.shape[0], img3.shape[1])
        scale = _max_abs_finite(img3) + float(costs[costs < np.inf].max())
        ctabs, offs, groups, margins = _cap_tables(widths, costs, scale)
        nrows = int((widths >= 0).sum()) - 1
        bounds = nrows >= _BOUNDS_MIN_ROWS and widths[0, 0] >= _BOUNDS_MIN_WIDTH
        if _FORCE_BOUNDS >= 0:
            bounds = bool(_FORCE_BOUNDS)
        method = np.array(
            [_FORCE_METHOD, bounds, *_COST_GATHER, *_COST_ENVELOPE, _COST_DIRECT,
             _ENVELOPE_MIN_WIDTH, *_COST_CANDIDATES],
            dtype=np.float64,
        )
        slack = 2.0**-49 * scale + 1e-300
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
            ctabs,
            offs,
            groups,
            inv_s,
            method,
            margins,
            slack,
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
